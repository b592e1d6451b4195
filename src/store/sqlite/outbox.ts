import type Database from 'better-sqlite3'
import { truncate, type Lease, type Outbox } from '../types.js'
import { read, type SqliteContext } from './context.js'
import { rows, type SqliteOutboxRow } from './rows.js'
import * as SQL from './sql.js'

/** The writes of the outbox, run by the writer inside the group commit. */
export function outboxWrites (db: Database.Database) {
  const s = {
    add: db.prepare(SQL.OUTBOX_ADD),
    claim: db.prepare(SQL.OUTBOX_CLAIM),
    sent: db.prepare(SQL.OUTBOX_SENT),
    retry: db.prepare(SQL.OUTBOX_RETRY),
    releaseAll: db.prepare(SQL.OUTBOX_RELEASE_ALL)
  }
  return {
    outboxAdd (op: { key: string, kind: string, payload: string }, at: number): boolean {
      return s.add.run(op.key, op.kind, op.payload, at, at).changes === 1
    },
    outboxClaim (op: { owner: string, limit: number, leaseMs: number, kinds: readonly string[] }, at: number): SqliteOutboxRow[] {
      return s.claim.all({ owner: op.owner, until: at + op.leaseMs, now: at, limit: op.limit, kinds: JSON.stringify(op.kinds) }) as SqliteOutboxRow[]
    },
    outboxSent (op: { lease: Lease }, at: number): boolean {
      return s.sent.run({ key: op.lease.alertId, token: op.lease.token, now: at }).changes === 1
    },
    outboxReleaseAll (op: { owner: string }, at: number): number {
      return s.releaseAll.run({ owner: op.owner, now: at }).changes
    },
    outboxRetry (op: { lease: Lease, delayMs: number, error: string }, at: number): boolean {
      return s.retry.run({ key: op.lease.alertId, token: op.lease.token, due: at + op.delayMs, error: truncate(op.error) }).changes === 1
    }
  }
}

/** The outbox on SQLite: every operation is a write. */
export function sqliteOutbox ({ db, write }: SqliteContext): Outbox {
  const owners = db.prepare(SQL.OUTBOX_OWNERS)
  return {
    leaseOwners: () => read(() => (owners.all() as Array<{ owner: string }>).map(o => o.owner)),
    releaseAll: owner => write({ op: 'outboxReleaseAll', owner }),
    add: (key, kind, payload) => write({ op: 'outboxAdd', key, kind, payload: JSON.stringify(payload) }),
    claim: async (owner, limit, leaseMs, kinds) => (await write({ op: 'outboxClaim', owner, limit, leaseMs, kinds })).map(rows.outboxItem),
    sent: l => write({ op: 'outboxSent', lease: l }),
    retry: (l, delayMs, error) => write({ op: 'outboxRetry', lease: l, delayMs, error })
  }
}
