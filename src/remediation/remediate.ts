import type { Logger } from 'pino'
import type { ActionLogEntry, AlertRecord, ExposureDetails, Step, StepChange, UserOutcome } from '../alerts/types.js'
import { logEvent, type EventLogger } from '../observability/events.js'
import type { Lease, Store } from '../store/types.js'
import { certainlyNotDone, FusionAuthError, type FusionAuthGateway, type FusionAuthUser } from '../fusionauth/index.js'
import { actionOf, actionSpec, type ActionContext, type ActionModule, type RunResult } from './actions/index.js'
import { alertOutcome, userOutcomes } from './outcome.js'
import { exposureInstant, planFor, resolveUsers, type Matched } from './plan.js'
import { policyFor, type Policies } from './policy.js'
import { BridgeError } from '../errors.js'

export { exposureInstant }

/** Thrown when FusionAuth fails in a way worth retrying (or pausing for): carries the attempt's log. */
export class ActionFailedError extends BridgeError {
  readonly code = 'BRIDGE_ACTION_FAILED'
  constructor (readonly failure: FusionAuthError, readonly actions: ActionLogEntry[]) {
    super(failure.message)
  }

  override toJSON (): Record<string, unknown> {
    return { ...super.toJSON(), failure: this.failure.toJSON() }
  }
}

/** What remediation needs of the configuration (built at the edge from it). */
export interface RemediationSettings {
  /** The default policy and the per-tenant ones. */
  policies: Policies
  /** FUSIONAUTH_TENANT_IDS: users of other tenants are never acted on. */
  tenantIds?: readonly string[]
  /** FUSIONAUTH_ACTOR_USER_ID, for the actions that `needs.actor`. */
  actorUserId?: string
}

export interface RemediateDeps {
  settings: RemediationSettings
  gateway: FusionAuthGateway
  store: Store
  /** The alert's current lease (the worker may swap it when it claims its own alert again). */
  lease: () => Lease
  /**
   * Whether this process may still act under the lease by its own monotonic clock (the worker's heartbeat
   * keeps it current); no FusionAuth call that changes anything starts once it says no.
   */
  leaseValid?: () => boolean
  log: Logger
  /** Exposure details fetched from Enzoic when the alert carried none (undefined = none / failed). */
  exposureDetails?: (alert: AlertRecord) => Promise<ExposureDetails | undefined>
  /** Each recorded step result (metrics): the action's name, without its id. */
  onStep?: (action: string, state: string) => void
  /** False when the claim said no steps were planned yet (saves reading them back). */
  planned?: boolean
  /** How a step's record reaches the store: the worker retries it while the store fails. */
  storeCall?: <T>(what: string, fn: () => Promise<T>) => Promise<T>
}

/** What the worker records next. */
export type Remediation =
  | { kind: 'finished', outcome: ReturnType<typeof alertOutcome>, users: UserOutcome[], actions: ActionLogEntry[], note?: string }
  | { kind: 'waiting', dueInMs: number, users: UserOutcome[], actions: ActionLogEntry[], note: string }
  | { kind: 'dead', reason: string, outcome: ReturnType<typeof alertOutcome>, users: UserOutcome[], actions: ActionLogEntry[] }
  | { kind: 'lease-lost' }

/** A lost lease ends the run: its new holder carries on (recorded steps are not repeated). */
class LeaseLost extends Error {}

/**
 * Runs an alert's due steps (docs/design.md §10). On the first attempt it resolves the users and plans one
 * step per (user, action): BRIDGE_ACTIONS due at once, BRIDGE_GRACE_ACTIONS at the grace deadline, or all
 * skipped with the user's verdict (protected, stale, dry run, mismatch). Each step is recorded the moment it
 * completes, so a retry repeats nothing that succeeded. At the deadline the user is read again: a password
 * changed after the alert arrived skips the grace steps (`self-remediated`). Throws ActionFailedError when
 * FusionAuth fails in a way worth retrying or pausing for.
 */
