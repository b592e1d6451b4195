import type Database from 'better-sqlite3'
import type { ActionLogEntry, AlertState, BreachAlert, ExposureDetails, Finish, NewStep, StepChange, UserOutcome } from '../../alerts/types.js'
import { newId } from '../ids.js'
import { truncate, type InsertResult, type Lease } from '../types.js'
import { refusedTakeover } from '../shared/queue.js'
import type { SqliteOutboxRow, SqliteRow, SqliteStepRow } from './rows.js'

/**
 * Every write the SQLite store makes, as plain data: the store's writer thread receives a batch of these
 * and runs them in one immediate transaction (one fsync), each in its own savepoint so one failing write
 * does not undo the others. Webhook inserts and the worker's transitions share the group commit.
 */
export type WriteOp =
  | { op: 'insert', row: InsertRow }
  | { op: 'claim', owner: string, limit: number, leaseMs: number }
  | { op: 'renew', owner: string, leaseMs: number }
  | { op: 'finish', lease: Lease, result: Finish }
  | { op: 'retry', lease: Lease, delayMs: number, error: string, actions: ActionLogEntry[] }
  | { op: 'kill', lease: Lease, reason: string, actions: ActionLogEntry[], outcome?: string, users?: UserOutcome[] }
  | { op: 'release', lease: Lease, refund: boolean }
  | { op: 'releaseAll', owner: string, note: string, refund: boolean }
  | { op: 'replay', ids: readonly string[] | 'dead' }
  | { op: 'expedite' }
  | { op: 'shiftDue', deltaMs: number }
  | { op: 'wait', lease: Lease, dueInMs: number, users: UserOutcome[], actions: ActionLogEntry[], note: string }
  | { op: 'takeover', alertId: string, owner: string, leaseMs: number }
  | { op: 'plan', lease: Lease, steps: NewStep[] }
  | { op: 'stepUpdate', lease: Lease, stepId: number, change: StepChange }
  | { op: 'kvPutIfAbsent', key: string, value: string }
  | { op: 'outboxAdd', key: string, kind: string, payload: string }
  | { op: 'outboxClaim', owner: string, limit: number, leaseMs: number }
  | { op: 'outboxSent', lease: Lease }
  | { op: 'outboxRetry', lease: Lease, delayMs: number, error: string }
  | { op: 'kvSet', key: string, value: string | undefined }
  | { op: 'exposurePut', exposureId: string, details: ExposureDetails }
  | { op: 'purge', olderThanMs: number, limit: number }

export type OpResult = { ok: true, value: unknown } | { ok: false, error: string }

export interface BatchOutcome {
  results: OpResult[]
  /** New (non-duplicate, non-test) alerts or alerts made due now: the worker should look. */
  wake: boolean
  inserts: number
}

/**
 * An alert as the columns of its row, flattened on the calling thread: a flat object of strings and numbers
 * crosses to the writer thread faster than the nested alert would.
 */
export interface InsertRow {
  key: string
  test: 0 | 1
  exposureId: string | null
  email: string | null
  usernameHash: string | null
  customData: string | null
  exposureDate: string | null
  hadPassword: 0 | 1
  passwordType: number | null
  passwordTypeName: string | null
  exposureDetails: string | null
  extra: string | null
  warnings: string | null
  sourceIp: string | null
}

export function insertRow (alert: BreachAlert, sourceIp: string | undefined): InsertRow {
  return {
    key: alert.idempotencyKey,
    test: alert.test ? 1 : 0,
    exposureId: alert.exposureId ?? null,
    email: alert.email ?? null,
    usernameHash: alert.usernameHash ?? null,
    customData: alert.customData ?? null,
    exposureDate: alert.exposureDate ?? null,
    hadPassword: alert.hadPassword ? 1 : 0,
    passwordType: alert.passwordType ?? null,
    passwordTypeName: alert.passwordTypeName ?? null,
    exposureDetails: alert.exposureDetails === undefined ? null : JSON.stringify(alert.exposureDetails),
    extra: alert.extra === undefined ? null : JSON.stringify(alert.extra),
    warnings: alert.warnings.length === 0 ? null : JSON.stringify(alert.warnings),
    sourceIp: sourceIp ?? null
  }
}

