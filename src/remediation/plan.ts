import type { AlertRecord, ExposureDetails, NewStep } from '../alerts/types.js'
import { parseCustomData, usernameHash } from '../alerts/normalise.js'
import type { FusionAuthGateway, FusionAuthUser } from '../fusionauth/index.js'
import { decide, type Policy } from './policy.js'

/**
 * The instant the stale-password rule compares a password change with: when the exposure was found (Enzoic's
 * `dateAdded`), else when the alert arrived. Never the breach's own date: a breach of 2001 that surfaces today
 * still exposes the password a user set in 2010, and its date comes from the dump itself.
 */
export function exposureInstant (alert: Pick<AlertRecord, 'receivedAt' | 'exposureDetails'>, details?: ExposureDetails): number | undefined {
  for (const c of [details?.dateAdded, alert.exposureDetails?.dateAdded, alert.receivedAt]) {
    const t = c === undefined ? NaN : Date.parse(c)
    if (!Number.isNaN(t)) return t
  }
  return undefined
}

export interface Matched { user: FusionAuthUser, mismatch?: string }

/**
 * An Enzoic alert concerns an email: every user in the allowed tenants whose current email is the alert's is
 * acted on (email is unique per tenant only, so an email shared by users in two tenants is enrolled once, with
 * `customData` naming one of them). `customData` (written by `monitor sync`) is how a hash-only alert finds the
 * email: the user it names is read, and acted on only when the alert's email or usernameHash is that user's
 * current address (or the alert carries neither) — an alert that disagrees with itself changes nothing and says
 * so (outcome `mismatch`). Then every user with that email is looked up, in each allowed tenant.
 *
 * An alert from FusionAuth's own detection (`source: 'fusionauth'`) concerns the user who typed the breached
 * password, named in its customData (the event was authenticated, so no mismatch rule): that user only, or
 * nobody when that user is gone or not in an allowed tenant.
 */
export async function resolveUsers (
  alert: AlertRecord, { settings, gateway }: { settings: { tenantIds?: readonly string[] }, gateway: FusionAuthGateway }
): Promise<Matched[]> {
  const mapped = parseCustomData(alert.customData)
  if (alert.source === 'fusionauth') {
    // The user who typed the breached password, whatever their email says now: that user, or nobody.
    const allowed = mapped !== undefined && (settings.tenantIds === undefined || settings.tenantIds.includes(mapped.tenantId))
    const user = allowed ? await gateway.getUser(mapped.userId, mapped.tenantId) : undefined
    return user === undefined ? [] : [{ user }]
  }
  let email = alert.email
  let named: FusionAuthUser | undefined
  if (mapped !== undefined) {
    const allowed = settings.tenantIds === undefined || settings.tenantIds.includes(mapped.tenantId)
    named = allowed ? await gateway.getUser(mapped.userId, mapped.tenantId) : undefined
    if (named !== undefined) {
      const carries = alert.email !== undefined || alert.usernameHash !== undefined
      const agrees = !carries || (named.email !== undefined && (alert.email === named.email || alert.usernameHash === usernameHash(named.email)))
      if (!agrees) {
        return [{
          user: named,
          mismatch: `customData names user ${named.id}, but the alert's ${alert.email !== undefined ? 'email' : 'usernameHash'} is not this user's address: nothing done (re-run \`monitor sync\` if the user changed their email)`
        }]
      }
      email ??= named.email
    }
    // The enrolled user is gone (or its tenant is not allowed): fall back to the alert's email, if any.
  }
  if (email === undefined) return named === undefined ? [] : [{ user: named }]
  const found = await gateway.findUsersByEmail(email)
  const users = named === undefined || found.some(u => u.id === named.id) ? found : [named, ...found]
  return users.map(user => ({ user }))
}

export function planFor (alert: AlertRecord, m: Matched, policy: Policy, exposureAt: number | undefined): NewStep[] {
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