export async function remediate (alert: AlertRecord, deps: RemediateDeps): Promise<Remediation> {
  const run = new AlertRun(alert, deps)
  try {
    let steps = deps.planned === false ? [] : await deps.store.steps.list(alert.id)
    if (steps.length === 0) {
      const planned = await run.plan()
      if (planned === undefined) return { kind: 'finished', outcome: 'no-user', users: [], actions: run.actionLog }
      steps = planned
    }
    // Due by this host's clock; a step a hair early (the database's clock runs ahead) is due too.
    const now = Date.now()
    const due = steps.filter(s => s.state === 'pending' && Date.parse(s.dueAt) <= now + 250)
    for (const userId of [...new Set(due.map(s => s.userId))]) await run.runForUser(due.filter(s => s.userId === userId))
    return run.conclude(steps)
  } catch (err) {
    if (err instanceof LeaseLost) return { kind: 'lease-lost' }
    throw err
  }
}

/** One attempt at one alert: its action log, the users read fresh in it, its exposure details. */
class AlertRun {
  readonly actionLog: ActionLogEntry[]
  readonly #fresh = new Map<string, FusionAuthUser>()
  #details: ExposureDetails | undefined
  #fetchedDetails = false

  constructor (readonly alert: AlertRecord, readonly deps: RemediateDeps) {
    this.actionLog = [...alert.actions]
    this.#details = alert.exposureDetails
  }

  /** Records a FusionAuth failure in the action log and ends the attempt with it (retry, pause). */
  fail (err: unknown, action: string, user?: FusionAuthUser): never {
    if (!(err instanceof FusionAuthError)) throw err
    this.actionLog.push({ at: stamp(), userId: user?.id, tenantId: user?.tenantId, action, status: 'failed', httpStatus: err.status, detail: err.message })
    throw new ActionFailedError(err, this.actionLog)
  }

  /** The exposure's details, fetched from Enzoic once when the alert carried none (and a step needs them). */
  async exposure (): Promise<ExposureDetails | undefined> {
    if (this.#details === undefined && !this.#fetchedDetails && this.deps.exposureDetails !== undefined) {
      this.#fetchedDetails = true
      this.#details = await this.deps.exposureDetails(this.alert).catch(() => undefined)
    }
    return this.#details
  }

