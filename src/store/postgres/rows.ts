import type { AlertRecord, AlertState, Step } from '../../alerts/types.js'

/** An `alerts` row as node-postgres returns it (timestamptz → Date, jsonb → value). */
export interface PgRow {
  seq: string
  id: string
  test: boolean
  state: AlertState
  received_at: Date
  updated_at: Date
  exposure_id: string | null
  email: string | null
  username_hash: string | null
  custom_data: string | null
  exposure_date: string | null
  had_password: boolean
  password_type: number | null
  password_type_name: string | null
  exposure_details: AlertRecord['exposureDetails'] | null
  extra: Record<string, unknown> | null
  warnings: string[] | null
  source_ip: string | null
  deliveries: number
  attempts: number
  due_at: Date | null
  lease_owner: string | null
  lease_token: number
  outcome: string | null
  users: AlertRecord['users'] | null
  actions: AlertRecord['actions'] | null
  last_error: string | null
  completed_at: Date | null
  purged_at: Date | null
}

export const iso = (d: Date | null): string | undefined => d === null ? undefined : d.toISOString()
const opt = <T>(v: T | null): T | undefined => v === null ? undefined : v

export function toRecord (r: PgRow): AlertRecord {
  const waiting = r.state === 'queued' || r.state === 'retrying'
  return {
    id: r.id,
    test: r.test,
    state: r.state,
    receivedAt: iso(r.received_at)!,
    updatedAt: iso(r.updated_at)!,
    exposureId: opt(r.exposure_id),
    email: opt(r.email),
    usernameHash: opt(r.username_hash),
    customData: opt(r.custom_data),
    exposureDate: opt(r.exposure_date),
    hadPassword: r.had_password,
    passwordType: opt(r.password_type),
    passwordTypeName: opt(r.password_type_name),
    exposureDetails: opt(r.exposure_details),
    extra: opt(r.extra),
    warnings: r.warnings ?? [],
    sourceIp: opt(r.source_ip),
    deliveries: r.deliveries,
    attempts: r.attempts,
    nextAttemptAt: waiting ? iso(r.due_at) : undefined,
    leaseOwner: r.state === 'processing' ? opt(r.lease_owner) : undefined,
    leaseUntil: r.state === 'processing' ? iso(r.due_at) : undefined,
    outcome: opt(r.outcome) as AlertRecord['outcome'],
    users: r.users ?? [],
    actions: r.actions ?? [],
    lastError: opt(r.last_error),
    completedAt: iso(r.completed_at),
    purgedAt: iso(r.purged_at)
  }
}

/** A `steps` row as node-postgres returns it. */
export interface PgStepRow {
  seq: string
  user_id: string
  tenant_id: string | null
  email: string | null
  action: string
  phase: 'immediate' | 'grace'
  due_at: Date
  state: Step['state']
  detail: string | null
  http_status: number | null
  result: Record<string, unknown> | null
  undo: Record<string, unknown> | null
  updated_at: Date
}

export function toStep (r: PgStepRow): Step {
  return {
    id: Number(r.seq),
    userId: r.user_id,
    tenantId: opt(r.tenant_id),
    email: opt(r.email),
    action: r.action,
    phase: r.phase,
    dueAt: iso(r.due_at)!,
    state: r.state,
    detail: opt(r.detail),
    httpStatus: opt(r.http_status),
    result: opt(r.result),
    undo: opt(r.undo),
    updatedAt: iso(r.updated_at)!
  }
}
