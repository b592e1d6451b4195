import type { Step } from '../../alerts/types.js'
import { BridgeError } from '../../errors.js'
import type { PasswordChanged } from '../../alerts/fusionauth-events.js'
import { logEvent, type EventLogger } from '../../observability/events.js'
import type { Store } from '../../store/types.js'
import { alertOutcome, userOutcomes } from '../outcome.js'

/** The alert is being processed by a worker right now: the event is tried again in a moment. */
export class CaseBusy extends BridgeError {
  readonly code = 'BRIDGE_ALERT_BUSY'
}

export interface CaseResult { closed: number, resolved: number }

const LEASE_MS = 60_000
/** The action whose completion a password change resolves. */
const REQUIRE_PASSWORD_CHANGE = 'require-password-change'

/**
 * FusionAuth says the user's password changed (docs/design.md §13): every case of that user whose alert arrived
 * before the change closes at once. Grace steps still waiting for their deadline are skipped (`self-remediated`,
 * the event recorded as why); a case whose `require-password-change` was done is marked resolved. The event id
 * is the actor in the alert's history. Nothing is reactivated.
 */
export async function closeCases (change: PasswordChanged, store: Store, log: EventLogger): Promise<CaseResult> {
  const result: CaseResult = { closed: 0, resolved: 0 }
  for (const alertId of await store.steps.alertsOfUser(change.userId)) {
    const alert = await store.alerts.get(alertId)
    if (alert === undefined || alert.purgedAt !== undefined || change.changedAt <= Date.parse(alert.receivedAt)) continue
    const todo = plan(await store.steps.list(alertId), change)
    if (todo.grace.length === 0 && todo.resolve.length === 0) continue
    const claimed = await store.queue.takeover(alertId, `fusionauth-event:${change.eventId}`, LEASE_MS)
    if (claimed === 'busy') throw new CaseBusy(`alert ${alertId} is being processed`)
    if (claimed === undefined) continue
    const { lease } = claimed
    // Read again under the lease: a worker may have run a grace step since.
    const again = plan(await store.steps.list(alertId), change)
    const why = { closedBy: `fusionauth-event:${change.eventId}`, type: change.type, passwordChangedAt: new Date(change.changedAt).toISOString() }
    for (const s of again.grace) await store.steps.update(lease, s.id, { state: 'skipped', detail: 'self-remediated', result: { ...s.result, ...why } })
    for (const s of again.resolve) {
      await store.steps.update(lease, s.id, { state: 'done', detail: s.detail, httpStatus: s.httpStatus, result: { ...s.result, resolvedBy: why.closedBy, resolvedAt: why.passwordChangedAt } })
    }
    const after = await store.steps.list(alertId)
    const note = `password changed (FusionAuth ${change.type}, event ${change.eventId}): ` +
      [again.grace.length > 0 ? `${again.grace.length} grace step(s) skipped` : '', again.resolve.length > 0 ? 'the required password change is done' : '']
        .filter(x => x !== '').join('; ')
    if (after.some(s => s.state === 'pending')) await store.queue.release(lease, true) // the worker carries on with what is still due
    else await store.queue.finish(lease, { outcome: alertOutcome(after), users: userOutcomes(after), actions: alert.actions, note })
    const fields = { alertId, userId: change.userId, tenantId: change.tenantId, eventId: change.eventId }
    if (again.grace.length > 0) {
      result.closed++
      logEvent(log, 'case.closed', { ...fields, steps: again.grace.length }, 'the user changed their password: grace steps skipped before the deadline')
    }
    if (again.resolve.length > 0) {
      result.resolved++
      logEvent(log, 'case.resolved', fields, 'the user changed their password as the bridge required: case resolved')
    }
  }
  return result
}

/** This user's grace steps still waiting, and their done `require-password-change` steps not yet resolved. */
function plan (steps: readonly Step[], change: PasswordChanged): { grace: Step[], resolve: Step[] } {
  const mine = steps.filter(s => s.userId === change.userId)
  return {
    grace: mine.filter(s => s.state === 'pending' && s.phase === 'grace'),
    resolve: mine.filter(s => s.state === 'done' && s.action === REQUIRE_PASSWORD_CHANGE && s.result?.resolvedBy === undefined &&
      Date.parse(s.updatedAt) < change.changedAt)
  }
}
