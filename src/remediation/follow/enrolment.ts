import type { EnrolmentChange } from '../../alerts/fusionauth-events.js'
import { formatCustomData, usernameHash } from '../../alerts/normalise.js'
import type { EnzoicApi } from '../../enzoic/client.js'
import type { FusionAuthGateway, FusionAuthUser } from '../../fusionauth/index.js'

export interface EnrolmentResult { enrolled: number, removed: number, kept: number }

/** Reads of FusionAuth's truth per email before it is taken as settled (a concurrent change is caught by the re-read). */
const MAX_ROUNDS = 3

/**
 * Makes Enzoic's monitoring of each email match FusionAuth now (docs/design.md §13): an email that an active user of
 * the allowed tenants has is enrolled (as SHA-256 of the email, with the customData `monitor sync` writes for the
 * first such user); an email no user of those tenants has any more is removed. The event only says which emails to look at:
 * what is done is decided by what FusionAuth says at the time, so events applied late, twice or out of order (two
 * replicas, a retry after an outage) still end in the right state. After each change FusionAuth is read again, and a
 * change that happened meanwhile is applied too.
 */
export async function followEnrolment (change: EnrolmentChange, deps: { gateway: FusionAuthGateway, enzoic: EnzoicApi }): Promise<EnrolmentResult> {
  const result: EnrolmentResult = { enrolled: 0, removed: 0, kept: 0 }
  for (const email of change.emails) {
    const hash = usernameHash(email)
    let want = await wanted(deps.gateway, email)
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (want.kind === 'enrol') {
        const r = await deps.enzoic.addMonitoredUsers([{ usernameHash: hash, customData: formatCustomData(want.user) }])
        if (r.added > 0) result.enrolled++
        else result.kept++
      } else if (want.kind === 'remove') {
        const r = await deps.enzoic.removeMonitoredUsers([hash])
        if (r.deleted > 0) result.removed++
        else result.kept++
      } else {
        result.kept++
      }
      const now = await wanted(deps.gateway, email)
      if (now.kind === want.kind) break
      want = now
    }
  }
  return result
}

type Wanted = { kind: 'enrol', user: FusionAuthUser } | { kind: 'remove' } | { kind: 'keep' }

/**
 * What Enzoic should hold for an email: enrolled while an active user has it (the first by id, so every replica
 * picks the same customData); removed once no user at all has it; left as it is while only inactive users have
 * it (`monitor sync` enrols active users only; a deactivated user may be reactivated).
 */
async function wanted (gateway: FusionAuthGateway, email: string): Promise<Wanted> {
  const users = await gateway.findUsersByEmail(email)
  const active = users.filter(u => u.active).sort((a, b) => a.id.localeCompare(b.id))[0]
  if (active !== undefined) return { kind: 'enrol', user: active }
  return users.length === 0 ? { kind: 'remove' } : { kind: 'keep' }
}
