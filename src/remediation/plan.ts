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
 * `customData` (written by `monitor sync`) names a user directly. It is acted on only when the alert's email
 * or usernameHash is that user's current address (or the alert carries neither): an alert that disagrees
 * with itself changes nothing and says so (outcome `mismatch`). Otherwise the email is looked up in every
 * allowed tenant.
 */
export async function resolveUsers (
  alert: AlertRecord, { settings, gateway }: { settings: { tenantIds?: readonly string[] }, gateway: FusionAuthGateway }
): Promise<Matched[]> {
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
