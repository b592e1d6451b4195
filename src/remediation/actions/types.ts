import type { AlertRecord, ExposureDetails, Step } from '../../alerts/types.js'
import type { KeyValue } from '../../store/types.js'
import type { FusionAuthGateway, FusionAuthUser, PermissionProbe } from '../fusionauth.js'

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
  gateway: FusionAuthGateway
  /** The id after the colon (`group:<id>` …). */
  id?: string
  /** FUSIONAUTH_ACTOR_USER_ID: the author of comments and user actions. */
  actorUserId?: string
  exposure?: ExposureDetails
  /** When the grace period ends for this user (ISO), if a grace period applies. */
  graceDeadline?: string
  /** The labels of the user's other actions (a comment lists what the bridge did). */
  labels: readonly string[]
  /** Durable ledger for "at most once" (notify-user). */
  kv: KeyValue
}

/** A run's record: `done` carries what undo needs; `skipped` says why nothing was changed. */
export interface RunResult {
  state: 'done' | 'skipped'
  detail?: string
  httpStatus?: number
  result?: Record<string, unknown>
  undo?: Record<string, unknown>
}

export interface UndoResult {
  /** `undone`: FusionAuth changed back; `kept`: nothing to do or impossible (detail says which). */
  state: 'undone' | 'kept'
  detail: string
}

/**
 * One remediation action (docs/design.md §10). Adding an action is one such module and its tests.
 * `run` and `undo` reject with FusionAuthError; the caller decides retry, pause or failure.
 */
export interface ActionModule {
  readonly name: string
  readonly description: string
  /** Takes `:<id>` (what the id names, for messages). */
  readonly takesId?: string
  /** Needs FUSIONAUTH_ACTOR_USER_ID (FusionAuth requires an existing author). */
  readonly needsActor?: boolean
  run (ctx: ActionContext): Promise<RunResult>
  /** How to take it back; absent with `cannotUndo` saying why. */
  undo?: (ctx: ActionContext, step: Step) => Promise<UndoResult>
  readonly cannotUndo?: string
  /** The permissions `check` proves without changing anything: endpoint probes, and the id's existence. */
  readonly probes: ReadonlyArray<{ probe: PermissionProbe, endpoint: string }>
}
