import { hostname } from 'node:os'
import type { Config } from '../config/index.js'
import type { AlertRecord, Step } from '../alerts/types.js'
import { plainText } from '../alerts/text.js'
import { logEvent, type EventLogger } from '../observability/events.js'
import { BridgeError } from '../errors.js'
import { FusionAuthError, type FusionAuthGateway } from '../fusionauth/index.js'
import { AlertNotFoundError } from './alerts.js'
import { actionOf, actionSpec, permissionsFor, type RunResult } from '../remediation/actions/index.js'
import { policyFor } from '../remediation/policy.js'
import { logActionEvent } from '../remediation/remediate.js'
import { alertOutcome, userOutcomes } from '../remediation/outcome.js'
import type { Claimed, Store } from '../store/types.js'

/** An operator's cancel or restore, as the CLI renders it. */
export interface OperatorRequest {
  /** Who (the OS user, or --operator). */
  operator: string
  /** Why (recorded with the alert). */
  reason: string
  /** Restore only what was done to this user. */
  userId?: string
}

/**
 * An operator's cancel, restore or resend could not be done: the alert is being processed; `--user` names a user
 * the alert never touched; the API key may not make a call the restore needs (nothing undone); or FusionAuth refused
 * part of a restore. `failure` says why FusionAuth refused: a credential (fix the key), FusionAuth unavailable (try
 * later), or the request itself.
 */
export class OperatorActionError extends BridgeError {
  constructor (
    readonly code: 'BRIDGE_ALERT_BUSY' | 'BRIDGE_RESTORE_INCOMPLETE' | 'BRIDGE_RESTORE_NOT_PERMITTED' | 'BRIDGE_NOT_THE_ALERTS_USER',
    message: string,
    readonly failure?: 'credential' | 'unavailable' | 'refused'
  ) {
    super(message)
  }
}

export interface LifecycleDeps {
  store: Store
  config: Config
  /** Needed by restore only (undo talks to FusionAuth). */
  gateway?: FusionAuthGateway
  log?: EventLogger
}

export interface CancelResult {
  alert: AlertRecord
  /** Steps that were pending and will not run. */
  cancelled: Step[]
  /** The alert had not been processed yet (no steps): it will not be. */
  stoppedBeforeProcessing: boolean
  /** Nothing was pending: nothing changed (a second cancel). */
  nothingToDo: boolean
}

export interface RestoreResult {
  alert: AlertRecord
  undone: Array<{ step: Step, detail: string }>
  /** Done steps left as they are, and why (cannot be undone, or nothing to undo). */
  kept: Array<{ step: Step, detail: string }>
  cancelled: Step[]
  nothingToDo: boolean
}

const LEASE_MS = 120_000

/** A done step the bridge can take back: its action has an undo, and the step recorded what undo needs. */
const undoable = (s: Step): boolean => actionOf(s.action)?.undo !== undefined && s.undo !== undefined
const who = (r: OperatorRequest): string => `${plainText(r.operator, 64) ?? 'operator'}: ${plainText(r.reason, 300) ?? '(no reason)'}`

async function take (store: Store, alertId: string, operator: string): Promise<Claimed> {
  const c = await store.queue.takeover(alertId, `operator/${plainText(operator, 64) ?? 'operator'}@${hostname()}`, LEASE_MS)
  if (c === undefined) throw new AlertNotFoundError(alertId, ' (or its data was purged)')
  if (c === 'busy') throw new OperatorActionError('BRIDGE_ALERT_BUSY', `alert ${alertId} is being processed right now: try again in a moment`)
  return c
}

/**
 * `alerts cancel`: the alert's pending steps will not run (a false positive caught in the grace period);
 * an alert not processed yet will not be. Idempotent: with nothing pending, nothing changes.
 */
