/**
 * Typed lifecycle events: every transition logs one JSON line with a stable `event` name and the fields
 * listed here, so a SIEM rule can be written against them. The README's table is generated from this list
 * (a test keeps them equal, and checks that a test run logs every one).
 */
export const EVENTS = {
  'alert.received': { level: 'info', fields: 'alertId, source, exposureId, email (masked), test, warnings', what: 'a new alert was committed (the 2xx goes out after this); for Enzoic, on the request\'s one `webhook answered` line' },
  'fusionauth.event': { level: 'info', fields: 'eventId, type, outcome, alertId, userId, tenantId, reason', what: 'FusionAuth posted an event: stored (answered after the commit), a duplicate, or ignored' },
  'alert.duplicate': { level: 'info', fields: 'alertId, exposureId', what: 'Enzoic delivered an alert already stored; nothing new is done (on the request\'s `webhook answered` line)' },
  'alert.waiting': { level: 'info', fields: 'alertId, dueAt, users', what: 'immediate steps done; the grace steps wait for their deadline' },
  'alert.self_remediated': { level: 'info', fields: 'alertId, userId, tenantId', what: 'the user changed their password before the deadline: grace steps skipped' },
  'alert.finished': { level: 'info', fields: 'alertId, outcome, users, attempts, ageSeconds', what: 'no step is pending any more' },
  'alert.retrying': { level: 'warn', fields: 'alertId, reason, retryInSeconds', what: 'FusionAuth failed (network, 5xx, 429); the alert is retried' },
  'alert.dead': { level: 'error', fields: 'alertId, reason, outcome', what: 'a step failed for good, or the retry schedule is exhausted; `alerts replay` retries' },
  'alert.cancelled': { level: 'warn', fields: 'alertId, operator, reason, steps', what: 'an operator cancelled the alert\'s pending steps' },
  'alert.restored': { level: 'warn', fields: 'alertId, operator, reason, undone, kept', what: 'an operator undid what the bridge did for the alert' },
  'step.done': { level: 'info', fields: 'alertId, userId, tenantId, action, httpStatus', what: 'an action changed the user in FusionAuth' },
  'step.skipped': { level: 'info', fields: 'alertId, userId, tenantId, action, detail', what: 'an action was not needed or not allowed (protected, already inactive, self-remediated, …)' },
  'step.failed': { level: 'error', fields: 'alertId, userId, tenantId, action, httpStatus, detail', what: 'FusionAuth refused an action for good' },
  'step.uncertain': { level: 'warn', fields: 'alertId, userId, tenantId, action, detail', what: 'the call may or may not have taken effect (an email whose answer was lost): not repeated by itself; `alerts resend-notice` decides' },
  'step.undone': { level: 'warn', fields: 'alertId, userId, tenantId, action, detail, operator', what: 'an operator\'s restore took an action back' },
  'case.closed': { level: 'info', fields: 'alertId, userId, tenantId, eventId, steps', what: 'FusionAuth said the user changed their password: the grace steps were skipped before the deadline' },
  'case.resolved': { level: 'info', fields: 'alertId, userId, tenantId, eventId', what: 'the user changed their password after the bridge required it: the case is closed' },
  'enrolment.followed': { level: 'info', fields: 'eventId, type, enrolled, removed, kept', what: 'Enzoic monitoring was made to match FusionAuth after a user was created, changed or deleted' },
  'enrolment.failed': { level: 'warn', fields: 'eventId, type, reason, retryInSeconds', what: 'Enzoic did not take an enrolment change; it is kept and retried (in order)' },
  'user.deactivated': { level: 'info', fields: 'alertId, userId, tenantId', what: 'the user was deactivated' },
  'user.reactivated': { level: 'warn', fields: 'alertId, userId, tenantId, operator', what: 'a restore reactivated a user the bridge had deactivated' },
  'user.notified': { level: 'info', fields: 'alertId, userId, tenantId, templateId', what: 'FusionAuth was asked to email the user' },
  'worker.paused': { level: 'error', fields: 'reason', what: 'FusionAuth refused the API key: nothing is processed, readiness fails' },
  'worker.resumed': { level: 'info', fields: '', what: 'FusionAuth accepts the API key again' },
  'digest.sent': { level: 'info', fields: 'key, kind, alerts', what: 'an operator message was delivered to BRIDGE_NOTIFY_URL' },
  'digest.failed': { level: 'warn', fields: 'key, kind, attempts, reason, retryInSeconds', what: 'the receiver did not take a message; it is kept and retried' }
} as const satisfies Record<string, { level: 'info' | 'warn' | 'error', fields: string, what: string }>

export type EventName = keyof typeof EVENTS

/** Any pino-like logger (the app's, a child, Fastify's request logger). */
export type EventLogger = Record<'info' | 'warn' | 'error', (obj: object, msg: string) => void>

/** Logs `event` at its level with its fields; `msg` is a short human summary. */
export function logEvent (log: EventLogger, event: EventName, fields: Record<string, unknown>, msg: string): void {
  log[EVENTS[event].level]({ event, ...fields }, msg)
}
