import type { Logger } from 'pino'
import type { ActionLogEntry, AlertRecord, ExposureDetails, NewStep, Step, StepChange, UserOutcome } from '../alerts/types.js'
import { logEvent, type EventLogger } from '../observability/events.js'
import type { Lease, Store } from '../store/types.js'
import { certainlyNotDone, FusionAuthError, type FusionAuthGateway, type FusionAuthUser } from '../fusionauth/index.js'
import { actionOf, actionSpec, type ActionContext, type ActionModule, type RunResult } from './actions/index.js'
import { alertOutcome, userOutcomes } from './outcome.js'
import { exposureInstant, planFor, resolveUsers, type Matched } from './plan.js'
import { policyFor, type Policies } from './policy.js'
import { BridgeError } from '../errors.js'
import { Journal, type Carried } from './journal.js'

export { exposureInstant }

/** Thrown when FusionAuth fails in a way worth retrying (or pausing for): carries the attempt's log and its unwritten step writes. */
export class ActionFailedError extends BridgeError {
  readonly code = 'BRIDGE_ACTION_FAILED'
  constructor (readonly failure: FusionAuthError, readonly actions: ActionLogEntry[], readonly steps?: Carried) {
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

/** What the worker records next, with the step writes the attempt has not written yet (`steps`: they ride with it). */
export type Remediation =
  | { kind: 'finished', outcome: ReturnType<typeof alertOutcome>, users: UserOutcome[], actions: ActionLogEntry[], note?: string, steps?: Carried }
  | { kind: 'waiting', dueInMs: number, users: UserOutcome[], actions: ActionLogEntry[], note: string, steps?: Carried }
  | { kind: 'dead', reason: string, outcome: ReturnType<typeof alertOutcome>, users: UserOutcome[], actions: ActionLogEntry[], steps?: Carried }
  | { kind: 'lease-lost' }

/** A lost lease ends the run: its new holder carries on (recorded steps are not repeated). */
class LeaseLost extends Error {}

/**
 * Runs an alert's due steps (docs/design.md §10). On the first attempt it resolves the users and plans one
 * step per (user, action): BRIDGE_ACTIONS due at once, BRIDGE_GRACE_ACTIONS at the grace deadline, or all
 * skipped with the user's verdict (protected, stale, dry run, mismatch). What a step does is written with the
 * attempt's next write (journal.ts): the plan and every result so far ride with the in-flight marker set before
 * the next FusionAuth call that changes anything, and the rest with the transition that ends the attempt. So
 * every such call is preceded by one durable write holding everything before it, and a retry repeats nothing
 * that succeeded (what it cannot read back, the marker makes it confirm). At the deadline the user is read
 * again: a password changed after the alert arrived skips the grace steps (`self-remediated`). Throws
 * ActionFailedError when FusionAuth fails in a way worth retrying or pausing for.
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
    run.markableAhead(due)
    for (const userId of [...new Set(due.map(s => s.userId))]) await run.runForUser(due.filter(s => s.userId === userId))
    return run.conclude(steps)
  } catch (err) {
    if (err instanceof LeaseLost) return { kind: 'lease-lost' }
    throw err
  }
}

/** One attempt at one alert: its action log, its unwritten step writes, the users read fresh in it, its exposure details. */
class AlertRun {
  readonly actionLog: ActionLogEntry[]
  readonly journal = new Journal()
  /** Due steps whose action may be marked ahead of its call (`markAhead`), not marked yet. */
  #aheadable: Step[] = []
  /** Steps marked ahead whose call has not come yet: an attempt that ends first clears their markers. */
  readonly #markedAhead = new Set<Step>()
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
    throw new ActionFailedError(err, this.actionLog, this.#ending())
  }

  /** The due steps of this attempt: those whose action allows it get their markers with the attempt's first one. */
  markableAhead (due: Step[]): void {
    this.#aheadable = due.filter(s => s.startedAt === undefined && actionOf(s.action)?.markAhead === true)
  }

  /** What the attempt still has to write as it ends: a marker set ahead for a call that never came is cleared. */
  #ending (): Carried {
    for (const s of this.#markedAhead) this.journal.unbegin(s)
    this.#markedAhead.clear()
    return this.journal.pending()
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

  /**
   * The first attempt: resolve the users, plan their steps — written with the attempt's first write (`journal`).
   * Undefined: no user matches.
   */
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
    const steps = plan.map(unwrittenStep)
    for (const m of matched) this.#fresh.set(m.user.id, m.user)
    this.journal.planned(plan, steps, () => {
      for (const s of steps.filter(x => x.state === 'skipped')) {
        deps.onStep?.(actionSpec(s.action).name, 'skipped')
        logEvent(deps.log, 'step.skipped', { ...stepFields(alert, s), detail: s.detail }, `${s.action} skipped: ${s.detail ?? ''}`)
      }
    })
    return steps
  }

  /** Records a step's change (written with the attempt's next write), then counts and logs it once written. */
  record (step: Step, change: StepChange): void {
    const { deps } = this
    Object.assign(step, change, { updatedAt: stamp() })
    const fields = { ...stepFields(this.alert, step), httpStatus: change.httpStatus, detail: change.detail }
    this.journal.record(step, change, () => {
      deps.onStep?.(actionSpec(step.action).name, change.state)
      if (change.state === 'done') logEvent(deps.log, 'step.done', fields, `${step.action} done`)
      else if (change.state === 'skipped') logEvent(deps.log, 'step.skipped', fields, `${step.action} skipped: ${change.detail ?? ''}`)
      else if (change.state === 'failed') logEvent(deps.log, 'step.failed', fields, `${step.action} failed: ${change.detail ?? ''}`)
      else if (change.state === 'uncertain') logEvent(deps.log, 'step.uncertain', fields, `${step.action} uncertain: ${change.detail ?? ''}`)
    })
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
      for (const s of mine) this.record(s, { state: 'skipped', detail: 'the user no longer exists' })
      return
    }
    // The grace deadline: did the user fix it themselves (a password change after the alert arrived)?
    const grace = mine.filter(s => s.phase === 'grace')
    if (grace.length > 0 && user.passwordLastUpdateInstant !== undefined && user.passwordLastUpdateInstant > Date.parse(alert.receivedAt)) {
      for (const s of grace) this.record(s, { state: 'skipped', detail: 'self-remediated' })
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
      this.record(step, { state: 'failed', detail: `unknown action ${spec.name} (removed from this bridge?)` })
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
    this.record(step, change)
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
   * FusionAuth for one step: a call that changes anything (any method but GET) is made only once `#mark` allowed
   * it. A lost lease ends the run before the call is sent.
   */
  #guarded (step: Step): ActionContext['fusionauth'] {
    const { deps } = this
    let begun = false
    return {
      call: async (endpoint, options) => {
        if (endpoint.method !== 'GET' && !begun) {
          await this.#mark(step)
          begun = true
        }
        try {
          return await deps.gateway.call(endpoint, options)
        } catch (err) {
          // FusionAuth certainly did not act (a refusal, a connection never made): no trace of a call is left.
          if (begun && certainlyNotDone(err)) this.journal.unbegin(step)
          throw err
        }
      }
    }
  }

  /**
   * Proves the lease is still this process's — by its own clock, then in the database, where the step's in-flight
   * marker is set in the same fenced, durable write that carries the attempt's unwritten step writes (and the
   * markers of the due steps that may be marked ahead: their own calls then need no write). Throws LeaseLost.
   */
  async #mark (step: Step): Promise<void> {
    const { deps } = this
    if (deps.leaseValid?.() === false) throw new LeaseLost()
    // Marked ahead: no write before its call — unless a result waits that no resumed attempt could read back (an
    // action that may end uncertain, e.g. an email sent): that one is written first.
    if (!this.#markedAhead.delete(step) || this.journal.recorded().some(r => actionOf(r.action)?.redo !== undefined)) {
      const ahead = this.#aheadable.filter(s => s !== step && s.state === 'pending')
      const carried = this.journal.pending()
      if (!await this.#store('marking a step started', () => deps.store.steps.start(deps.lease(), [step, ...ahead], carried.writes))) throw new LeaseLost()
      carried.written()
      this.#aheadable = []
      for (const s of ahead) this.#markedAhead.add(s)
    }
    if (deps.leaseValid?.() === false) throw new LeaseLost()
  }

  /** What the worker records next: waiting for the grace steps, dead for a refused step, or finished. */
  conclude (steps: Step[]): Remediation {
    const users = userOutcomes(steps)
    const pending = steps.filter(s => s.state === 'pending')
    if (pending.length > 0) {
      const next = Math.min(...pending.map(s => Date.parse(s.dueAt)))
      const note = `grace period: ${pending.length} step(s) due ${new Date(next).toISOString()}`
      return { kind: 'waiting', dueInMs: Math.max(0, next - Date.now()), users, actions: this.actionLog, note, steps: this.#ending() }
    }
    const outcome = alertOutcome(steps)
    const failed = steps.filter(s => s.state === 'failed')
    if (failed.length > 0) {
      const reason = `FusionAuth refused ${failed.map(s => `${s.action} (${s.detail ?? 'failed'})`).join('; ')}`
      return { kind: 'dead', outcome, users, actions: this.actionLog, reason, steps: this.#ending() }
    }
    return { kind: 'finished', outcome, users, actions: this.actionLog, steps: this.#ending() }
  }
}

const stamp = (): string => new Date().toISOString()

/** A planned step before any write carried it (its id is the store's, known once written: 0 until then). */
function unwrittenStep (st: NewStep): Step {
  const now = Date.now()
  return {
    id: 0,
    userId: st.userId,
    tenantId: st.tenantId,
    email: st.email,
    action: st.action,
    phase: st.phase,
    dueAt: new Date(now + st.dueInMs).toISOString(),
    state: st.skipped === undefined ? 'pending' : 'skipped',
    detail: st.skipped,
    result: st.verdict === undefined ? undefined : { verdict: st.verdict },
    updatedAt: new Date(now).toISOString()
  }
}

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
