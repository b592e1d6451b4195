import type { AlertEvent, AlertRecord, AlertSource, AlertState, Step } from '../../alerts/types.js'
import type { Claimed, Lease, OutboxItem } from '../types.js'

/**
 * Rows → domain objects, written once for both dialects. The tables have the same columns in SQLite and
 * PostgreSQL; only a few column types differ, and a backend names them in a `ColumnTypes` and converts them
 * with a `ColumnAdapter`:
 *
 *   | column kind | SQLite              | PostgreSQL (node-postgres)    |
 *   |-------------|---------------------|-------------------------------|
 *   | instant     | epoch ms (integer)  | timestamptz → Date            |
 *   | json        | JSON text           | jsonb → the parsed value      |
 *   | flag        | 0 / 1               | boolean                       |
 *   | seq         | integer → number    | bigint → string               |
 */
export interface ColumnTypes {
  instant: unknown
  json: unknown
  flag: unknown
  seq: unknown
}

/** Converts a backend's non-null column values to what the domain types hold. */
export interface ColumnAdapter<C extends ColumnTypes> {
  /** An instant → ISO-8601 with milliseconds (`2026-01-01T00:00:00.000Z`). */
  instant (value: C['instant']): string
  json (value: C['json']): unknown
  flag (value: C['flag']): boolean
  seq (value: C['seq']): number
}

/** An `alerts` row (`SELECT *`). */
export interface AlertRow<C extends ColumnTypes> {
  seq: C['seq']
  id: string
  test: C['flag']
  state: AlertState
  received_at: C['instant']
  updated_at: C['instant']
  exposure_id: string | null
  email: string | null
  username_hash: string | null
  custom_data: string | null
  exposure_date: string | null
  had_password: C['flag']
  password_type: number | null
  password_type_name: string | null
  exposure_details: C['json'] | null
  extra: C['json'] | null
  warnings: C['json'] | null
  source_ip: string | null
  source: string
  deliveries: number
  attempts: number
  due_at: C['instant'] | null
  lease_owner: string | null
  lease_token: number
  outcome: string | null
  users: C['json'] | null
  actions: C['json'] | null
  last_error: string | null
  completed_at: C['instant'] | null
  purged_at: C['instant'] | null
}

/** An alert row as a claim returns it: whether an earlier attempt planned its steps. */
export type ClaimedRow<C extends ColumnTypes> = AlertRow<C> & { planned: boolean }

/** A `steps` row (`SELECT *`). */
export interface StepRow<C extends ColumnTypes> {
  seq: C['seq']
  user_id: string
  tenant_id: string | null
  email: string | null
  action: string
  phase: 'immediate' | 'grace'
  due_at: C['instant']
  state: Step['state']
  detail: string | null
  http_status: number | null
  result: C['json'] | null
  undo: C['json'] | null
  /** The in-flight marker (migration 4); undefined on a database read before it ran. */
  started_at?: C['instant'] | null
  updated_at: C['instant']
}

/** A step row of the compromised-users report, with its alert's columns. */
export type ReportRow<C extends ColumnTypes> = StepRow<C> & { alert_id: string, exposure_id: string | null, alert_source: string, received_at: C['instant'] }

/** The receipt of an alert: its row's own part of the history. */
export interface ReceiptRow<C extends ColumnTypes> {
  seq: C['seq']
  received_at: C['instant']
  test: C['flag']
}

/** An `alert_events` row. */
export interface EventRow<C extends ColumnTypes> {
  at: C['instant']
  state: AlertState
  note: string | null
}

/** An `outbox` row as a claim returns it. */
export interface OutboxRow<C extends ColumnTypes> {
  key: string
  kind: string
  payload: C['json']
  attempts: number
  created_at: C['instant']
  lease_owner: string | null
  lease_token: number
}

/** One step row of the compromised-users report, with what it needs of its alert. */
export interface ReportEntry { step: Step, alertId: string, exposureId?: string, source: AlertSource, receivedAt: string }

export interface RowMapper<C extends ColumnTypes> {
  record (row: AlertRow<C>): AlertRecord
  /** The lease a claimed (or taken over) row is held under. */
  lease (row: AlertRow<C>): Lease
  claimed (row: AlertRow<C>, planned: boolean): Claimed
  step (row: StepRow<C>): Step
  /** The alert's state history: its receipt (the row itself), then its recorded events. */
  history (receipt: ReceiptRow<C>, events: Iterable<EventRow<C>>): AlertEvent[]
  reportEntry (row: ReportRow<C>): ReportEntry
  outboxItem (row: OutboxRow<C>): OutboxItem
  /** A non-null JSON column's value. */
  json<T> (value: C['json']): T
}

