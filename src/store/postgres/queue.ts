import { truncate, type WorkQueue } from '../types.js'
import { refusedTakeover } from '../shared/queue.js'
import type { Database } from './database.js'
import { rows, type PgClaimedRow, type PgRow } from './rows.js'
import * as SQL from './sql.js'
import { stepWriteValues } from './steps.js'

/**
 * The work queue on PostgreSQL. Claims, renewals and the lease-guarded transitions are the worker's
 * bookkeeping (the work pool); operators' changes (takeover, replay, expedite) are flushed before they are
 * answered. Every transition is one statement that checks the lease token.
 */
export function postgresQueue (db: Database): WorkQueue {
  return {
    async claim (owner, limit, leaseMs) {
      return (await db.workQuery<PgClaimedRow>(SQL.CLAIM, [owner, limit, leaseMs])).map(row => rows.claimed(row, row.planned))
    },
    async renew (owner, leaseMs, held, releaseOthers) {
      const ids = held.map(l => l.alertId)
      const tokens = held.map(l => l.token)
      const renewed = (await db.workQuery<{ id: string }>(SQL.RENEW_HELD, [owner, leaseMs, ids, tokens])).map(r => r.id)
      if (releaseOthers) await db.workQuery(SQL.RELEASE_UNHELD, [owner, ids, tokens])
      return renewed
    },
    finish: (l, r, steps) => db.transitioned(SQL.FINISH, [l.alertId, l.token, r.outcome, JSON.stringify(r.users), JSON.stringify(r.actions),
      r.note ?? `outcome ${r.outcome}`, ...stepWriteValues(steps)]),
    retry: (l, delayMs, error, actions, steps) => db.transitioned(SQL.RETRY, [l.alertId, l.token, delayMs, truncate(error), JSON.stringify(actions),
      truncate(error), ...stepWriteValues(steps)]),
    kill: (l, reason, actions, extra = {}, steps) => db.transitioned(SQL.KILL, [l.alertId, l.token, truncate(reason), JSON.stringify(actions), truncate(reason),
      extra.outcome ?? 'failed', extra.users === undefined ? null : JSON.stringify(extra.users), ...stepWriteValues(steps)]),
    release: (l, refund, steps) => db.transitioned(SQL.RELEASE, [l.alertId, l.token, refund ? 1 : 0, refund ? 'released (attempt not counted)' : 'released',
      ...stepWriteValues(steps)]),
    wait: (l, dueInMs, users, actions, note, steps) =>
      db.transitioned(SQL.WAIT, [l.alertId, l.token, dueInMs, JSON.stringify(users), JSON.stringify(actions), truncate(note), ...stepWriteValues(steps)]),
    async takeover (alertId, owner, leaseMs) {
      const row = (await db.write<PgRow>(SQL.TAKEOVER, [alertId, owner, leaseMs]))[0]
      if (row !== undefined) return rows.claimed(row, true)
      return refusedTakeover((await db.query(SQL.ALERT_EXISTS, [alertId])).length > 0)
    },
    async releaseAll (owner, note, refund) {
      let n = 0
      for (const r of await db.query<{ id: string, lease_token: number }>(SQL.LEASED_BY_OWNER, [owner])) {
        if (await db.transitioned(SQL.RELEASE, [r.id, r.lease_token, refund ? 1 : 0, note, ...stepWriteValues(undefined)])) n++
      }
      return n
    },
    async leaseOwners () {
      return (await db.query<{ owner: string }>(SQL.LEASE_OWNERS)).map(r => r.owner)
    },
    async replay (ids) {
      return (await db.write<{ id: string }>(SQL.REPLAY, [ids === 'dead' ? null : [...ids]])).map(r => r.id)
    },
    async oldestQueuedAge () {
      const v = (await db.query<{ s: number | null }>(SQL.OLDEST_QUEUED_AGE))[0]?.s
      return v === null || v === undefined ? undefined : Math.max(0, v)
    },
    async expedite () {
      return (await db.write<{ n: number }>(SQL.EXPEDITE))[0]?.n ?? 0
    },
    async nextDueIn () {
      const v = (await db.query<{ ms: number | null }>(SQL.NEXT_DUE_IN))[0]?.ms
      return v === null || v === undefined ? undefined : v
    }
  }
}
