import type { Logger } from 'pino'
import type { ActionLogEntry, AlertRecord, ExposureDetails, NewStep, Step, StepChange, UserOutcome } from '../alerts/types.js'
import { parseCustomData, usernameHash } from '../alerts/normalise.js'
import { logEvent, type EventLogger } from '../observability/events.js'
import type { Lease, Store } from '../store/types.js'
import { FusionAuthError, type FusionAuthGateway, type FusionAuthUser } from '../fusionauth/index.js'
import { actionOf, actionSpec, type ActionContext, type ActionModule } from './actions/index.js'
import { alertOutcome, userOutcomes } from './outcome.js'
import { decide, policyFor, type Policies, type Policy } from './policy.js'

/** Thrown when FusionAuth fails in a way worth retrying (or pausing for): carries the attempt's log. */
export class ActionFailedError extends Error {
  readonly code = 'BRIDGE_ACTION_FAILED'
  constructor (readonly failure: FusionAuthError, readonly actions: ActionLogEntry[]) {
    super(failure.message)
    this.name = 'ActionFailedError'
  }

  toJSON (): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, failure: this.failure.toJSON() }
  }
}

/** The exposure's date for the stale-password rule: the breach's own date when known, else when Enzoic found it. */
export function exposureInstant (alert: Pick<AlertRecord, 'exposureDate' | 'exposureDetails'>, details?: ExposureDetails): number | undefined {
  for (const c of [details?.date, alert.exposureDetails?.date, alert.exposureDate]) {
    const t = c === undefined ? NaN : Date.parse(c)
    if (!Number.isNaN(t)) return t
  }
  return undefined
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

interface Matched { user: FusionAuthUser, mismatch?: string }

/**
 * `customData` (written by `monitor sync`) names a user directly. It is acted on only when the alert's email
 * or usernameHash is that user's current address (or the alert carries neither): an alert that disagrees
 * with itself changes nothing and says so (outcome `mismatch`). Otherwise the email is looked up in every
 * allowed tenant.
 */
async function resolveUsers (alert: AlertRecord, { settings, gateway }: RemediateDeps): Promise<Matched[]> {
  const mapped = parseCustomData(alert.customData)
  if (mapped !== undefined) {
    const allowed = settings.tenantIds === undefined || settings.tenantIds.includes(mapped.tenantId)
    const user = allowed ? await gateway.getUser(mapped.userId, mapped.tenantId) : undefined
    if (user !== undefined) {
      const carries = alert.email !== undefined || alert.usernameHash !== undefined
      const agrees = !carries || (user.email !== undefined && (alert.email === user.email || alert.usernameHash === usernameHash(user.email)))
      return [{
        user,
        mismatch: agrees ? undefined : `customData names user ${user.id}, but the alert's ${alert.email !== undefined ? 'email' : 'usernameHash'} is not this user's address: nothing done (re-run \`monitor sync\` if the user changed their email)`
      }]
    }
    // The enrolled user is gone (or its tenant is not allowed): fall back to the email, if any.
  }
  if (alert.email === undefined) return []
  return (await gateway.findUsersByEmail(alert.email)).map(user => ({ user }))
}

function planFor (alert: AlertRecord, m: Matched, policy: Policy, exposureAt: number | undefined): NewStep[] {
  const { user } = m
  const verdict = m.mismatch !== undefined ? { verdict: 'mismatch' as const, detail: m.mismatch } : decide(policy, user, exposureAt)
  const skip = verdict.verdict === 'act' ? {} : { skipped: verdict.detail, verdict: verdict.verdict }
  const base = { userId: user.id, tenantId: user.tenantId, email: user.email }
  const graceIn = policy.graceMs === undefined ? 0 : Math.max(0, Date.parse(alert.receivedAt) + policy.graceMs - Date.now())
  return [
    ...policy.actions.map((a): NewStep => ({ ...base, action: a.label, phase: 'immediate', dueInMs: 0, ...skip })),
    ...policy.graceActions.map((a): NewStep => ({ ...base, action: a.label, phase: 'grace', dueInMs: graceIn, ...skip }))
  ]
}

/**
 * Runs an alert's due steps (docs/design.md §10). On the first attempt it resolves the users and plans one
 * step per (user, action): BRIDGE_ACTIONS due at once, BRIDGE_GRACE_ACTIONS at the grace deadline, or all
 * skipped with the user's verdict (protected, stale, dry run, mismatch). Each step is recorded the moment it
 * completes, so a retry repeats nothing that succeeded. At the deadline the user is read again: a password
 * changed after the alert arrived skips the grace steps (`self-remediated`). Throws ActionFailedError when
 * FusionAuth fails in a way worth retrying or pausing for.
 */
export async function remediate (alert: AlertRecord, deps: RemediateDeps): Promise<Remediation> {
  const { settings, gateway, store, log } = deps
  const actionLog: ActionLogEntry[] = [...alert.actions]
  const stamp = (): string => new Date().toISOString()
  const fail = (err: unknown, action: string, user?: FusionAuthUser): never => {
    if (!(err instanceof FusionAuthError)) throw err
    actionLog.push({ at: stamp(), userId: user?.id, tenantId: user?.tenantId, action, status: 'failed', httpStatus: err.status, detail: err.message })
    throw new ActionFailedError(err, actionLog)
  }

  let details = alert.exposureDetails
  let fetchedDetails = false
  const exposure = async (): Promise<ExposureDetails | undefined> => {
    if (details === undefined && !fetchedDetails && deps.exposureDetails !== undefined) {
      fetchedDetails = true
      details = await deps.exposureDetails(alert).catch(() => undefined)
    }
    return details
  }

  const fresh = new Map<string, FusionAuthUser>()
  let steps = deps.planned === false ? [] : await store.steps.list(alert.id)
  if (steps.length === 0) {
    let matched: Matched[]
    try {
      matched = await resolveUsers(alert, deps)
    } catch (err) {
      return fail(err, 'lookup')
    }
    if (matched.length === 0) {
      actionLog.push({ at: stamp(), action: 'lookup', status: 'skipped', detail: 'no FusionAuth user matches' })
      return { kind: 'finished', outcome: 'no-user', users: [], actions: actionLog }
    }
    const needExposure = matched.some(m => policyFor(settings.policies, m.user.tenantId).skipIfPasswordChangedAfterExposure)
    const exposureAt = exposureInstant(alert, needExposure ? await exposure() : details)
    const plan = matched.flatMap(m => planFor(alert, m, policyFor(settings.policies, m.user.tenantId), exposureAt))
    const planIt = (): ReturnType<Store['steps']['plan']> => store.steps.plan(deps.lease(), plan)
    const planned = await (deps.storeCall === undefined ? planIt() : deps.storeCall('planning steps', planIt))
    if (planned === undefined) return { kind: 'lease-lost' }
    steps = planned
    for (const m of matched) fresh.set(m.user.id, m.user)
    for (const s of steps.filter(x => x.state === 'skipped')) {
      deps.onStep?.(actionSpec(s.action).name, 'skipped')
      logEvent(log, 'step.skipped', { ...stepFields(alert, s), detail: s.detail }, `${s.action} skipped: ${s.detail ?? ''}`)
    }
  }

  const record = async (step: Step, change: StepChange): Promise<boolean> => {
    const save = (): Promise<boolean> => store.steps.update(deps.lease(), step.id, change)
    if (!await (deps.storeCall === undefined ? save() : deps.storeCall('recording a step', save))) return false
    Object.assign(step, change, { updatedAt: stamp() })
    deps.onStep?.(actionSpec(step.action).name, change.state)
    const fields = { ...stepFields(alert, step), httpStatus: change.httpStatus, detail: change.detail }
    if (change.state === 'done') logEvent(log, 'step.done', fields, `${step.action} done`)
    else if (change.state === 'skipped') logEvent(log, 'step.skipped', fields, `${step.action} skipped: ${change.detail ?? ''}`)
    else if (change.state === 'failed') logEvent(log, 'step.failed', fields, `${step.action} failed: ${change.detail ?? ''}`)
    return true
  }

  // Due by this host's clock; a step a hair early (the database's clock runs ahead) is due too.
  const now = Date.now()
  const due = steps.filter(s => s.state === 'pending' && Date.parse(s.dueAt) <= now + 250)
  for (const userId of [...new Set(due.map(s => s.userId))]) {
    const mine = due.filter(s => s.userId === userId)
    let user = fresh.get(userId)
    if (user === undefined) {
      try {
        user = await gateway.getUser(userId, mine[0]!.tenantId)
      } catch (err) {
        return fail(err, 'user.get')
      }
    }
    if (user === undefined) {
      for (const s of mine) if (!await record(s, { state: 'skipped', detail: 'the user no longer exists' })) return { kind: 'lease-lost' }
      continue
    }
    // The grace deadline: did the user fix it themselves (a password change after the alert arrived)?
    const grace = mine.filter(s => s.phase === 'grace')
    if (grace.length > 0 && user.passwordLastUpdateInstant !== undefined && user.passwordLastUpdateInstant > Date.parse(alert.receivedAt)) {
      for (const s of grace) if (!await record(s, { state: 'skipped', detail: 'self-remediated' })) return { kind: 'lease-lost' }
      logEvent(log, 'alert.self_remediated', { alertId: alert.id, userId: user.id, tenantId: user.tenantId }, 'the user changed their password in the grace period')
    }
    const policy = policyFor(settings.policies, user.tenantId)
    const labels = [...policy.actions, ...policy.graceActions].map(a => a.label)
    for (const step of mine.filter(s => s.state === 'pending')) {
      const spec = actionSpec(step.action)
      const module = actionOf(step.action)
      if (module === undefined) {
        if (!await record(step, { state: 'failed', detail: `unknown action ${spec.name} (removed from this bridge?)` })) return { kind: 'lease-lost' }
        continue
      }
      const graceDeadline = policy.graceMs === undefined ? undefined : new Date(Date.parse(alert.receivedAt) + policy.graceMs).toISOString()
      const ctx: ActionContext = {
        user,
        alert,
        fusionauth: gateway,
        id: spec.id,
        actorUserId: settings.actorUserId,
        exposure: module.needs?.exposure === true ? await exposure() : details,
        graceDeadline,
        labels,
        kv: store.kv
      }
      let change: StepChange
      let userChanged: Partial<FusionAuthUser> | undefined
      try {
        ({ userChanged, ...change } = await module.run(ctx))
      } catch (err) {
        // A definite refusal (400, 404) of this action: recorded beside the others, which go on.
        if (err instanceof FusionAuthError && (err.kind === 'permanent' || err.kind === 'not-found')) {
          change = { state: 'failed', detail: err.message, httpStatus: err.status }
        } else {
          return fail(err, step.action, user)
        }
      }
      if (!await record(step, change)) return { kind: 'lease-lost' }
      if (change.state === 'done') {
        if (userChanged !== undefined) user = { ...user, ...userChanged }
        logActionEvent(log, module, 'done', { alertId: alert.id, userId: user.id, tenantId: user.tenantId }, spec.id)
      }
    }
  }

  const users = userOutcomes(steps)
  const pending = steps.filter(s => s.state === 'pending')
  if (pending.length > 0) {
    const next = Math.min(...pending.map(s => Date.parse(s.dueAt)))
    const dueAt = new Date(next).toISOString()
    return { kind: 'waiting', dueInMs: Math.max(0, next - Date.now()), users, actions: actionLog, note: `grace period: ${pending.length} step(s) due ${dueAt}` }
  }
  const outcome = alertOutcome(steps)
  const failed = steps.filter(s => s.state === 'failed')
  if (failed.length > 0) {
    return { kind: 'dead', outcome, users, actions: actionLog, reason: `FusionAuth refused ${failed.map(s => `${s.action} (${s.detail ?? 'failed'})`).join('; ')}` }
  }
  return { kind: 'finished', outcome, users, actions: actionLog }
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
