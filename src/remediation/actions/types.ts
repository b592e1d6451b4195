import type { AlertRecord, ExposureDetails, Step } from '../../alerts/types.js'
import type { Endpoint, FusionAuthGateway, FusionAuthUser } from '../../fusionauth/index.js'
import type { EventName } from '../../observability/events.js'
import type { KeyValue } from '../../store/types.js'

/** One entry of BRIDGE_ACTIONS / BRIDGE_GRACE_ACTIONS, e.g. `user-action:5d7a…`. */
export interface ActionSpec {
  /** As written, e.g. `group:<id>` — the name recorded on the step. */
  readonly label: string
  readonly name: string
  /** The id after the colon, for actions that take one. */
  readonly id?: string
}

/** What an action reads when it runs (or is undone) for one user of one alert. */
export interface ActionContext {
  /** The user as FusionAuth answered just before this run (fresh: active, groups, password state). */
  user: FusionAuthUser
  alert: AlertRecord
  /** FusionAuth: `call(endpoint, …)` for the action's own endpoints (declared in its `calls`). */
  fusionauth: Pick<FusionAuthGateway, 'call'>
  /** The id after the colon (`group:<id>` …). */
  id?: string
  /** FUSIONAUTH_ACTOR_USER_ID: the author of comments and user actions (`needs.actor`). */
  actorUserId?: string
  /** The exposure's details (fetched from Enzoic first when the action `needs.exposure` and the alert has none). */
  exposure?: ExposureDetails
  /** When the grace period ends for this user (ISO), if a grace period applies. */
  graceDeadline?: string
  /** The names of the actions due then (BRIDGE_GRACE_ACTIONS of the user's policy): what the user is told will happen. */
  graceActions?: readonly string[]
  /** The labels of the user's other actions (a comment lists what the bridge did). */
  labels: readonly string[]
  /** Durable ledger for "at most once" (notify-user). */
  kv: KeyValue
}

/**
 * A run's record: `done` carries what undo needs; `skipped` says why nothing was changed; `uncertain` says the
 * effect may have happened and must not be repeated blindly (an operator decides).
 */
export interface RunResult {
  state: 'done' | 'skipped' | 'uncertain'
  detail?: string
  httpStatus?: number
  result?: Record<string, unknown>
  undo?: Record<string, unknown>
  /** How the user changed in FusionAuth (the later steps of this run see it), e.g. `{ active: false }`. */
  userChanged?: Partial<FusionAuthUser>
}

export interface UndoResult {
  /** `undone`: FusionAuth changed back; `kept`: nothing to do or impossible (detail says which). */
  state: 'undone' | 'kept'
  detail: string
}

/** What `check` concludes about the id an action names (`group:<id>` …). */
export interface IdVerdict { ok: boolean, detail: string }

/** A typed event logged when a step of this action is done (or undone): fields alertId, userId, tenantId (+ the id). */
export interface ActionEvent { event: EventName, message: string }

/**
 * One remediation action (docs/design.md §10), declaring everything about itself: adding an action is one such
 * module, listed in index.ts, and its test. Nothing else names actions: the worker, `check`, restore, the
 * configuration and the README's API-key list all read these declarations.
 *
 * `run` and `undo` reject with FusionAuthError; the caller decides retry, pause or failure.
 */
export interface ActionModule {
  readonly name: string
  readonly description: string
  /** Takes `:<id>`: what the id names, its log field, and how `check` proves it exists. */
  readonly takesId?: {
    readonly what: string
    /** The field the action's events carry the id in, e.g. `templateId`. */
    readonly field: string
    /** `check`: a read-only call that finds the id (404 = no such thing) and what to say of the answer. */
    readonly lookup?: { readonly endpoint: Endpoint, readonly judge: (answer: Record<string, unknown>) => IdVerdict }
  }
  readonly needs?: {
    /** FUSIONAUTH_ACTOR_USER_ID (FusionAuth requires an existing author). */
    readonly actor?: boolean
    /** The exposure's title and date (text forwarded to FusionAuth): fetched from Enzoic when the alert has none. */
    readonly exposure?: boolean
  }
  /** Every FusionAuth endpoint the action calls (the API key's permissions, probed by `check`). */
  readonly calls: { readonly run: readonly Endpoint[], readonly undo?: readonly Endpoint[], readonly confirm?: readonly Endpoint[] }
  run (ctx: ActionContext): Promise<RunResult>
  /**
   * After an attempt that may have made the call without recording it (the step's in-flight marker is set):
   * read-only, does FusionAuth already show the action's effect? The result to record (`done`, with what undo
   * needs), or undefined to run the action. Without it the action simply runs again (it is idempotent).
   */
  confirm?: (ctx: ActionContext) => Promise<RunResult | undefined>
  /**
   * Its in-flight marker may be set ahead of its call, with the attempt's first marker (one durable write then
   * serves both calls): `confirm` judges by the effect alone, whoever made it, and the action keeps nothing for undo
   * — so a marker set for a call that never came cannot mislead a resumed attempt (it finds the effect, or runs).
   * An attempt that ends before the call clears it. The call is still made only while the lease is this process's.
   */
  readonly markAhead?: true
  /**
   * An operator's decision to run an `uncertain` step again (it may repeat its effect: an email twice). Absent:
   * the action never ends uncertain.
   */
  redo?: (ctx: ActionContext, step: Step) => Promise<RunResult>
  /** How to take it back; absent with `cannotUndo` saying why. */
  undo?: (ctx: ActionContext, step: Step) => Promise<UndoResult>
  readonly cannotUndo?: string
  readonly events?: { readonly done?: ActionEvent, readonly undone?: ActionEvent }
}
