import type Database from 'better-sqlite3'
import type { ActionLogEntry, AlertState, Finish, UserOutcome } from '../../alerts/types.js'
import { truncate, type Lease, type StepWrites, type WorkQueue } from '../types.js'
import { refusedTakeover } from '../shared/queue.js'
import { read, type SqliteContext } from './context.js'
import { rows, type SqliteClaimedRow, type SqliteRow } from './rows.js'
import * as SQL from './sql.js'
import { stepCarrier } from './steps.js'

/** The writes of the work queue, run by the writer inside the group commit (operations.ts). */
export function queueWrites (db: Database.Database) {
  const recordEvent = db.prepare(SQL.RECORD_EVENT)
  return { ...leaseWrites(db, recordEvent), ...transitionWrites(db, recordEvent), ...scheduleWrites(db) }
}

/** Claims, heartbeats and operators' takeovers. */
function leaseWrites (db: Database.Database, recordEvent: Database.Statement) {
  const s = {
    claim: db.prepare(SQL.CLAIM),
    hasSteps: db.prepare(SQL.HAS_STEPS),
    renewLease: db.prepare(SQL.RENEW_LEASE),
    leasedBy: db.prepare(SQL.LEASED_BY_OWNER),
    release: db.prepare(SQL.RELEASE),
    takeover: db.prepare(SQL.TAKEOVER),
    exists: db.prepare(SQL.ALERT_EXISTS)
  }
  return {
    claim (op: { owner: string, limit: number, leaseMs: number, ahead?: boolean }, at: number): SqliteClaimedRow[] {
      const claimed = s.claim.all({ owner: op.owner, until: at + op.leaseMs, now: at, limit: op.limit }) as Array<SqliteRow & { planned?: boolean }>
      for (const r of claimed) {
        recordEvent.run(r.seq, at, 'processing', `attempt ${r.attempts} by ${op.owner}`)
        r.planned = s.hasSteps.get(r.seq) !== undefined
      }
      return claimed as SqliteClaimedRow[]
    },
    renew (op: { owner: string, leaseMs: number, held: ReadonlyArray<{ alertId: string, token: number }>, releaseOthers: boolean }, at: number): string[] {
      const renewed = op.held.filter(l => s.renewLease.run({ id: l.alertId, token: l.token, until: at + op.leaseMs }).changes === 1).map(l => l.alertId)
      if (!op.releaseOthers) return renewed
      const held = new Set(op.held.map(l => `${l.alertId}/${l.token}`))
      for (const r of s.leasedBy.all(op.owner) as Array<{ id: string, token: number }>) {
        if (held.has(`${r.id}/${r.token}`)) continue
        const row = s.release.get({ id: r.id, token: r.token, now: at, refund: 1 }) as { seq: number, state: AlertState } | undefined
        if (row !== undefined) recordEvent.run(row.seq, at, row.state, 'released: its claim never reached the worker (attempt not counted)')
      }
      return renewed
    },
    takeover (op: { alertId: string, owner: string, leaseMs: number }, at: number): SqliteRow | 'busy' | undefined {
      const row = s.takeover.get({ id: op.alertId, owner: op.owner, until: at + op.leaseMs, now: at }) as SqliteRow | undefined
      if (row === undefined) return refusedTakeover(s.exists.get(op.alertId) !== undefined)
      recordEvent.run(row.seq, at, 'processing', `taken over by ${op.owner}`)
      return row
    }
  }
}

/** The lease-guarded transitions: each changes the alert only under its current token, and records the state it produced. */
function transitionWrites (db: Database.Database, recordEvent: Database.Statement) {
  const carry = stepCarrier(db)
  const s = {
    finish: db.prepare(SQL.FINISH),
    retry: db.prepare(SQL.RETRY),
    kill: db.prepare(SQL.KILL),
    release: db.prepare(SQL.RELEASE),
    wait: db.prepare(SQL.WAIT),
    leasedBy: db.prepare(SQL.LEASED_BY_OWNER)
  }
  /** The transition under the lease, its event, and the attempt's carried step writes (`steps`) in the same transaction. */
  function transition (stmt: Database.Statement, lease: Lease, at: number, params: Record<string, unknown>, note: string, steps?: StepWrites): boolean {
    const row = stmt.get({ id: lease.alertId, token: lease.token, now: at, ...params }) as { seq: number, state: AlertState } | undefined
    if (row === undefined) return false
    recordEvent.run(row.seq, at, row.state, note)
    carry(row.seq, steps, at)
    return true
  }
  return {
    finish ({ lease, result, steps }: { lease: Lease, result: Finish, steps?: StepWrites }, at: number): boolean {
      return transition(s.finish, lease, at, {
        outcome: result.outcome, users: JSON.stringify(result.users), actions: JSON.stringify(result.actions)
      }, result.note ?? `outcome ${result.outcome}`, steps)
    },
    retry (op: { lease: Lease, delayMs: number, error: string, actions: ActionLogEntry[], steps?: StepWrites }, at: number): boolean {
      const params = { due: at + op.delayMs, error: truncate(op.error), actions: JSON.stringify(op.actions) }
      return transition(s.retry, op.lease, at, params, truncate(op.error), op.steps)
    },
    kill (op: { lease: Lease, reason: string, actions: ActionLogEntry[], outcome?: string, users?: UserOutcome[], steps?: StepWrites }, at: number): boolean {
      return transition(s.kill, op.lease, at, {
        error: truncate(op.reason), actions: JSON.stringify(op.actions), outcome: op.outcome ?? 'failed', users: op.users === undefined ? null : JSON.stringify(op.users)
      }, truncate(op.reason), op.steps)
    },
    release (op: { lease: Lease, refund: boolean, steps?: StepWrites }, at: number): boolean {
      return transition(s.release, op.lease, at, { refund: op.refund ? 1 : 0 }, op.refund ? 'released (attempt not counted)' : 'released', op.steps)
    },
    wait (op: { lease: Lease, dueInMs: number, users: UserOutcome[], actions: ActionLogEntry[], note: string, steps?: StepWrites }, at: number): boolean {
      const params = { due: at + op.dueInMs, users: JSON.stringify(op.users), actions: JSON.stringify(op.actions) }
      return transition(s.wait, op.lease, at, params, truncate(op.note), op.steps)
    },
    releaseAll (op: { owner: string, note: string, refund: boolean }, at: number): number {
      let n = 0
      for (const r of s.leasedBy.all(op.owner) as Array<{ id: string, token: number }>) {
        if (transition(s.release, { alertId: r.id, token: r.token, owner: op.owner }, at, { refund: op.refund ? 1 : 0 }, op.note)) n++
      }
      return n
    }
  }
}

