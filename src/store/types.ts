import { BridgeError } from '../errors.js'
import type { ActionLogEntry, AlertEvent, AlertRecord, AlertSource, AlertState, BreachAlert, ExposureDetails, Finish, NewStep, Outcome, Step, StepChange, UserOutcome } from '../alerts/types.js'

/**
 * The store, split by role (docs/design.md §9). Every method is asynchronous; two backends implement it (SQLite,
 * the embedded default, and PostgreSQL for several replicas) and one contract suite (test/store/) proves
 * they behave the same. Only store/ touches a database.
 *
 * Delivery guarantee: at-least-once. `alerts.insert` resolves only after the alert's transaction committed;
 * the queue hands each due alert to one worker at a time under a fenced lease, and a lease that expires
 * (its holder died) makes the alert due again.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres'
  /** Where the data lives, safe to print: a file path, or a URL without its password. */
  readonly location: string
  readonly alerts: AlertRecords
  readonly queue: WorkQueue
  readonly steps: Steps
  readonly changes: ChangeFeed
  readonly kv: KeyValue
  readonly exposures: ExposureCache
  readonly outbox: Outbox
  /** Proves the store can commit now (readiness). Rejects with StoreUnavailableError. */
  ping (): Promise<void>
  /** Commits (or refuses) every insert already accepted, then closes its connections. Idempotent. */
  close (): Promise<void>
}

export interface InsertResult {
  id: string
  duplicate: boolean
  test: boolean
}

export interface ListOptions {
  state?: AlertState
  outcome?: string
  /** Alerts for this (normalised) email, by email or by its usernameHash. */
  email?: string
  /** Received at or after this instant (epoch ms). */
  since?: number
  /** Only alerts from this source. */
  source?: AlertSource
  /** Ids that start with this (lower-case hex and dashes), as git accepts abbreviated ids. */
  idPrefix?: string
  /** Default 50. */
  limit?: number
}

export interface PurgeResult {
  /** Alerts whose personal data was removed (tombstones left). */
  purged: number
  /**
   * SQLite: whether the WAL was then checkpointed and truncated, so no earlier version of the purged rows stays in
   * it (false: another process held an old snapshot; the next purge tries again). Absent on PostgreSQL.
   */
  walTruncated?: boolean
}

/** Alert records: what arrived, what became of it. */
export interface AlertRecords {
  /**
   * Stores a parsed alert; inserts that arrive together share one transaction (group commit). Resolves
   * after COMMIT; a repeated idempotency key counts a delivery on the first row and answers its id.
   * Rejects with StoreUnavailableError when the commit failed or its outcome is unknown.
   */
  insert (alert: BreachAlert, meta?: { sourceIp?: string }): Promise<InsertResult>
  get (id: string): Promise<AlertRecord | undefined>
  /** The alert's state history, oldest first (receipt included). */
  events (id: string): Promise<AlertEvent[]>
  /** Newest first. */
  list (options?: ListOptions): Promise<AlertRecord[]>
  countByState (): Promise<Record<AlertState, number>>
  countByOutcome (): Promise<Record<string, number>>
  /**
   * Removes the personal data of alerts finished more than `olderThanMs` ago, leaving a tombstone
   * (idempotency key, state, outcome, dates) so a late re-delivery stays a duplicate. What else named them goes
   * with them: their history and steps, the notify-ledger rows they hold (KV.notified), the operator messages
   * about them (their `dead` message, a digest whose window holds their completion), and any operator message
   * older than `olderThanMs`. SQLite then truncates its WAL (`walTruncated`).
   */
  purge (options: { olderThanMs: number }): Promise<PurgeResult>
  /** What finished in [from, to) (epoch ms, the store's clock), for the operator digest. */
  summary (fromMs: number, toMs: number, first: number): Promise<Summary>
}

export interface Summary {
  /** Alerts finished in the window, by outcome. */
  byOutcome: Record<string, number>
  /** The first few of them, oldest first. */
  alerts: Array<{ id: string, outcome?: string, state: AlertState, email?: string, exposureId?: string, users: UserOutcome[] }>
  /** Right now: alerts dead, and alerts waiting out a grace period. */
  dead: number
  waiting: number
}