export async function cancelAlert ({ store, log }: LifecycleDeps, alertId: string, req: OperatorRequest): Promise<CancelResult> {
  const alert = await store.alerts.get(alertId)
  if (alert === undefined) throw new AlertNotFoundError(alertId)
  const before = await store.steps.list(alertId)
  const unprocessed = before.length === 0 && ['queued', 'retrying', 'dead', 'processing'].includes(alert.state)
  if (!unprocessed && !before.some(s => s.state === 'pending')) return { alert, cancelled: [], stoppedBeforeProcessing: false, nothingToDo: true }
  const { lease } = await take(store, alertId, req.operator)
  const steps = await store.steps.list(alertId)
  const cancelled: Step[] = []
  for (const s of steps.filter(x => x.state === 'pending')) {
    if (await store.steps.update(lease, s.id, { state: 'cancelled', detail: `cancelled by ${who(req)}` })) cancelled.push({ ...s, state: 'cancelled' })
  }
  const after = await store.steps.list(alertId)
  const note = `cancelled by ${who(req)}`
  await store.queue.finish(lease, { outcome: after.length === 0 ? 'cancelled' : alertOutcome(after), users: userOutcomes(after), actions: alert.actions, note })
  if (log !== undefined) logEvent(log, 'alert.cancelled', { alertId, operator: req.operator, reason: req.reason, steps: cancelled.length }, note)
  return { alert: (await store.alerts.get(alertId))!, cancelled, stoppedBeforeProcessing: steps.length === 0, nothingToDo: false }
}

/** `--user` must name a user the alert touched (a typo would otherwise read as "nothing left to undo"). */
async function checkUser (store: Store, alert: AlertRecord, userId: string | undefined): Promise<void> {
  if (userId === undefined) return
  const users = new Set([...alert.users.map(u => u.userId.toLowerCase()), ...(await store.steps.list(alert.id)).map(s => s.userId)])
  if (users.has(userId.toLowerCase())) return
  throw new OperatorActionError('BRIDGE_NOT_THE_ALERTS_USER', `alert ${alert.id} never touched user ${plainText(userId, 64) ?? '?'}: ` +
    (users.size === 0 ? 'it matched no user' : `its users are ${[...users].join(', ')}`))
}

/**
 * Before anything is undone: every call the undo of these steps makes (and the user lookup before each) is one the
 * API key may make, probed without changing anything. A restore then never stops halfway for a missing permission.
 */
async function probeUndo (gateway: FusionAuthGateway, alertId: string, steps: readonly Step[]): Promise<void> {
  const names = [...new Set(steps.filter(undoable).map(s => actionSpec(s.action).name))]
  if (names.length === 0) return
  const needed = permissionsFor(names).filter(p => p.label === 'lookup' || p.usedBy.some(u => u.startsWith('alerts restore')))
  const refused: string[] = []
  for (const p of needed) {
    const r = await gateway.mayCall(p.endpoints[0]!)
    if (r.allowed) continue
    if (r.status !== 401 && r.status !== 403) {
      throw new OperatorActionError('BRIDGE_RESTORE_INCOMPLETE', `nothing undone for alert ${alertId}: FusionAuth did not answer the permission check (${r.detail ?? 'error'}): ` +
        'run the restore when FusionAuth answers', 'unavailable')
    }
    refused.push(`${p.method} ${p.path} (${p.usedBy.filter(u => u.startsWith('alerts restore') || p.label === 'lookup').join(', ')})`)
  }
  if (refused.length > 0) {
    throw new OperatorActionError('BRIDGE_RESTORE_NOT_PERMITTED', `nothing undone for alert ${alertId}: the API key may not call ${refused.join('; ')}. ` +
      'Allow these for FUSIONAUTH_API_KEY (README, "The FusionAuth API key"; `breach-bridge check` probes them), then restore', 'credential')
  }
}

const stepName = (s: Step): string => `${s.action} of user ${s.userId}`

/** Why a restore stopped at `step`, and what to fix: the key, FusionAuth's availability, or the request. */
function stoppedAt (step: Step, err: FusionAuthError, result: RestoreResult, pending: readonly Step[]): { text: string, failure: 'credential' | 'unavailable' | 'refused' } {
  const failure = err.kind === 'auth' ? 'credential' : err.kind === 'retryable' ? 'unavailable' : 'refused'
  const fixIt = failure === 'credential'
    ? 'the API key was refused: check FUSIONAUTH_API_KEY and its permissions (`breach-bridge check`), then restore again to undo the rest'
    : failure === 'unavailable'
      ? 'FusionAuth did not answer: restore again once it does to undo the rest'
      : 'FusionAuth refused the undo itself: look at the user in FusionAuth\'s admin UI; a second restore tries the rest again'
  const undone = result.undone.length === 0 ? 'nothing' : result.undone.map(u => stepName(u.step)).join(', ')
  const left = pending.map(stepName).join(', ')
  return { text: `restore stopped at ${stepName(step)} (${err.message}): ${fixIt}. Undone: ${undone}. Not undone: ${left}`, failure }
}