/** Does this op's success leave work due now? */
function wakes (op: WriteOp, value: unknown): boolean {
  switch (op.op) {
    case 'insert': { const r = value as InsertResult; return !r.duplicate && !r.test }
    case 'release': return value === true
    case 'releaseAll': return (value as number) > 0
    case 'replay': return (value as string[]).length > 0
    case 'expedite': return (value as number) > 0
    case 'takeover': return false
    default: return false
  }
}

export function createOperations (db: Database.Database): (ops: readonly WriteOp[], at: number) => BatchOutcome {
  const s = {
    insert: db.prepare(`INSERT INTO alerts (id, idempotency_key, test, state, received_at, updated_at, exposure_id, email,
        username_hash, custom_data, exposure_date, had_password, password_type, password_type_name, exposure_details, extra,
        warnings, source_ip, last_delivery_at, due_at, outcome, completed_at)
      VALUES (@id, @key, @test, @state, @now, @now, @exposureId, @email, @usernameHash, @customData, @exposureDate, @hadPassword,
        @passwordType, @passwordTypeName, @exposureDetails, @extra, @warnings, @sourceIp, @now, @dueAt, @outcome, @completedAt)
      ON CONFLICT (idempotency_key) DO NOTHING`),
    duplicate: db.prepare(`UPDATE alerts SET deliveries = deliveries + 1, last_delivery_at = ?
      WHERE idempotency_key = ? RETURNING id, test`),
    event: db.prepare('INSERT INTO alert_events (alert_seq, at, state, note) VALUES (?, ?, ?, ?)'),
    eventById: db.prepare('INSERT INTO alert_events (alert_seq, at, state, note) SELECT seq, ?, ?, ? FROM alerts WHERE id = ?'),
    // The claim names its partial index: without statistics the planner would walk alerts_state instead.
    claim: db.prepare(`UPDATE alerts SET state = 'processing', lease_owner = @owner, lease_token = lease_token + 1,
        due_at = @until, attempts = attempts + 1, updated_at = @now
      WHERE seq IN (SELECT seq FROM alerts INDEXED BY alerts_due WHERE due_at <= @now ORDER BY due_at LIMIT @limit)
      RETURNING *`),
    renew: db.prepare(`UPDATE alerts INDEXED BY alerts_leased SET due_at = @until
      WHERE lease_owner = @owner AND state = 'processing'`),
    finish: db.prepare(`UPDATE alerts SET state = 'done', outcome = @outcome, users = @users, actions = @actions,
        lease_owner = NULL, due_at = NULL, completed_at = @now, updated_at = @now, last_error = NULL
      WHERE id = @id AND lease_token = @token AND state = 'processing' RETURNING seq, state`),
    retry: db.prepare(`UPDATE alerts SET state = 'retrying', due_at = @due, last_error = @error, actions = @actions,
        lease_owner = NULL, updated_at = @now
      WHERE id = @id AND lease_token = @token AND state = 'processing' RETURNING seq, state`),
    kill: db.prepare(`UPDATE alerts SET state = 'dead', outcome = @outcome, users = coalesce(@users, users), last_error = @error, actions = @actions,
        lease_owner = NULL, due_at = NULL, completed_at = @now, updated_at = @now
      WHERE id = @id AND lease_token = @token AND state = 'processing' RETURNING seq, state`),
    release: db.prepare(`UPDATE alerts SET state = CASE WHEN attempts - @refund > 0 THEN 'retrying' ELSE 'queued' END,
        attempts = attempts - @refund, due_at = @now, lease_owner = NULL, updated_at = @now
      WHERE id = @id AND lease_token = @token AND state = 'processing' RETURNING seq, state`),
    leasedBy: db.prepare(`SELECT id, lease_token AS token FROM alerts INDEXED BY alerts_leased
      WHERE lease_owner = ? AND state = 'processing'`),
    replayOne: db.prepare(`UPDATE alerts SET state = 'queued', attempts = 0, due_at = @now, outcome = NULL,
        last_error = NULL, completed_at = NULL, updated_at = @now
      WHERE id = @id AND state = 'dead' AND purged_at IS NULL RETURNING id, seq`),
    replaySteps: db.prepare(`UPDATE steps SET state = 'pending', detail = 'replayed after: ' || coalesce(detail, 'failure'), due_at = @now, updated_at = @now
      WHERE alert_seq = @seq AND state = 'failed'`),
    shiftDue: db.prepare('UPDATE alerts INDEXED BY alerts_due SET due_at = due_at + ? WHERE due_at IS NOT NULL'),
    expedite: db.prepare(`UPDATE alerts INDEXED BY alerts_due SET due_at = @now, updated_at = @now
      WHERE due_at > @now AND state = 'retrying'`),
    deadIds: db.prepare('SELECT id FROM alerts WHERE state = \'dead\' AND purged_at IS NULL ORDER BY seq'),
    wait: db.prepare(`UPDATE alerts SET state = 'waiting', due_at = @due, users = @users, actions = @actions,
        lease_owner = NULL, updated_at = @now
      WHERE id = @id AND lease_token = @token AND state = 'processing' RETURNING seq, state`),
    takeover: db.prepare(`UPDATE alerts SET state = 'processing', lease_owner = @owner, lease_token = lease_token + 1,
        due_at = @until, updated_at = @now
      WHERE id = @id AND NOT (state = 'processing' AND due_at > @now) AND purged_at IS NULL RETURNING *`),
    exists: db.prepare('SELECT 1 FROM alerts WHERE id = ?'),
    leased: db.prepare('SELECT seq FROM alerts WHERE id = ? AND lease_token = ? AND state = \'processing\''),
    planStep: db.prepare(`INSERT INTO steps (alert_seq, user_id, tenant_id, email, action, phase, due_at, state, detail, result, updated_at)
      VALUES (@alertSeq, @userId, @tenantId, @email, @action, @phase, @due, @state, @detail, @result, @now)
      ON CONFLICT (alert_seq, user_id, action) DO NOTHING`),
    stepsOf: db.prepare('SELECT * FROM steps WHERE alert_seq = ? ORDER BY seq'),
    hasSteps: db.prepare('SELECT 1 FROM steps WHERE alert_seq = ? LIMIT 1'),
    stepUpdate: db.prepare(`UPDATE steps SET state = @state, detail = @detail, http_status = @httpStatus,
        result = coalesce(@result, result), undo = coalesce(@undo, undo), updated_at = @now
      WHERE seq = @stepId AND alert_seq = @alertSeq`),
    putIfAbsent: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
    outboxAdd: db.prepare(`INSERT INTO outbox (key, kind, payload, created_at, due_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (key) DO NOTHING`),
    outboxClaim: db.prepare(`UPDATE outbox SET lease_owner = @owner, lease_token = lease_token + 1, due_at = @until,
        attempts = attempts + 1
      WHERE seq IN (SELECT seq FROM outbox INDEXED BY outbox_due WHERE due_at <= @now ORDER BY due_at LIMIT @limit)
      RETURNING key, kind, payload, attempts, created_at, lease_owner, lease_token`),
    outboxSent: db.prepare(`UPDATE outbox SET sent_at = @now, due_at = NULL, lease_owner = NULL, last_error = NULL
      WHERE key = @key AND lease_token = @token AND sent_at IS NULL`),
    outboxRetry: db.prepare(`UPDATE outbox SET due_at = @due, lease_owner = NULL, last_error = @error
      WHERE key = @key AND lease_token = @token AND sent_at IS NULL`),
    purgeSteps: db.prepare('DELETE FROM steps WHERE alert_seq = ?'),
    putExposure: db.prepare(`INSERT INTO exposures (exposure_id, details, fetched_at) VALUES (?, ?, ?)
      ON CONFLICT (exposure_id) DO UPDATE SET details = excluded.details, fetched_at = excluded.fetched_at`),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    delMeta: db.prepare('DELETE FROM meta WHERE key = ?'),
    purgeable: db.prepare(`SELECT seq FROM alerts INDEXED BY alerts_finished
      WHERE completed_at IS NOT NULL AND purged_at IS NULL AND completed_at <= ? LIMIT ?`),
    purgeEvents: db.prepare('DELETE FROM alert_events WHERE alert_seq = ?'),
    purgeRow: db.prepare(`UPDATE alerts SET email = NULL, username_hash = NULL, custom_data = NULL, exposure_details = NULL,
        extra = NULL, warnings = NULL, source_ip = NULL, users = NULL, actions = NULL, last_error = NULL, purged_at = @now
      WHERE seq = @seq`)
  }

  /** A lease-guarded state change that records the state it produced. */
  function transition (stmt: Database.Statement, lease: Lease, at: number, params: Record<string, unknown>, note: string): boolean {
    const row = stmt.get({ id: lease.alertId, token: lease.token, now: at, ...params }) as { seq: number, state: AlertState } | undefined
    if (row !== undefined) s.event.run(row.seq, at, row.state, note)
    return row !== undefined
  }

  function insert (row: InsertRow, at: number): InsertResult {
    const id = newId(at)
    const test = row.test === 1
    // Test alerts need no remediation: they are stored already finished with outcome `test`.
    const info = s.insert.run({
      id,
      key: row.key,
      test: row.test,
      state: test ? 'done' : 'queued',
      now: at,
      exposureId: row.exposureId,
      email: row.email,
      usernameHash: row.usernameHash,
      customData: row.customData,
      exposureDate: row.exposureDate,
      hadPassword: row.hadPassword,
      passwordType: row.passwordType,
      passwordTypeName: row.passwordTypeName,
      exposureDetails: row.exposureDetails,
      extra: row.extra,
      warnings: row.warnings,
      sourceIp: row.sourceIp,
      dueAt: test ? null : at,
      outcome: test ? 'test' : null,
      completedAt: test ? at : null
    })
    if (info.changes === 1) return { id, duplicate: false, test }
    const dup = s.duplicate.get(at, row.key) as { id: string, test: number }
    return { id: dup.id, duplicate: true, test: dup.test === 1 }
  }

  function execute (op: WriteOp, at: number): unknown {
    switch (op.op) {
      case 'insert': return insert(op.row, at)
      case 'claim': {
        const rows = s.claim.all({ owner: op.owner, until: at + op.leaseMs, now: at, limit: op.limit }) as Array<SqliteRow & { planned?: boolean }>
        for (const r of rows) {
          s.event.run(r.seq, at, 'processing', `attempt ${r.attempts} by ${op.owner}`)
          r.planned = s.hasSteps.get(r.seq) !== undefined
        }
        return rows
      }
      case 'renew': return s.renew.run({ owner: op.owner, until: at + op.leaseMs }).changes
      case 'finish': return transition(s.finish, op.lease, at, {
        outcome: op.result.outcome, users: JSON.stringify(op.result.users), actions: JSON.stringify(op.result.actions)
      }, op.result.note ?? `outcome ${op.result.outcome}`)
      case 'retry': return transition(s.retry, op.lease, at, { due: at + op.delayMs, error: truncate(op.error), actions: JSON.stringify(op.actions) }, truncate(op.error))
      case 'kill': return transition(s.kill, op.lease, at, {
        error: truncate(op.reason), actions: JSON.stringify(op.actions), outcome: op.outcome ?? 'failed', users: op.users === undefined ? null : JSON.stringify(op.users)
      }, truncate(op.reason))
      case 'release': return transition(s.release, op.lease, at, { refund: op.refund ? 1 : 0 }, op.refund ? 'released (attempt not counted)' : 'released')
      case 'releaseAll': {
        let n = 0
        for (const r of s.leasedBy.all(op.owner) as Array<{ id: string, token: number }>) {
          if (transition(s.release, { alertId: r.id, token: r.token, owner: op.owner }, at, { refund: op.refund ? 1 : 0 }, op.note)) n++
        }
        return n
      }
      case 'replay': {
        const targets = op.ids === 'dead' ? (s.deadIds.all() as Array<{ id: string }>).map(r => r.id) : op.ids
        const moved: string[] = []
        for (const id of targets) {
          const row = s.replayOne.get({ id, now: at }) as { seq: number } | undefined
          if (row !== undefined) {
            s.replaySteps.run({ seq: row.seq, now: at })
            s.eventById.run(at, 'queued', 'replayed', id)
            moved.push(id)
          }
        }
        return moved
      }
      case 'expedite': return s.expedite.run({ now: at }).changes
      case 'shiftDue': return s.shiftDue.run(Math.round(op.deltaMs)).changes
      case 'wait': return transition(s.wait, op.lease, at, { due: at + op.dueInMs, users: JSON.stringify(op.users), actions: JSON.stringify(op.actions) }, truncate(op.note))
      case 'takeover': {
        const row = s.takeover.get({ id: op.alertId, owner: op.owner, until: at + op.leaseMs, now: at }) as SqliteRow | undefined
        if (row === undefined) return refusedTakeover(s.exists.get(op.alertId) !== undefined)
        s.event.run(row.seq, at, 'processing', `taken over by ${op.owner}`)
        return row
      }
      case 'plan': {
        const alert = s.leased.get(op.lease.alertId, op.lease.token) as { seq: number } | undefined
        if (alert === undefined) return undefined
        for (const st of op.steps) {
          s.planStep.run({
            alertSeq: alert.seq,
            userId: st.userId,
            tenantId: st.tenantId ?? null,
            email: st.email ?? null,
            action: st.action,
            phase: st.phase,
            due: at + st.dueInMs,
            state: st.skipped === undefined ? 'pending' : 'skipped',
            detail: st.skipped ?? null,
            result: st.verdict === undefined ? null : JSON.stringify({ verdict: st.verdict }),
            now: at
          })
        }
        return s.stepsOf.all(alert.seq) as SqliteStepRow[]
      }
      case 'stepUpdate': {
        const alert = s.leased.get(op.lease.alertId, op.lease.token) as { seq: number } | undefined
        if (alert === undefined) return false
        const c = op.change
        return s.stepUpdate.run({
          stepId: op.stepId,
          alertSeq: alert.seq,
          state: c.state,
          detail: c.detail === undefined ? null : truncate(c.detail),
          httpStatus: c.httpStatus ?? null,
          result: c.result === undefined ? null : JSON.stringify(c.result),
          undo: c.undo === undefined ? null : JSON.stringify(c.undo),
          now: at
        }).changes === 1
      }
      case 'kvPutIfAbsent': return s.putIfAbsent.run(op.key, op.value).changes === 1
      case 'outboxAdd': return s.outboxAdd.run(op.key, op.kind, op.payload, at, at).changes === 1
      case 'outboxClaim': return s.outboxClaim.all({ owner: op.owner, until: at + op.leaseMs, now: at, limit: op.limit }) as SqliteOutboxRow[]
      case 'outboxSent': return s.outboxSent.run({ key: op.lease.alertId, token: op.lease.token, now: at }).changes === 1
      case 'outboxRetry': return s.outboxRetry.run({ key: op.lease.alertId, token: op.lease.token, due: at + op.delayMs, error: truncate(op.error) }).changes === 1
      case 'kvSet':
        if (op.value === undefined) s.delMeta.run(op.key)
        else s.setMeta.run(op.key, op.value)
        return undefined
      case 'exposurePut':
        s.putExposure.run(op.exposureId, JSON.stringify(op.details), at)
        return undefined
      case 'purge': {
        const seqs = (s.purgeable.all(at - op.olderThanMs, op.limit) as Array<{ seq: number }>).map(r => r.seq)
        for (const seq of seqs) {
          s.purgeEvents.run(seq)
          s.purgeSteps.run(seq)
          s.purgeRow.run({ seq, now: at })
        }
        return seqs.length
      }
    }
  }

  const one = (op: WriteOp, at: number): unknown => db.transaction(() => execute(op, at))()
  const batch = db.transaction((ops: readonly WriteOp[], at: number): BatchOutcome => {
    const out: BatchOutcome = { results: [], wake: false, inserts: 0 }
    for (const op of ops) {
      try {
        const value = one(op, at) // a savepoint: its failure leaves the rest of the batch intact
        out.results.push({ ok: true, value })
        if (wakes(op, value)) out.wake = true
      } catch (err) {
        out.results.push({ ok: false, error: (err as Error).message })
      }
      if (op.op === 'insert') out.inserts++
    }
    return out
  })
  // IMMEDIATE: take the write lock before reading, so a busy database makes us wait our turn (busy_timeout)
  // instead of failing when a read transaction cannot be upgraded.
  return (ops, at) => batch.immediate(ops, at)
}
