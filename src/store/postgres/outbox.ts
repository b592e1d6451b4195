import { truncate, type Outbox } from '../types.js'
import type { Database } from './database.js'
import { rows, type PgOutboxRow } from './rows.js'
import * as SQL from './sql.js'

/** The outbox on PostgreSQL: a message is flushed when added; claims and their outcome are the worker's bookkeeping. */
export function postgresOutbox (db: Database): Outbox {
  return {
    leaseOwners: async () => (await db.query<{ owner: string }>(SQL.OUTBOX_OWNERS)).map(o => o.owner),
    releaseAll: async owner => await db.workRowsChanged(SQL.OUTBOX_RELEASE_ALL, [owner]),
    add: async (key, kind, payload) => await db.rowsChanged(SQL.OUTBOX_ADD, [key, kind, JSON.stringify(payload)]) === 1,
    async claim (owner, limit, leaseMs, kinds) {
      return (await db.workQuery<PgOutboxRow>(SQL.OUTBOX_CLAIM, [owner, limit, leaseMs, kinds])).map(rows.outboxItem)
    },
    sent: async l => await db.workRowsChanged(SQL.OUTBOX_SENT, [l.alertId, l.token]) === 1,
    retry: async (l, delayMs, error) => await db.workRowsChanged(SQL.OUTBOX_RETRY, [l.alertId, l.token, delayMs, truncate(error)]) === 1
  }
}
