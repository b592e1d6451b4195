import { hostname } from 'node:os'
import type { Config } from '../config/index.js'
import type { AlertRecord, Step } from '../alerts/types.js'
import { plainText } from '../alerts/text.js'
import { logEvent, type EventLogger } from '../observability/events.js'
import { BridgeError } from '../errors.js'
import { FusionAuthError, type FusionAuthGateway } from '../fusionauth/index.js'
import { AlertNotFoundError } from './alerts.js'
import { actionOf, actionSpec, type RunResult } from '../remediation/actions/index.js'
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

/** An operator's cancel, restore or resend could not be done: the alert is being processed, or FusionAuth refused part of a restore. */
export class OperatorActionError extends BridgeError {
  constructor (readonly code: 'BRIDGE_ALERT_BUSY' | 'BRIDGE_RESTORE_INCOMPLETE', message: string) {
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

/**
 * `alerts restore`: undoes exactly what the bridge did for the alert, newest first, and nothing else —
 * each action's own undo decides (reactivate only a user the bridge deactivated, …); pending steps are
 * cancelled. Idempotent: a second restore finds nothing left to undo and changes nothing.
 */
export async function restoreAlert ({ store, gateway, config, log }: LifecycleDeps, alertId: string, req: OperatorRequest): Promise<RestoreResult> {
  if (gateway === undefined) throw new Error('restore needs the FusionAuth gateway')
  const alert = await store.alerts.get(alertId)
  if (alert === undefined) throw new AlertNotFoundError(alertId)
  const mine = (s: Step): boolean => req.userId === undefined || s.userId === req.userId.toLowerCase()
  const before = (await store.steps.list(alertId)).filter(mine)
  if (!before.some(s => s.state === 'pending' || (s.state === 'done' && undoable(s)))) {
    const kept = before.filter(s => s.state === 'done').map(step => ({ step, detail: actionOf(step.action)?.cannotUndo ?? 'nothing the bridge recorded to undo' }))
    return { alert, undone: [], kept, cancelled: [], nothingToDo: true }
  }
  const { lease } = await take(store, alertId, req.operator)
  const steps = (await store.steps.list(alertId)).filter(mine)
  const result: RestoreResult = { alert, undone: [], kept: [], cancelled: [], nothingToDo: false }
  let incomplete: string | undefined
  try {
    for (const s of steps.filter(x => x.state === 'pending')) {
      if (await store.steps.update(lease, s.id, { state: 'cancelled', detail: `cancelled by the restore of ${who(req)}` })) result.cancelled.push(s)
    }
    // Newest first: the reverse of the order the bridge acted in.
    const done = steps.filter(x => x.state === 'done').sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || b.id - a.id)
    const users = new Map<string, Awaited<ReturnType<FusionAuthGateway['getUser']>>>()
    for (const step of done) {
      const module = actionOf(step.action)
      if (module?.undo === undefined || step.undo === undefined) {
        result.kept.push({ step, detail: module?.cannotUndo ?? (module === undefined ? 'this bridge no longer knows the action' : 'nothing the bridge recorded to undo') })
        continue
      }
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
      users.set(step.userId, await gateway.getUser(step.userId, step.tenantId)) // its state changed
      if (log !== undefined) {
        logEvent(log, 'step.undone', { alertId, userId: step.userId, tenantId: step.tenantId, action: step.action, detail: r.detail, operator: req.operator }, `${step.action} undone`)
        logActionEvent(log, module, 'undone', { alertId, userId: step.userId, tenantId: step.tenantId, operator: req.operator }, id)
      }
    }
  } catch (err) {
    if (!(err instanceof FusionAuthError)) throw err
    incomplete = err.message
  }
  const after = await store.steps.list(alertId)
  const note = incomplete === undefined
    ? `restored by ${who(req)}${req.userId === undefined ? '' : ` (user ${req.userId})`}`
    : `restore incomplete (${incomplete}), by ${who(req)}: run it again`
  await store.queue.finish(lease, { outcome: alertOutcome(after), users: userOutcomes(after), actions: alert.actions, note })
  if (log !== undefined) logEvent(log, 'alert.restored', { alertId, operator: req.operator, reason: req.reason, undone: result.undone.length, kept: result.kept.length }, note)
  if (incomplete !== undefined) throw new OperatorActionError('BRIDGE_RESTORE_INCOMPLETE', `${note} (undone so far: ${result.undone.length})`)
  result.alert = (await store.alerts.get(alertId))!
  return result
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