/** Operators' replays and expedites, and the clock's shift of every due time. */
function scheduleWrites (db: Database.Database) {
  const s = {
    deadIds: db.prepare(SQL.DEAD_IDS),
    replayAlert: db.prepare(SQL.REPLAY_ALERT),
    replaySteps: db.prepare(SQL.REPLAY_STEPS),
    recordEventById: db.prepare(SQL.RECORD_EVENT_BY_ID),
    expedite: db.prepare(SQL.EXPEDITE),
    shiftDue: db.prepare(SQL.SHIFT_DUE)
  }
  return {
    replay (op: { ids: readonly string[] | 'dead' }, at: number): string[] {
      const targets = op.ids === 'dead' ? (s.deadIds.all() as Array<{ id: string }>).map(r => r.id) : op.ids
      const moved: string[] = []
      for (const id of targets) {
        const row = s.replayAlert.get({ id, now: at }) as { seq: number } | undefined
        if (row !== undefined) {
          s.replaySteps.run({ seq: row.seq, now: at })
          s.recordEventById.run(at, 'queued', 'replayed', id)
          moved.push(id)
        }
      }
      return moved
    },
    expedite (_op: object, at: number): number {
      return s.expedite.run({ now: at }).changes
    },
    /** The wall clock jumped: due times and lease expiries move with it (clock.ts). */
    shiftDue (op: { deltaMs: number }): number {
      return s.shiftDue.run(Math.round(op.deltaMs)).changes
    }
  }
}

/** The work queue on SQLite: every change through the group commit; reads by this store's clock. */
export function sqliteQueue ({ db, write, now }: SqliteContext): WorkQueue {
  const r = {
    owners: db.prepare(SQL.LEASE_OWNERS),
    oldestQueued: db.prepare(SQL.OLDEST_QUEUED_RECEIVED_AT),
    nextDue: db.prepare(SQL.NEXT_DUE_AT)
  }
  return {
    claim: async (owner, limit, leaseMs, ahead) =>
      (await write({ op: 'claim', owner, limit, leaseMs, ahead })).map(row => rows.claimed(row, row.planned)),
    renew: (owner, leaseMs, held, releaseOthers) => write({ op: 'renew', owner, leaseMs, held: held.map(l => ({ alertId: l.alertId, token: l.token })), releaseOthers }),
    finish: (l, result, steps) => write({ op: 'finish', lease: l, result, steps }),
    retry: (l, delayMs, error, actions, steps) => write({ op: 'retry', lease: l, delayMs, error, actions, steps }),
    kill: (l, reason, actions, extra = {}, steps) => write({ op: 'kill', lease: l, reason, actions, outcome: extra.outcome, users: extra.users, steps }),
    release: (l, refund, steps) => write({ op: 'release', lease: l, refund, steps }),
    wait: (l, dueInMs, users, actions, note, steps) => write({ op: 'wait', lease: l, dueInMs, users, actions, note, steps }),
    async takeover (alertId, owner, leaseMs) {
      const row = await write({ op: 'takeover', alertId, owner, leaseMs })
      return row === undefined || row === 'busy' ? row : rows.claimed(row, true)
    },
    releaseAll: (owner, note, refund) => write({ op: 'releaseAll', owner, note, refund }),
    leaseOwners: () => read(() => (r.owners.all() as Array<{ owner: string }>).map(o => o.owner)),
    replay: ids => write({ op: 'replay', ids }),
    expedite: () => write({ op: 'expedite' }),
    oldestQueuedAge: () => read(() => {
      const t = (r.oldestQueued.get() as { t: number } | undefined)?.t
      return t === undefined ? undefined : Math.max(0, (now() - t) / 1000)
    }),
    nextDueIn: () => read(() => {
      const t = (r.nextDue.get() as { t: number | null }).t
      return t === null ? undefined : t - now()
    })
  }
}