const optional = <T>(value: T | null): T | undefined => value === null ? undefined : value
const instantOf = <C extends ColumnTypes>(columns: ColumnAdapter<C>, value: C['instant'] | null): string | undefined =>
  value === null ? undefined : columns.instant(value)
const jsonOf = <C extends ColumnTypes, T>(columns: ColumnAdapter<C>, value: C['json'] | null, fallback: T): T =>
  value === null ? fallback : columns.json(value) as T

function toRecord<C extends ColumnTypes> (columns: ColumnAdapter<C>, r: AlertRow<C>): AlertRecord {
  const waiting = r.state === 'queued' || r.state === 'retrying'
  return {
    id: r.id,
    test: columns.flag(r.test),
    state: r.state,
    receivedAt: columns.instant(r.received_at),
    updatedAt: columns.instant(r.updated_at),
    exposureId: optional(r.exposure_id),
    email: optional(r.email),
    usernameHash: optional(r.username_hash),
    customData: optional(r.custom_data),
    exposureDate: optional(r.exposure_date),
    hadPassword: columns.flag(r.had_password),
    passwordType: optional(r.password_type),
    passwordTypeName: optional(r.password_type_name),
    exposureDetails: jsonOf(columns, r.exposure_details, undefined),
    extra: jsonOf(columns, r.extra, undefined),
    warnings: jsonOf(columns, r.warnings, []),
    sourceIp: optional(r.source_ip),
    source: r.source === 'fusionauth' ? 'fusionauth' : 'enzoic',
    deliveries: r.deliveries,
    attempts: r.attempts,
    nextAttemptAt: waiting ? instantOf(columns, r.due_at) : undefined,
    leaseOwner: r.state === 'processing' ? optional(r.lease_owner) : undefined,
    leaseUntil: r.state === 'processing' ? instantOf(columns, r.due_at) : undefined,
    outcome: optional(r.outcome) as AlertRecord['outcome'],
    users: jsonOf(columns, r.users, []),
    actions: jsonOf(columns, r.actions, []),
    lastError: optional(r.last_error),
    completedAt: instantOf(columns, r.completed_at),
    purgedAt: instantOf(columns, r.purged_at)
  }
}

function toStep<C extends ColumnTypes> (columns: ColumnAdapter<C>, r: StepRow<C>): Step {
  return {
    id: columns.seq(r.seq),
    userId: r.user_id,
    tenantId: optional(r.tenant_id),
    email: optional(r.email),
    action: r.action,
    phase: r.phase,
    dueAt: columns.instant(r.due_at),
    state: r.state,
    detail: optional(r.detail),
    httpStatus: optional(r.http_status),
    result: jsonOf(columns, r.result, undefined),
    undo: jsonOf(columns, r.undo, undefined),
    startedAt: instantOf(columns, r.started_at ?? null),
    updatedAt: columns.instant(r.updated_at)
  }
}

function toHistory<C extends ColumnTypes> (columns: ColumnAdapter<C>, receipt: ReceiptRow<C>, events: Iterable<EventRow<C>>): AlertEvent[] {
  const at = columns.instant(receipt.received_at)
  const out: AlertEvent[] = [{ at, state: 'queued', note: 'received' }]
  // A test alert is stored finished: its completion is the row too.
  if (columns.flag(receipt.test)) out.push({ at, state: 'done', note: 'test alert: no action' })
  for (const e of events) out.push({ at: columns.instant(e.at), state: e.state, note: optional(e.note) })
  return out
}

/** The one mapper of both backends, given how its columns convert. */
export function rowMapper<C extends ColumnTypes> (columns: ColumnAdapter<C>): RowMapper<C> {
  const record = (r: AlertRow<C>): AlertRecord => toRecord(columns, r)
  const step = (r: StepRow<C>): Step => toStep(columns, r)
  const lease = (r: AlertRow<C>): Lease => ({ alertId: r.id, token: r.lease_token, owner: r.lease_owner! })
  return {
    record,
    lease,
    claimed: (r, planned) => ({ alert: record(r), lease: lease(r), planned }),
    step,
    history: (receipt, events) => toHistory(columns, receipt, events),
    reportEntry: r => ({
      step: step(r),
      alertId: r.alert_id,
      exposureId: optional(r.exposure_id),
      source: r.alert_source === 'fusionauth' ? 'fusionauth' : 'enzoic',
      receivedAt: columns.instant(r.received_at)
    }),
    outboxItem: o => ({
      key: o.key,
      kind: o.kind,
      payload: columns.json(o.payload),
      attempts: o.attempts,
      createdAt: columns.instant(o.created_at),
      lease: { alertId: o.key, token: o.lease_token, owner: o.lease_owner! }
    }),
    json: <T>(value: C['json']): T => columns.json(value) as T
  }
}
