import type { BreachAlert } from '../alerts/types.js'
import { eventType, type EnrolmentChange, type PasswordChanged } from '../alerts/fusionauth-events.js'
import { formatCustomData, normaliseEmail, usernameHash, wellFormedJson } from '../alerts/normalise.js'

/**
 * The reading of a FusionAuth event (docs/design.md §13): `{"event": {"id", "type", "createInstant", "tenantId",
 * "user": {…}, …}}`. Only what the bridge acts on is kept — ids, emails, instants — never the rest of the user
 * object (names, data, IP addresses of the login). The same outbox carries the kinds below to the follower
 * (remediation/followers/), which acts on them after the answer.
 */

export type ClassifiedEvent =
  | { kind: 'invalid', reason: string }
  | { kind: 'ignored', eventId: string, type: string, reason: string }
  | { kind: 'breach', eventId: string, type: string, alert: BreachAlert, userId: string, tenantId: string }
  | { kind: 'password-changed', eventId: string, type: string, change: PasswordChanged }
  | { kind: 'enrolment', eventId: string, type: string, change: EnrolmentChange }

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown, max = 320): string | undefined => typeof v === 'string' && v.trim() !== '' && v.length <= max ? v.trim() : undefined
/** FusionAuth's ids are UUIDs; anything else is not a user the bridge could act on. */
const uuid = (v: unknown): string | undefined => {
  const s = str(v, 64)?.toLowerCase()
  return s !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s) ? s : undefined
}
const instant = (v: unknown): number | undefined => typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined
const emailOf = (user: unknown): string | undefined => {
  if (!isObject(user)) return undefined
  const e = str(user.email)
  return e === undefined || !e.includes('@') ? undefined : normaliseEmail(e)
}

export interface ClassifyOptions {
  /** Enzoic's API is configured: enrolment events are acted on (otherwise ignored). */
  enrolment: boolean
}

/** A parsed JSON body → what to store. Never throws. Every string of it is made well-formed first, as on the Enzoic route. */
export function classifyEvent (decoded: unknown, options: ClassifyOptions): ClassifiedEvent {
  const json = wellFormedJson(decoded)
  if (!isObject(json) || !isObject(json.event)) return { kind: 'invalid', reason: 'not a FusionAuth event (no "event" object)' }
  const event = json.event
  const eventId = str(event.id, 200)
  const type = str(event.type, 200)
  if (eventId === undefined || type === undefined) return { kind: 'invalid', reason: 'the event has no id or no type' }
  const known = eventType(type)
  if (known === undefined) return { kind: 'ignored', eventId, type, reason: 'an event type the bridge does not act on' }
  if (known.purpose === 'enrolment') {
    if (!options.enrolment) return { kind: 'ignored', eventId, type, reason: 'Enzoic\'s API is not configured: enrolment does not follow' }
    const emails = enrolmentEmails(type, event)
    if (emails === undefined) return { kind: 'invalid', reason: `${type} without the user (or users) it concerns` }
    if (emails.length === 0) return { kind: 'ignored', eventId, type, reason: 'no email or activity change' }
    return { kind: 'enrolment', eventId, type, change: { eventId, type, emails } }
  }
  const user = event.user
  const userId = isObject(user) ? uuid(user.id) : undefined
  const tenantId = uuid(event.tenantId) ?? (isObject(user) ? uuid(user.tenantId) : undefined)
  if (userId === undefined || tenantId === undefined) return { kind: 'invalid', reason: `${type} without a user id and tenant id` }
  const at = instant(event.createInstant) ?? Date.now()
  if (known.purpose === 'breach') return { kind: 'breach', eventId, type, userId, tenantId, alert: breachAlert(eventId, at, { id: userId, tenantId }, emailOf(user)) }
  const changedAt = instant((user as Json).passwordLastUpdateInstant)
  if (known.purpose === 'login' && changedAt === undefined) return { kind: 'ignored', eventId, type, reason: 'a login without passwordLastUpdateInstant' }
  return { kind: 'password-changed', eventId, type, change: { eventId, type, userId, tenantId, changedAt: changedAt ?? at, login: known.purpose === 'login' } }
}

/**
 * FusionAuth's breached-password detection at a login → an alert. The user is known (customData names it, so
 * no search), the email is the user's, the exposure is the login itself.
 */
function breachAlert (eventId: string, at: number, user: { id: string, tenantId: string }, email: string | undefined): BreachAlert {
  const when = new Date(at).toISOString()
  return {
    source: 'fusionauth',
    test: false,
    idempotencyKey: `fusionauth:${eventId}`,
    email,
    usernameHash: email === undefined ? undefined : usernameHash(email),
    customData: formatCustomData(user),
    exposureDate: when,
    hadPassword: true,
    exposureDetails: { title: 'A password found in a known breach (FusionAuth\'s breached password detection, at login)', dateAdded: when },
    warnings: []
  }
}

/** The emails an enrolment event touches; undefined when it names no user at all. */
function enrolmentEmails (type: string, event: Json): string[] | undefined {
  const emails = new Set<string>()
  const add = (e: string | undefined): void => { if (e !== undefined) emails.add(e) }
  if (type === 'user.bulk.create') {
    if (!Array.isArray(event.users)) return undefined
    for (const u of event.users) add(emailOf(u))
  } else if (type === 'user.update') {
    if (!isObject(event.user)) return undefined
    const before = emailOf(event.original)
    const after = emailOf(event.user)
    const activity = isObject(event.original) && event.original.active !== event.user.active
    if (before === after && !activity) return []
    add(before)
    add(after)
  } else {
    if (!isObject(event.user)) return undefined
    if (type === 'user.email.update') add(str(event.previousEmail) === undefined ? undefined : normaliseEmail(str(event.previousEmail)!))
    add(emailOf(event.user))
  }
  return [...emails]
}
