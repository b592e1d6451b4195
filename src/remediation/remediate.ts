import type { ActionSpec, Config } from '../config.js'
import type { ActionLogEntry, AlertRecord, ExposureDetails, Finish, Outcome, UserOutcome } from '../alerts/types.js'
import { parseCustomData } from '../alerts/normalise.js'
import { FusionAuthError, type FusionAuthGateway, type FusionAuthUser } from './fusionauth.js'

/** Thrown when an action fails: carries the log so far, so the attempt's record is kept. */
export class ActionFailedError extends Error {
  constructor (readonly failure: FusionAuthError, readonly actions: ActionLogEntry[]) {
    super(failure.message)
    this.name = 'ActionFailedError'
  }
}

export type PolicyVerdict = 'protected' | 'stale' | 'dry-run' | 'actioned'

/** The exposure's date for the stale-password rule: the breach's own date when known, else when Enzoic found it. */
export function exposureInstant (alert: Pick<AlertRecord, 'exposureDate' | 'exposureDetails'>, details?: ExposureDetails): number | undefined {
  const candidates = [details?.date, alert.exposureDetails?.date, alert.exposureDate]
  for (const c of candidates) {
    const t = c === undefined ? NaN : Date.parse(c)
    if (!Number.isNaN(t)) return t
  }
  return undefined
}

/** docs/design.md §7 policy for one matched user, in order: protected, stale, dry-run, act. */
export function decide (config: Config, user: FusionAuthUser, exposureAt: number | undefined): PolicyVerdict {
  const protectedSet = config.protectedUsers
  if (protectedSet.includes(user.id.toLowerCase()) || (user.email !== undefined && protectedSet.includes(user.email))) return 'protected'
  if (config.skipIfPasswordChangedAfterExposure && exposureAt !== undefined &&
      user.passwordLastUpdateInstant !== undefined && user.passwordLastUpdateInstant > exposureAt) return 'stale'
  if (config.dryRun) return 'dry-run'
  return 'actioned'
}

export interface RemediateDeps {
  config: Config
  gateway: FusionAuthGateway
  now?: () => number
  /** Exposure details fetched from Enzoic when the alert carried none (undefined = none / failed). */
  exposureDetails?: (alert: AlertRecord) => Promise<ExposureDetails | undefined>
}

function commentText (alert: AlertRecord, details: ExposureDetails | undefined, actions: readonly ActionSpec[]): string {
  const title = details?.title ?? 'an unnamed exposure'
  const date = details?.date ?? alert.exposureDate
  const when = date === undefined ? '' : ` (${date.slice(0, 10)})`
  const did = actions.filter(a => a.name !== 'comment').map(a => a.label).join(', ')
  return `Enzoic breach alert: this user's credentials appeared in ${title}${when}` +
    `${alert.exposureId === undefined ? '' : `, exposure ${alert.exposureId}`}. ` +
    `enzoic-fusionauth-bridge ${did === '' ? 'recorded it' : `applied: ${did}`}. Alert ${alert.id}.`
}

/**
 * Resolves the alert's FusionAuth users and applies the configured actions to each. Idempotent across
 * attempts: an action already logged `ok` for a user in an earlier attempt is not repeated (comments and
 * user actions would otherwise be added twice), and an inactive user is not deactivated again.
 * Throws ActionFailedError (with the log) when a FusionAuth call fails; the worker decides what next.
 */