  async #store<T> (what: string, fn: () => Promise<T>): Promise<T> {
    return await (this.deps.storeCall === undefined ? fn() : this.deps.storeCall(what, fn))
  }

  /** The first attempt: resolve the users, plan their steps under the lease. Undefined: no user matches. */
  async plan (): Promise<Step[] | undefined> {
    const { alert, deps } = this
    let matched: Matched[]
    try {
      matched = await resolveUsers(alert, deps)
    } catch (err) {
      return this.fail(err, 'lookup')
    }
    if (matched.length === 0) {
      this.actionLog.push({ at: stamp(), action: 'lookup', status: 'skipped', detail: 'no FusionAuth user matches' })
      return undefined
    }
    const policies = deps.settings.policies
    const needExposure = matched.some(m => policyFor(policies, m.user.tenantId).skipIfPasswordChangedAfterExposure)
    const exposureAt = exposureInstant(alert, needExposure ? await this.exposure() : this.#details)
    const plan = matched.flatMap(m => planFor(alert, m, policyFor(policies, m.user.tenantId), exposureAt))
    const steps = await this.#store('planning steps', () => deps.store.steps.plan(deps.lease(), plan))
    if (steps === undefined) throw new LeaseLost()
    for (const m of matched) this.#fresh.set(m.user.id, m.user)
    for (const s of steps.filter(x => x.state === 'skipped')) {
      deps.onStep?.(actionSpec(s.action).name, 'skipped')
      logEvent(deps.log, 'step.skipped', { ...stepFields(alert, s), detail: s.detail }, `${s.action} skipped: ${s.detail ?? ''}`)
    }
    return steps
  }

  /** Records a step's change under the lease, then counts and logs it. */
  async record (step: Step, change: StepChange): Promise<void> {
    const { deps } = this
    if (!await this.#store('recording a step', () => deps.store.steps.update(deps.lease(), step.id, change))) throw new LeaseLost()
    Object.assign(step, change, { updatedAt: stamp() })
    deps.onStep?.(actionSpec(step.action).name, change.state)
    const fields = { ...stepFields(this.alert, step), httpStatus: change.httpStatus, detail: change.detail }
    if (change.state === 'done') logEvent(deps.log, 'step.done', fields, `${step.action} done`)
    else if (change.state === 'skipped') logEvent(deps.log, 'step.skipped', fields, `${step.action} skipped: ${change.detail ?? ''}`)
    else if (change.state === 'failed') logEvent(deps.log, 'step.failed', fields, `${step.action} failed: ${change.detail ?? ''}`)
    else if (change.state === 'uncertain') logEvent(deps.log, 'step.uncertain', fields, `${step.action} uncertain: ${change.detail ?? ''}`)
  }

  /** One user's due steps, in plan order, on the user as FusionAuth answers now. */
  async runForUser (mine: Step[]): Promise<void> {
    const { alert, deps } = this
    let user = this.#fresh.get(mine[0]!.userId)
    if (user === undefined) {
      try {
        user = await deps.gateway.getUser(mine[0]!.userId, mine[0]!.tenantId)
      } catch (err) {
        return this.fail(err, 'user.get')
      }
    }
    if (user === undefined) {
      for (const s of mine) await this.record(s, { state: 'skipped', detail: 'the user no longer exists' })
      return
    }
    // The grace deadline: did the user fix it themselves (a password change after the alert arrived)?
    const grace = mine.filter(s => s.phase === 'grace')
    if (grace.length > 0 && user.passwordLastUpdateInstant !== undefined && user.passwordLastUpdateInstant > Date.parse(alert.receivedAt)) {
      for (const s of grace) await this.record(s, { state: 'skipped', detail: 'self-remediated' })
      logEvent(deps.log, 'alert.self_remediated', { alertId: alert.id, userId: user.id, tenantId: user.tenantId }, 'the user changed their password in the grace period')
    }
    for (const step of mine.filter(s => s.state === 'pending')) user = await this.runStep(step, user)
  }

  /** One step: its action's `run`, recorded; returns the user as the action left it. */
  async runStep (step: Step, user: FusionAuthUser): Promise<FusionAuthUser> {
    const { alert, deps } = this
    const spec = actionSpec(step.action)
    const module = actionOf(step.action)
    if (module === undefined) {
      await this.record(step, { state: 'failed', detail: `unknown action ${spec.name} (removed from this bridge?)` })
      return user
    }
    const policy = policyFor(deps.settings.policies, user.tenantId)
    const ctx: ActionContext = {
      user,
      alert,
      fusionauth: this.#guarded(step),
      id: spec.id,
      actorUserId: deps.settings.actorUserId,
      exposure: module.needs?.exposure === true ? await this.exposure() : this.#details,
      graceDeadline: policy.graceMs === undefined ? undefined : new Date(Date.parse(alert.receivedAt) + policy.graceMs).toISOString(),
      graceActions: policy.graceActions.map(a => a.name),
      labels: [...policy.actions, ...policy.graceActions].map(a => a.label),
      kv: deps.store.kv
    }
    let change: StepChange
    let userChanged: Partial<FusionAuthUser> | undefined
    try {
      ({ userChanged, ...change } = await this.#confirmOrRun(step, module, ctx))
    } catch (err) {
      if (err instanceof LeaseLost) throw err
      // A definite refusal (400, 404) of this action: recorded beside the others, which go on.
      if (!(err instanceof FusionAuthError) || (err.kind !== 'permanent' && err.kind !== 'not-found')) return this.fail(err, step.action, user)
      change = { state: 'failed', detail: err.message, httpStatus: err.status }
    }
    await this.record(step, change)
    if (change.state !== 'done') return user
    logActionEvent(deps.log, module, 'done', { alertId: alert.id, userId: user.id, tenantId: user.tenantId }, spec.id)
    return userChanged === undefined ? user : { ...user, ...userChanged }
  }

  /**
   * A step an earlier attempt started (its marker: the FusionAuth call may have happened, unrecorded) is
   * checked first: when FusionAuth already shows the action's effect, it is recorded done without calling
   * again. Otherwise (or with nothing to check) the action runs.
   */
  async #confirmOrRun (step: Step, module: ActionModule, ctx: ActionContext): Promise<RunResult> {
    if (step.startedAt !== undefined && module.confirm !== undefined) {
      let confirmed: RunResult | undefined
      try {
        confirmed = await module.confirm(ctx)
      } catch (err) {
        // The check itself failed (a key without the read permission, a blip): the action runs, as it is idempotent.
        this.deps.log.warn({ alertId: this.alert.id, action: step.action, reason: (err as Error).message }, 'could not check whether an earlier attempt did it; running it again')
      }
      if (confirmed !== undefined) return { ...confirmed, detail: confirmed.detail ?? 'done by an earlier attempt (FusionAuth shows it; not repeated)' }
    }
    return await module.run(ctx)
  }

  /**
   * FusionAuth for one step: a call that changes anything (any method but GET) first proves the lease is still
   * this process's — by its own clock, then in the database, where the step's in-flight marker is set in the
   * same fenced statement. A lost lease ends the run before the call is sent.
   */
  #guarded (step: Step): ActionContext['fusionauth'] {
    const { deps } = this
    let begun = false
    return {
      call: async (endpoint, options) => {
        if (endpoint.method !== 'GET' && !begun) {
          if (deps.leaseValid?.() === false) throw new LeaseLost()
          if (!await this.#store('marking a step started', () => deps.store.steps.begin(deps.lease(), step.id))) throw new LeaseLost()
          if (deps.leaseValid?.() === false) throw new LeaseLost()
          begun = true
        }
        try {
          return await deps.gateway.call(endpoint, options)
        } catch (err) {
          // FusionAuth certainly did not act (a refusal, a connection never made): no trace of a call is left.
          if (begun && certainlyNotDone(err)) await deps.store.steps.unbegin(deps.lease(), step.id).catch(() => undefined)
          throw err
        }
      }
    }
  }

  /** What the worker records next: waiting for the grace steps, dead for a refused step, or finished. */
  conclude (steps: Step[]): Remediation {
    const users = userOutcomes(steps)
    const pending = steps.filter(s => s.state === 'pending')
    if (pending.length > 0) {
      const next = Math.min(...pending.map(s => Date.parse(s.dueAt)))
      const note = `grace period: ${pending.length} step(s) due ${new Date(next).toISOString()}`
      return { kind: 'waiting', dueInMs: Math.max(0, next - Date.now()), users, actions: this.actionLog, note }
    }
    const outcome = alertOutcome(steps)
    const failed = steps.filter(s => s.state === 'failed')
    if (failed.length > 0) {
      const reason = `FusionAuth refused ${failed.map(s => `${s.action} (${s.detail ?? 'failed'})`).join('; ')}`
      return { kind: 'dead', outcome, users, actions: this.actionLog, reason }
    }
    return { kind: 'finished', outcome, users, actions: this.actionLog }
  }
}

const stamp = (): string => new Date().toISOString()

/** The action's own typed event (`user.deactivated`, `user.notified`, …), if it declares one for this change. */
export function logActionEvent (log: EventLogger, module: ActionModule, change: 'done' | 'undone', fields: Record<string, unknown>, id?: string): void {
  const e = module.events?.[change]
  if (e === undefined) return
  const idField = module.takesId === undefined || id === undefined ? {} : { [module.takesId.field]: id }
  logEvent(log, e.event, { ...fields, ...idField }, e.message)
}

export function stepFields (alert: AlertRecord, s: Step): Record<string, unknown> {
  return { alertId: alert.id, userId: s.userId, tenantId: s.tenantId, action: s.action, phase: s.phase }
}