/**
 * `alerts restore`: undoes exactly what the bridge did for the alert, newest first, and nothing else —
 * each action's own undo decides (reactivate only a user the bridge deactivated, …); pending steps are
 * cancelled. Every permission the undo needs is probed first: nothing is undone when one is missing. Should
 * FusionAuth still refuse midway, it stops there, records exactly what was undone, and says what to fix.
 * Idempotent: a second restore finds nothing left to undo and changes nothing.
 */
export async function restoreAlert ({ store, gateway, config, log }: LifecycleDeps, alertId: string, req: OperatorRequest): Promise<RestoreResult> {
  if (gateway === undefined) throw new Error('restore needs the FusionAuth gateway')
  const alert = await store.alerts.get(alertId)
  if (alert === undefined) throw new AlertNotFoundError(alertId)
  await checkUser(store, alert, req.userId)
  const mine = (s: Step): boolean => req.userId === undefined || s.userId === req.userId.toLowerCase()
  const before = (await store.steps.list(alertId)).filter(mine)
  if (!before.some(s => s.state === 'pending' || (s.state === 'done' && undoable(s)))) {
    const kept = before.filter(s => s.state === 'done').map(step => ({ step, detail: actionOf(step.action)?.cannotUndo ?? 'nothing the bridge recorded to undo' }))
    return { alert, undone: [], kept, cancelled: [], nothingToDo: true }
  }
  await probeUndo(gateway, alertId, before.filter(s => s.state === 'done'))
  const { lease } = await take(store, alertId, req.operator)
  const steps = (await store.steps.list(alertId)).filter(mine)
  const result: RestoreResult = { alert, undone: [], kept: [], cancelled: [], nothingToDo: false }
  for (const s of steps.filter(x => x.state === 'pending')) {
    if (await store.steps.update(lease, s.id, { state: 'cancelled', detail: `cancelled by the restore of ${who(req)}` })) result.cancelled.push(s)
  }
  const stopped = await undoSteps({ store, gateway, config, log }, lease, alert, steps, req, result)
  const after = await store.steps.list(alertId)
  const note = stopped === undefined
    ? `restored by ${who(req)}${req.userId === undefined ? '' : ` (user ${req.userId})`}`
    : `restore incomplete, by ${who(req)}: ${stopped.text}`
  await store.queue.finish(lease, { outcome: alertOutcome(after), users: userOutcomes(after), actions: alert.actions, note })
  if (log !== undefined) logEvent(log, 'alert.restored', { alertId, operator: req.operator, reason: req.reason, undone: result.undone.length, kept: result.kept.length }, note)
  if (stopped !== undefined) throw new OperatorActionError('BRIDGE_RESTORE_INCOMPLETE', `alert ${alertId}: ${stopped.text}`, stopped.failure)
  result.alert = (await store.alerts.get(alertId))!
  return result
}

/** The undo of each done step, newest first; each recorded as it succeeds. Where FusionAuth refuses: why, and what is left. */
async function undoSteps (
  { store, gateway, config, log }: LifecycleDeps & { gateway: FusionAuthGateway }, lease: Claimed['lease'], alert: AlertRecord, steps: readonly Step[],
  req: OperatorRequest, result: RestoreResult
): Promise<ReturnType<typeof stoppedAt> | undefined> {
  // Newest first: the reverse of the order the bridge acted in.
  const done = steps.filter(x => x.state === 'done').sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || b.id - a.id)
  const users = new Map<string, Awaited<ReturnType<FusionAuthGateway['getUser']>>>()
  for (const [i, step] of done.entries()) {
    const module = actionOf(step.action)
    if (module?.undo === undefined || step.undo === undefined) {
      result.kept.push({ step, detail: module?.cannotUndo ?? (module === undefined ? 'this bridge no longer knows the action' : 'nothing the bridge recorded to undo') })
      continue
    }
    try {
      if (!users.has(step.userId)) users.set(step.userId, await gateway.getUser(step.userId, step.tenantId))
      const user = users.get(step.userId)
      if (user === undefined) {
        result.kept.push({ step, detail: 'the user no longer exists' })
        continue
      }
      const { id } = actionSpec(step.action)
      const r = await module.undo({ user, alert, fusionauth: gateway, id, actorUserId: config.actorUserId, labels: [], kv: store.kv }, step)
      if (r.state === 'kept') {
        result.kept.push({ step, detail: r.detail })
        continue
      }
      await store.steps.update(lease, step.id, { state: 'undone', detail: `${r.detail}, by ${who(req)}` })
      result.undone.push({ step, detail: r.detail })
      users.delete(step.userId) // its state changed: read it again before its next undo
      if (log !== undefined) {
        logEvent(log, 'step.undone', { alertId: alert.id, userId: step.userId, tenantId: step.tenantId, action: step.action, detail: r.detail, operator: req.operator }, `${step.action} undone`)
        logActionEvent(log, module, 'undone', { alertId: alert.id, userId: step.userId, tenantId: step.tenantId, operator: req.operator }, id)
      }
    } catch (err) {
      if (!(err instanceof FusionAuthError)) throw err
      return stoppedAt(step, err, result, done.slice(i).filter(undoable))
    }
  }
  return undefined
}

