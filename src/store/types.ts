import type { BreachAlert, ExposureDetails } from '../intake/alert.js'

/**
 * Delivery guarantee: at-least-once. An alert acknowledged with a 2xx is on disk; the worker may run it
 * more than once (after a crash, a lost lease), so every action is idempotent.
 *
 *   queued → processing → done
 *                       → retrying → processing → …
 *                       → dead      (replay → queued)
 */
export type AlertState = 'queued' | 'processing' | 'retrying' | 'done' | 'dead'
export const ALERT_STATES: readonly AlertState[] = ['queued', 'processing', 'retrying', 'done', 'dead']

/** The alert-level outcome; `stale`, `protected`, … also appear per user in `users`. */
export type Outcome = 'actioned' | 'no-user' | 'test' | 'protected' | 'dry-run' | 'stale' | 'mixed' | 'failed'

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
  outcome: Exclude<Outcome, 'mixed' | 'failed' | 'no-user' | 'test'>
}

export interface AlertRecord {
  id: string
  test: boolean
  state: AlertState
  receivedAt: string
  updatedAt: string
  exposureId?: string
  email?: string
  usernameHash?: string
  customData?: string
  exposureDate?: string
  hadPassword: boolean
  passwordType?: number
  passwordTypeName?: string
  exposureDetails?: ExposureDetails
  extra?: Record<string, unknown>
  warnings: string[]
  sourceIp?: string
  /** How many times Enzoic delivered this alert (same idempotency key). */
  deliveries: number
  attempts: number
  nextAttemptAt?: string
  leaseOwner?: string
  leaseUntil?: string
  outcome?: Outcome
  users: UserOutcome[]
  actions: ActionLogEntry[]
  lastError?: string
  completedAt?: string
}

export interface AlertEvent {
  at: string
  state: AlertState
  note?: string
}

export interface InsertResult {
  id: string
  duplicate: boolean
  test: boolean
}

export interface ListOptions {
  state?: AlertState
  limit?: number
}

export interface Finish {
  outcome: Outcome
  users: UserOutcome[]
  actions: ActionLogEntry[]
  note?: string
}

/** The single seam to the database. Only store/ touches SQL. */
export interface AlertStore {
  /** Resolves once the alert is committed (fsync'd). Rejects with StoreUnavailableError otherwise. */
  insert (alert: BreachAlert, meta?: { sourceIp?: string }): Promise<InsertResult>
  get (id: string): AlertRecord | undefined
  events (id: string): AlertEvent[]
  list (options?: ListOptions): AlertRecord[]
  countByState (): Record<AlertState, number>
  countByOutcome (): Record<string, number>
  /** Proves the store can commit (readiness). */
  ping (): Promise<void>

  /** Leases up to `limit` due alerts (queued/retrying and due, or processing with an expired lease). */
  claim (owner: string, limit: number, leaseMs: number): AlertRecord[]
  /** When the next alert becomes due (epoch ms), undefined when none is waiting. */
  nextDueAt (): number | undefined
  finish (id: string, owner: string, result: Finish): boolean
  retry (id: string, owner: string, nextAttemptAt: number, error: string, actions: ActionLogEntry[]): boolean
  kill (id: string, owner: string, reason: string, actions: ActionLogEntry[]): boolean
  /** Gives a leased alert back, due now; `refund` un-counts the attempt (the worker paused). */
  release (id: string, owner: string, refund: boolean): boolean
  releaseAll (owner: string, refund?: boolean): number
  /** Distinct owners of current leases (a restarted bridge frees those of dead processes). */
  leaseOwners (): string[]
  /** dead → queued (attempts reset). Returns the ids moved. */
  replay (ids: readonly string[] | 'dead'): string[]
  /** Called after each committed batch that added new alerts (same process). */
  onInsert (listener: () => void): void
  /** True when another process (e.g. the CLI) committed since the last call. */
  changedElsewhere (): boolean

  /** Exposure details cache (Enzoic allows ~30 days). */
  getExposure (exposureId: string, maxAgeMs: number): ExposureDetails | undefined
  putExposure (exposureId: string, details: ExposureDetails): void

  /** Small durable key/value (e.g. `monitor sync` checkpoints). */
  getMeta (key: string): string | undefined
  setMeta (key: string, value: string | undefined): void

  close (): Promise<void>
}

/** Meta key: when the last non-breach (ignored) notification arrived and why (`webhooks test --wait`). */
export const LAST_IGNORED_KEY = 'intake.last-ignored'

export class StoreUnavailableError extends Error {
  readonly code = 'BRIDGE_STORE_UNAVAILABLE'
  constructor (cause: unknown) {
    super('the alert store cannot commit', { cause })
    this.name = 'StoreUnavailableError'
  }

  toJSON (): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, cause: (this.cause as Error | undefined)?.message }
  }
}