export async function remediate (alert: AlertRecord, deps: RemediateDeps): Promise<Finish> {
  const { config } = deps
  const now = deps.now ?? Date.now
  const log: ActionLogEntry[] = [...alert.actions]
  const stamp = (): string => new Date(now()).toISOString()
  const doneBefore = (userId: string, action: string): boolean =>
    alert.actions.some(e => e.userId === userId && e.action === action && e.status === 'ok')

  if (alert.test) return { outcome: 'test', users: [], actions: log, note: 'test alert: no action' }

  let users: FusionAuthUser[]
  try {
    users = await resolveUsers(alert, deps)
  } catch (err) {
    if (err instanceof FusionAuthError) {
      log.push({ at: stamp(), action: 'lookup', status: 'failed', httpStatus: err.status, detail: err.message })
      throw new ActionFailedError(err, log)
    }
    throw err
  }
  if (users.length === 0) {
    log.push({ at: stamp(), action: 'lookup', status: 'skipped', detail: 'no FusionAuth user matches' })
    return { outcome: 'no-user', users: [], actions: log }
  }

  let details = alert.exposureDetails
  if (details === undefined && deps.exposureDetails !== undefined && (config.skipIfPasswordChangedAfterExposure || config.actions.some(a => a.name === 'comment'))) {
    details = await deps.exposureDetails(alert).catch(() => undefined)
  }
  const exposureAt = exposureInstant(alert, details)
  const outcomes: UserOutcome[] = []

  for (const user of users) {
    const verdict = decide(config, user, exposureAt)
    outcomes.push({ userId: user.id, tenantId: user.tenantId, email: user.email, outcome: verdict })
    const base = { userId: user.id, tenantId: user.tenantId }
    if (verdict === 'protected' || verdict === 'stale') {
      log.push({ ...base, at: stamp(), action: 'policy', status: 'skipped', detail: verdict === 'protected' ? 'protected user (BRIDGE_PROTECTED_USERS)' : 'password changed after the exposure' })
      continue
    }
    for (const action of config.actions) {
      const entry = { ...base, action: action.label }
      if (verdict === 'dry-run') {
        log.push({ ...entry, at: stamp(), status: 'planned', detail: 'BRIDGE_DRY_RUN' })
        continue
      }
      if (doneBefore(user.id, action.label)) continue
      if (action.name === 'deactivate' && !user.active) {
        log.push({ ...entry, at: stamp(), status: 'skipped', detail: 'already inactive' })
        continue
      }
      try {
        await runAction(action, user, alert, details, deps)
        log.push({ ...entry, at: stamp(), status: 'ok', httpStatus: 200 })
      } catch (err) {
        if (!(err instanceof FusionAuthError)) throw err
        log.push({ ...entry, at: stamp(), status: 'failed', httpStatus: err.status, detail: err.message })
        throw new ActionFailedError(err, log)
      }
    }
  }

  const distinct = [...new Set(outcomes.map(o => o.outcome))]
  const outcome: Outcome = distinct.length === 1 ? distinct[0]! : 'mixed'
  return { outcome, users: outcomes, actions: log }
}

async function resolveUsers (alert: AlertRecord, { config, gateway }: RemediateDeps): Promise<FusionAuthUser[]> {
  const mapped = parseCustomData(alert.customData)
  if (mapped !== undefined) {
    const allowed = config.tenantIds === undefined || config.tenantIds.includes(mapped.tenantId)
    const user = allowed ? await gateway.getUser(mapped.userId, mapped.tenantId) : undefined
    if (user !== undefined) return [user]
    // The enrolled user is gone (or its tenant is not allowed): fall back to the email, if any.
  }
  if (alert.email === undefined) return []
  return gateway.findUsersByEmail(alert.email)
}

async function runAction (action: ActionSpec, user: FusionAuthUser, alert: AlertRecord, details: ExposureDetails | undefined, { config, gateway }: RemediateDeps): Promise<void> {
  switch (action.name) {
    case 'deactivate': return gateway.deactivate(user)
    case 'revoke-sessions': return gateway.revokeSessions(user)
    case 'require-password-change': return gateway.requirePasswordChange(user)
    case 'comment': return gateway.comment(user, config.actorUserId!, commentText(alert, details, config.actions))
    case 'user-action': return gateway.userAction(user, action.id!, config.actorUserId!, commentText(alert, details, config.actions))
    case 'group': return gateway.addToGroup(user, action.id!)
  }
}