/** A claim on one alert. Every later transition presents it; a stale holder's transition changes nothing. */
export interface Lease {
  readonly alertId: string
  /** Fencing token: grows with every claim of this alert. */
  readonly token: number
  readonly owner: string
}

export interface Claimed {
  /**
   * The alert as the worker reads it: a claim does not read back what the worker never uses (`extra`, `warnings`,
   * `users`, `sourceIp`, `lastError`, `completedAt`), which are left empty here (`alerts.get` has them).
   */
  alert: AlertRecord
  lease: Lease
  /** Its steps were planned by an earlier attempt (false: the first attempt, nothing to read back). */
  planned: boolean
}

/**
 * The remediation queue. Due times and lease expiry are computed by the database's clock from the
 * relative durations given here, so no two hosts' clocks are ever compared.
 */
export interface WorkQueue {
  /**
   * Leases up to `limit` due alerts (queued/retrying and due, or processing with an expired lease). `ahead`: alerts
   * claimed earlier still wait to run, so the store may hold the claim back a moment to share a commit.
   */
  claim (owner: string, limit: number, leaseMs: number, ahead?: boolean): Promise<Claimed[]>
  /**
   * The heartbeat: extends exactly the leases in `held` (alert and token) that are still current, and returns
   * their alert ids; with `releaseOthers`, gives back (due now, attempt not counted) any other alert leased by
   * `owner` — a claim that committed after the worker stopped waiting for it, which no one would work on.
   */
  renew (owner: string, leaseMs: number, held: readonly Lease[], releaseOthers: boolean): Promise<string[]>
  /*
   * The transitions below end an attempt. Each takes the attempt's step writes not written yet (`steps`), which it
   * writes in the same transaction under the same lease check: nothing of them when the lease is lost.
   */
  finish (lease: Lease, result: Finish, steps?: StepWrites): Promise<boolean>
  retry (lease: Lease, delayMs: number, error: string, actions: ActionLogEntry[], steps?: StepWrites): Promise<boolean>
  /** Dead: replay brings it back (failed steps become pending again). `outcome` defaults to `failed`. */
  kill (lease: Lease, reason: string, actions: ActionLogEntry[], extra?: { outcome?: Outcome, users?: UserOutcome[] }, steps?: StepWrites): Promise<boolean>
  /** Gives a leased alert back, due now; `refund` un-counts the attempt (the worker paused). */
  release (lease: Lease, refund: boolean, steps?: StepWrites): Promise<boolean>
  /** The alert's due steps are done and others are due later (a grace period): it waits until `dueInMs`. */
  wait (lease: Lease, dueInMs: number, users: UserOutcome[], actions: ActionLogEntry[], note: string, steps?: StepWrites): Promise<boolean>
  /**
   * An operator's claim (cancel, restore) on an alert in any state but under another live lease: it is
   * `processing` for `leaseMs` under `owner`, no attempt counted. `busy` when a worker holds it now.
   */
  takeover (alertId: string, owner: string, leaseMs: number): Promise<Claimed | 'busy' | undefined>
  /** Gives back every lease of `owner` (its shutdown, or a holder known to be gone), due now. */
  releaseAll (owner: string, note: string, refund: boolean): Promise<number>
  /** Distinct owners of current leases. */
  leaseOwners (): Promise<string[]>
  /** Alerts waiting for a retry become due now (FusionAuth answers again after an outage). Returns how many. */
  expedite (): Promise<number>
  /** dead → queued (attempts reset), due now. Returns the ids moved. */
  replay (ids: readonly string[] | 'dead'): Promise<string[]>
  /** Milliseconds until the next alert is due by the database's clock (≤ 0: due now); undefined when none waits. */
  nextDueIn (): Promise<number | undefined>
  /** Seconds since the oldest queued or retrying alert was received (the database's clock); undefined when none. */
  oldestQueuedAge (): Promise<number | undefined>
}

/**
 * Wakes the worker when there may be new due work: this process's commits, another process's (a replica,
 * `alerts replay` from the CLI), a reconnection after which notifications may have been missed, and a
 * slow poll as a backstop. Listeners must tolerate spurious calls.
 */
export interface ChangeFeed {
  subscribe (listener: () => void): () => void
}

