/**
 * The FusionAuth events the bridge listens to (docs/design.md §13), declared once: the receiver
 * (intake/fusionauth.ts) classifies by it, `fusionauth webhooks register` enables exactly these on the webhook
 * and the tenants, `check` verifies them, and the README's table is generated from it.
 */

/** What the bridge does with an event. */
export type EventPurpose =
  /** FusionAuth's breached-password detection at login: an alert (source `fusionauth`). */
  | 'breach'
  /** The user's password changed: that user's open cases close. */
  | 'password-changed'
  /** A login: closes cases only when the password changed after the alert arrived (where no password event is sent). */
  | 'login'
  /** Who has which email changed: Enzoic monitoring follows (when the Enzoic API is configured). */
  | 'enrolment'

export interface FusionAuthEventType {
  readonly type: string
  readonly purpose: EventPurpose
  /** The FusionAuth plan that sends it. */
  readonly edition: 'any' | 'paid (breached password detection)' | 'Enterprise'
  /** FusionAuth may wait for the webhook's answer (the tenant's transaction setting decides whether it must succeed). */
  readonly transactional: boolean
  /** The README's line. */
  readonly doc: string
}

/**
 * Every one a type FusionAuth sends (its EventType list, test/alerts/fusionauth-events.test.ts): FusionAuth refuses a
 * webhook or tenant that enables any other (there is no `user.bulk.delete` in FusionAuth 1.69).
 */
export const FUSIONAUTH_EVENTS: readonly FusionAuthEventType[] = [
  {
    type: 'user.password.breach',
    purpose: 'breach',
    edition: 'paid (breached password detection)',
    transactional: true,
    doc: 'a login with a breached password: an alert with source `fusionauth`, through the same policy (with `FUSIONAUTH_BREACH_LOGIN=block`, that login fails)'
  },
  { type: 'user.password.update', purpose: 'password-changed', edition: 'Enterprise', transactional: true, doc: 'the user changed their password: their open cases close' },
  { type: 'user.password.reset.success', purpose: 'password-changed', edition: 'Enterprise', transactional: true, doc: 'a password reset completed: as above' },
  {
    type: 'user.login.success',
    purpose: 'login',
    edition: 'any',
    transactional: true,
    doc: 'where the password events are not sent: a login whose `passwordLastUpdateInstant` is later than an open case\'s alert closes it'
  },
  { type: 'user.create', purpose: 'enrolment', edition: 'any', transactional: true, doc: 'a new user: enrolled in Enzoic monitoring' },
  { type: 'user.bulk.create', purpose: 'enrolment', edition: 'any', transactional: false, doc: 'imported users: enrolled' },
  { type: 'user.email.update', purpose: 'enrolment', edition: 'any', transactional: true, doc: 'an email change: the new address enrolled, the old one removed when no user still has it' },
  { type: 'user.update', purpose: 'enrolment', edition: 'any', transactional: true, doc: 'a user update that changed the email, or the user\'s activity: as above' },
  { type: 'user.delete', purpose: 'enrolment', edition: 'any', transactional: true, doc: 'a deleted user: the address removed when no user still has it' }
]

export const FUSIONAUTH_EVENT_TYPES: readonly string[] = FUSIONAUTH_EVENTS.map(e => e.type)

export function eventType (type: string): FusionAuthEventType | undefined {
  return FUSIONAUTH_EVENTS.find(e => e.type === type)
}

/** The path FusionAuth posts to (nginx's location, the register command's default). */
export const FUSIONAUTH_WEBHOOK_PATH = '/webhooks/fusionauth'

/** A password change (or a login that shows one): that user's open cases close. */
export interface PasswordChanged {
  eventId: string
  type: string
  userId: string
  tenantId: string
  /** When FusionAuth says the password last changed (epoch ms); absent: the event's own instant. */
  changedAt: number
  /** A login event: it closes only cases whose alert arrived before `changedAt`. */
  login: boolean
}

/** Emails whose Enzoic enrolment must be made to match FusionAuth again. */
export interface EnrolmentChange {
  eventId: string
  type: string
  /** Lower-cased, distinct. */
  emails: string[]
}

export const OUTBOX_KINDS = { passwordChanged: 'fusionauth.password-changed', enrolment: 'fusionauth.enrolment' } as const

/** The outbox key of an event: one per event id, so a repeated delivery is recognised. */
export const eventKey = (eventId: string): string => `fusionauth-event:${eventId}`
