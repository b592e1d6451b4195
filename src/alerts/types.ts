/**
 * The alert's domain types: what intake produces, the store keeps and remediation reads. Every layer
 * imports them from here; this module imports nothing of the bridge's own but the outcome names beside it.
 */
import type { OutcomeName, UserOutcomeName } from './outcomes.js'

export interface ExposureDetails {
  title?: string
  date?: string
  entries?: number
  domainsAffected?: number
  category?: string
  sourceURLs?: string[]
  source?: string
  passwordTypes?: unknown[]
  exposedData?: string[]
  dateAdded?: string
}

/** Who found the breach: Enzoic's monitoring, or FusionAuth's breached-password detection at a login. */
export type AlertSource = 'enzoic' | 'fusionauth'

/** A parsed breach alert: what intake stores. Holds no password material by construction. */
export interface BreachAlert {
  /** Absent: `enzoic`. */
  source?: AlertSource
  test: boolean
  idempotencyKey: string
  exposureId?: string
  /** Trimmed, lower-cased. */
  email?: string
  /** Lower-case hex SHA-256 of the email; computed from the email when Enzoic sent none. */
  usernameHash?: string
  customData?: string
  /** ISO-8601 (ms precision) or undefined when absent or unreadable. */
  exposureDate?: string
  hadPassword: boolean
  passwordType?: number
  passwordTypeName?: string
  exposureDetails?: ExposureDetails
  /** Unknown top-level keys, kept aside (secret-looking ones reduced to a marker). */
  extra?: Record<string, unknown>
  warnings: string[]
}

/**
 * Delivery guarantee: at-least-once. An alert acknowledged with a 2xx is committed; the worker may run it
 * more than once (after a crash, a lost lease), so every step is recorded as it completes and every
 * action is idempotent.
 *
 *   queued → processing → done
 *                       → retrying → processing → …
 *                       → waiting (grace period) → processing at the deadline → …
 *                       → dead      (replay → queued)
 */
export type AlertState = 'queued' | 'processing' | 'retrying' | 'waiting' | 'done' | 'dead'
export const ALERT_STATES: readonly AlertState[] = ['queued', 'processing', 'retrying', 'waiting', 'done', 'dead']

/** The alert-level outcome, derived from its users' outcomes and its steps (outcomes.ts: the names and rules). */
export type Outcome = OutcomeName

/**
 * One (matched user, action) of an alert: planned when the users are resolved, due at once or when the
 * grace period ends, recorded the moment it completes.
 */
/**
 * `uncertain`: the call may or may not have taken effect and repeating it is not harmless (an email: FusionAuth
 * may have sent it before the answer was lost). Never retried by itself; an operator decides (`alerts
 * resend-notice`).
 */
export type StepState = 'pending' | 'done' | 'skipped' | 'failed' | 'uncertain' | 'cancelled' | 'undone'
export const STEP_STATES: readonly StepState[] = ['pending', 'done', 'skipped', 'failed', 'uncertain', 'cancelled', 'undone']

export interface Step {
  id: number
  userId: string
  tenantId?: string
  email?: string
  /** The action label, e.g. `deactivate`, `user-action:<id>`, `notify-user:<templateId>`. */
  action: string
  /** `immediate` (BRIDGE_ACTIONS) or `grace` (BRIDGE_GRACE_ACTIONS, due when the grace period ends). */
  phase: 'immediate' | 'grace'
  dueAt: string
  state: StepState
  /** Why it was skipped, failed, cancelled or undone (e.g. `self-remediated`, `already inactive`). */
  detail?: string
  httpStatus?: number
  /** What FusionAuth answered that matters later, e.g. `{ actionId }`. */
  result?: Record<string, unknown>
  /** What undo needs, e.g. `{ wasActive: true }`; absent when there is nothing to undo. */
  undo?: Record<string, unknown>
  /**
   * Set right before the step's FusionAuth call and kept until it is recorded: a pending step that has it was
   * attempted by a run that ended before recording (a crash, a lost lease), so the call may have happened.
   */
  startedAt?: string
  updatedAt: string
}

export interface NewStep {
  userId: string
  tenantId?: string
  email?: string
  action: string
  phase: 'immediate' | 'grace'
  /** From now, by the store's clock. */
  dueInMs: number
  /** Planned already decided (a protected user, a dry run): recorded as `skipped` with this detail. */
  skipped?: string
  /** The user's verdict when it is not to act (`protected`, `stale`, `dry-run`, `mismatch`), kept as `result.verdict`. */
  verdict?: string
}

export interface StepChange {
  state: StepState
  detail?: string
  httpStatus?: number
  result?: Record<string, unknown>
  undo?: Record<string, unknown>
}

export interface ActionLogEntry {
  /** When the action ran (ISO). */
  at: string
  userId?: string
  tenantId?: string
  /** The action label from BRIDGE_ACTIONS, or `lookup`. */
  action: string
  status: 'ok' | 'skipped' | 'planned' | 'failed'
  httpStatus?: number
  detail?: string
}

export interface UserOutcome {
  userId: string
  tenantId?: string
  email?: string
  outcome: UserOutcomeName
  /** Why (e.g. the customData/email disagreement for `mismatch`). */
  detail?: string
}

/** A stored alert: the parsed alert (its idempotency key stays in the store) and where it stands. */
export interface AlertRecord extends Omit<BreachAlert, 'idempotencyKey' | 'source'> {
  id: string
  source: AlertSource
  state: AlertState
  receivedAt: string
  updatedAt: string
  sourceIp?: string
  /** How many times Enzoic delivered this alert (same idempotency key). */
  deliveries: number
  attempts: number
  /** Queued or retrying: when it is due. */
  nextAttemptAt?: string
  /** Processing: who holds it and until when. */
  leaseOwner?: string
  leaseUntil?: string
  outcome?: Outcome
  users: UserOutcome[]
  actions: ActionLogEntry[]
  lastError?: string
  completedAt?: string
  /** Set once retention removed its personal data (only the tombstone is left). */
  purgedAt?: string
}

export interface AlertEvent {
  at: string
  state: AlertState
  note?: string
}

/** What the worker records when it is done with an alert. */
export interface Finish {
  outcome: Outcome
  users: UserOutcome[]
  actions: ActionLogEntry[]
  note?: string
}