/** Small durable values (e.g. `monitor sync` checkpoints). */
export interface KeyValue {
  get (key: string): Promise<string | undefined>
  /** `undefined` deletes. */
  set (key: string, value: string | undefined): Promise<void>
  /** Sets it only when absent; true when this call set it (a ledger entry claimed once, across replicas). */
  putIfAbsent (key: string, value: string): Promise<boolean>
}

/** The steps of alerts (docs/design.md §10). Changes present the alert's lease: a stale holder changes nothing. */
export interface Steps {
  /** Adds the steps not planned yet (one per alert, user and action); returns all of the alert's steps (undefined: lease lost). */
  plan (lease: Lease, steps: NewStep[]): Promise<Step[] | undefined>
  /** The alert's steps, in plan order. */
  list (alertId: string): Promise<Step[]>
  /** The alerts with a step for this user (its open and closed cases), newest first, at most `limit` (default 50). */
  alertsOfUser (userId: string, limit?: number): Promise<string[]>
  update (lease: Lease, stepId: number, change: StepChange): Promise<boolean>
  /**
   * Marks a pending step as started, right before its FusionAuth call: only under the alert's current lease AND
   * before that lease expires by the database's clock (false: the lease is lost, do not call). The marker
   * stays until the step is recorded, so an attempt that resumes the alert knows the call may have been made.
   */
  begin (lease: Lease, stepId: number): Promise<boolean>
  /** Clears the marker again (under the alert's current token): the call certainly did not take effect. */
  unbegin (lease: Lease, stepId: number): Promise<boolean>
  /**
   * `begin` for the worker's hot path, by the steps' users and actions: writes what the attempt carries (`steps`:
   * its plan on a first attempt, the results recorded since its last write), then sets the in-flight marker of each
   * step of `marks` — the one about to be called first, any others marked ahead of their calls — in one transaction,
   * under the alert's current and unexpired lease, durable before it is answered (as `begin`). False: the lease is
   * lost or expired, or a step is not pending: do not call. Nothing is written when the lease failed; what `steps`
   * carried may be when only a marker failed.
   */
  start (lease: Lease, marks: StepKey[], steps: StepWrites): Promise<boolean>
  /** One row per user and exposure (the compromised-users report), newest first. */
  report (filter: { sinceMs?: number, tenantId?: string, limit?: number }): Promise<UserExposure[]>
  /** The tenant ids of the steps (lower-case, sorted), those starting with `prefix` when given; at most `limit` (default 50). */
  tenants (prefix?: string, limit?: number): Promise<string[]>
}

/** A step of an alert named by what is unique to it there: its user and its action. */
export interface StepKey {
  userId: string
  action: string
}

/**
 * What an attempt has not written yet of its alert's steps. It rides with the attempt's next write — a step's
 * in-flight marker (`steps.start`) or the transition that ends the attempt — in the same transaction, so an
 * attempt writes its steps with the writes it has to make anyway; both backends apply it the same way.
 */
export interface StepWrites {
  /**
   * The attempt's plan when no earlier write carried it (a first attempt): every step as it stands now — a step
   * already run carries its result in `change` (its state, detail, result, undo). Steps that exist are kept.
   */
  plan?: Array<NewStep & { change?: StepChange }>
  /**
   * Steps already written: `change` records a result (the marker is cleared with it, as `update` does); without it,
   * only the marker is cleared (the call certainly did not take effect, as `unbegin`). One entry per step.
   */
  changes?: Array<StepKey & { change?: StepChange }>
}

export interface UserExposure {
  userId: string
  tenantId?: string
  email?: string
  exposureId?: string
  /** Who reported it: Enzoic, or FusionAuth's breached password detection at a login. */
  source: AlertSource
  /** The alerts that carried this exposure for this user, newest first. */
  alertIds: string[]
  firstSeen: string
  lastChange: string
  steps: Array<Pick<Step, 'action' | 'phase' | 'state' | 'detail' | 'dueAt' | 'result'>>
}