export interface ResendResult {
  alert: AlertRecord
  /** Each uncertain step sent again, and how it ended (done, uncertain again, or failed). */
  resent: Array<{ step: Step, state: string, detail?: string }>
  nothingToDo: boolean
}

/**
 * `alerts resend-notice`: an operator's decision about `uncertain` steps (an email FusionAuth may have sent
 * before its answer was lost): each is sent again through its action's `redo`, and recorded with who and why.
 * Idempotent in effect: with nothing uncertain, nothing is sent.
 */
export async function resendNotice ({ store, gateway, config, log }: LifecycleDeps, alertId: string, req: OperatorRequest): Promise<ResendResult> {
  if (gateway === undefined) throw new Error('resend-notice needs the FusionAuth gateway')
  const alert = await store.alerts.get(alertId)
  if (alert === undefined) throw new AlertNotFoundError(alertId)
  await checkUser(store, alert, req.userId)
  const mine = (s: Step): boolean => s.state === 'uncertain' && (req.userId === undefined || s.userId === req.userId.toLowerCase())
  if (!(await store.steps.list(alertId)).some(mine)) return { alert, resent: [], nothingToDo: true }
  const { lease } = await take(store, alertId, req.operator)
  const result: ResendResult = { alert, resent: [], nothingToDo: false }
  try {
    for (const step of (await store.steps.list(alertId)).filter(mine)) {
      const module = actionOf(step.action)
      const user = await gateway.getUser(step.userId, step.tenantId)
      if (module?.redo === undefined || user === undefined) {
        result.resent.push({ step, state: 'uncertain', detail: user === undefined ? 'the user no longer exists' : 'this bridge cannot redo the action' })
        continue
      }
      const policy = policyFor(config.policies, user.tenantId)
      const graceDeadline = policy.graceMs === undefined ? undefined : new Date(Date.parse(alert.receivedAt) + policy.graceMs).toISOString()
      const ctx = {
        user,
        alert,
        fusionauth: gateway,
        id: actionSpec(step.action).id,
        actorUserId: config.actorUserId,
        exposure: alert.exposureDetails,
        graceDeadline,
        graceActions: policy.graceActions.map(a => a.name),
        labels: [],
        kv: store.kv
      }
      let r: RunResult
      try {
        r = await module.redo(ctx, step)
      } catch (err) {
        if (!(err instanceof FusionAuthError)) throw err
        r = { state: 'uncertain', detail: `not sent: ${err.message}` }
      }
      const detail = `${r.detail === undefined ? '' : `${r.detail}; `}resent by ${who(req)}`
      await store.steps.update(lease, step.id, { state: r.state, httpStatus: r.httpStatus, detail })
      result.resent.push({ step, state: r.state, detail })
      if (r.state === 'done' && log !== undefined) logActionEvent(log, module, 'done', { alertId, userId: user.id, tenantId: user.tenantId }, actionSpec(step.action).id)
    }
  } finally {
    const after = await store.steps.list(alertId)
    await store.queue.finish(lease, { outcome: alertOutcome(after), users: userOutcomes(after), actions: alert.actions, note: `notice resent by ${who(req)}` })
  }
  result.alert = (await store.alerts.get(alertId))!
  return result
}
