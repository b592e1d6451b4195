import type { AlertRecord, AlertState, Step } from '../../alerts/types.js'

/** An `alerts` row as SQLite returns it (times in epoch ms). */
export interface Row {
  seq: number
  id: string
  test: number
  state: AlertState
  received_at: number
  updated_at: number
  exposure_id: string | null
  email: string | null
  username_hash: string | null
  custom_data: string | null
  exposure_date: string | null
  had_password: number
  password_type: number | null
  password_type_name: string | null
  exposure_details: string | null
  extra: string | null
  warnings: string | null
  source_ip: string | null
  deliveries: number
  attempts: number
  due_at: number | null
  lease_owner: string | null
  lease_token: number
  outcome: string | null
  users: string | null
  actions: string | null
  last_error: string | null
  completed_at: number | null
  purged_at: number | null
}

export const iso = (ms: number | null): string | undefined => ms === null ? undefined : new Date(ms).toISOString()
export const opt = <T>(v: T | null): T | undefined => v === null ? undefined : v
const json = <T>(v: string | null, fallback: T): T => v === null ? fallback : JSON.parse(v) as T

export function toRecord (r: Row): AlertRecord {
  const waiting = r.state === 'queued' || r.state === 'retrying'
  return {
    id: r.id,
    test: r.test === 1,
    state: r.state,
    receivedAt: iso(r.received_at)!,
    updatedAt: iso(r.updated_at)!,
    exposureId: opt(r.exposure_id),
    email: opt(r.email),
    usernameHash: opt(r.username_hash),
    customData: opt(r.custom_data),
    exposureDate: opt(r.exposure_date),
    hadPassword: r.had_password === 1,
    passwordType: opt(r.password_type),
    passwordTypeName: opt(r.password_type_name),
    exposureDetails: json(r.exposure_details, undefined),
    extra: json(r.extra, undefined),
    warnings: json(r.warnings, []),
    sourceIp: opt(r.source_ip),
    deliveries: r.deliveries,
    attempts: r.attempts,
    nextAttemptAt: waiting ? iso(r.due_at) : undefined,
    leaseOwner: r.state === 'processing' ? opt(r.lease_owner) : undefined,
    leaseUntil: r.state === 'processing' ? iso(r.due_at) : undefined,
    outcome: opt(r.outcome) as AlertRecord['outcome'],
    users: json(r.users, []),
    actions: json(r.actions, []),
    lastError: opt(r.last_error),
    completedAt: iso(r.completed_at),
    purgedAt: iso(r.purged_at)
  }
}

/** A `steps` row as SQLite returns it. */
export interface StepRow {
  seq: number
  user_id: string
  tenant_id: string | null
  email: string | null
  action: string
  phase: 'immediate' | 'grace'
  due_at: number
  state: Step['state']
  detail: string | null
  http_status: number | null
  result: string | null
  undo: string | null
  updated_at: number
}

export function toStep (r: StepRow): Step {
  return {
    id: r.seq,
    userId: r.user_id,
    tenantId: opt(r.tenant_id),
    email: opt(r.email),
    action: r.action,
    phase: r.phase,
    dueAt: iso(r.due_at)!,
    state: r.state,
    detail: opt(r.detail),
    httpStatus: opt(r.http_status),
    result: json(r.result, undefined),
    undo: json(r.undo, undefined),
    updatedAt: iso(r.updated_at)!
  }
}

/** An `outbox` row as SQLite returns it. */
export interface OutboxRow {
  key: string
  kind: string
  payload: string
  attempts: number
  created_at: number
  lease_owner: string | null
  lease_token: number
}