/** Messages to deliver at least once (the operator digest): kept until sent, whatever crashes meanwhile. */
export interface Outbox {
  /** Adds a message unless one with this key exists (one digest per interval, whichever replica builds it). */
  add (key: string, kind: string, payload: unknown): Promise<boolean>
  /** Leases up to `limit` due messages of these kinds, oldest due first (each consumer claims its own kinds). */
  claim (owner: string, limit: number, leaseMs: number, kinds: readonly string[]): Promise<OutboxItem[]>
  /** Delivered: never claimed again; its key stays (a repeat is still recognised), its payload is dropped. */
  sent (lease: Lease): Promise<boolean>
  retry (lease: Lease, delayMs: number, error: string): Promise<boolean>
  /** Owners of the leases on unsent messages (a process that died while delivering holds some). */
  leaseOwners (): Promise<string[]>
  /** Every unsent message leased by `owner` due now (its holder is gone); how many. */
  releaseAll (owner: string): Promise<number>
}

export interface OutboxItem {
  key: string
  kind: string
  payload: unknown
  attempts: number
  createdAt: string
  /** `alertId` here is the outbox key. */
  lease: Lease
}

/** Exposure details fetched from Enzoic (it allows caching them ~30 days). */
export interface ExposureCache {
  get (exposureId: string, maxAgeMs: number): Promise<ExposureDetails | undefined>
  put (exposureId: string, details: ExposureDetails): Promise<void>
}

/** Key/value names used by more than one module. */
export const KV = {
  /** When the last non-breach (ignored) notification arrived and why (`webhooks test --wait`). */
  lastIgnored: 'intake.last-ignored',
  /** When a webhook call was last refused for its Basic credentials, and from where (`webhooks test --wait`). */
  lastRefused: 'intake.last-refused',
  /** Readiness writes here to prove a commit. */
  ping: 'ping',
  /**
   * The notify ledger (notify-user): one row per user and exposure (the alert's id when it names none), its value
   * JSON `{"alertId": …}` naming the alert that holds it. `alerts.purge` removes the rows its alerts hold (the
   * statements build the same key from the alert's steps).
   */
  notified: (tenantId: string, userId: string, exposure: string): string => `notified:${tenantId}:${userId}:${exposure}`
} as const

/**
 * Outbox keys that name an alert or a time (the statements of `alerts.purge` read them): a message at once when
 * an alert dies, and the digest of the window starting at `fromMs` (epoch ms, 13 digits).
 */
export const OUTBOX_KEYS = {
  dead: (alertId: string, atMs: number): string => `dead:${alertId}:${atMs}`,
  digest: (fromMs: number): string => `digest:${fromMs}`
} as const

export class StoreUnavailableError extends BridgeError {
  readonly code = 'BRIDGE_STORE_UNAVAILABLE'
  constructor (cause: unknown, message = 'the alert store cannot commit') {
    super(message, { cause })
  }
}

/**
 * BRIDGE_DATABASE cannot be used as it is configured, and waiting will not change that: a path whose folder
 * cannot be created, a file this user may not open, a folder where the file should be, a password PostgreSQL
 * refuses, a database that does not exist, a TLS setting that cannot work. The message names the database and
 * the real cause, and says what to fix.
 */
export class DatabaseConfigError extends BridgeError {
  readonly code = 'BRIDGE_DATABASE_CONFIG'
}

/**
 * The database refused this row for what it holds (PostgreSQL SQLSTATE class 22, a NOT NULL or CHECK violation;
 * SQLite's equivalents): the row fails alone — the rows committed beside it are stored — and sending it again
 * cannot help. `reason` is short and names no value of the row.
 */
export class StoreDataError extends BridgeError {
  readonly code = 'BRIDGE_STORE_DATA'
  constructor (readonly reason: string, cause?: unknown) {
    super(`the alert cannot be stored: ${reason}`, { cause })
  }
}

/** The database's schema is not the one this bridge knows (newer, or older and not to be migrated here). */
export class SchemaVersionError extends BridgeError {
  readonly code = 'BRIDGE_SCHEMA_VERSION'
  constructor (readonly found: number, readonly known: number, advice: string) {
    super(`database schema version ${found} ${found > known ? 'is newer than' : 'is older than'} this bridge's (${known}): ${advice}`)
  }

  override toJSON (): Record<string, unknown> {
    return { ...super.toJSON(), found: this.found, known: this.known }
  }
}

/** Short text for the `last_error` column and event notes. */
export function truncate (text: string, max = 500): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text
}
