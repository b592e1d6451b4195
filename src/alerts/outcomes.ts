/**
 * The one vocabulary of outcomes (docs/cli.md and the README's tables are generated from it): what became of a
 * user, and of an alert, derived from their steps by one set of rules. `alerts list`, `alerts show`, `users list`,
 * the digest and `--outcome`/`--state` all use these names, so the same alert reads the same everywhere.
 */
import { ALERT_STATES, STEP_STATES, type AlertState, type Step, type StepState } from './types.js'

/** What each alert state means (`alerts list --state`, the README and docs/cli.md are generated from it). */
export const ALERT_STATE_MEANINGS: Record<AlertState, string> = {
  queued: 'stored, waiting for a worker',
  processing: 'a worker holds it (under a lease) and is calling FusionAuth',
  retrying: 'a call failed in a way worth retrying: the next attempt is scheduled (`BRIDGE_RETRY_SCHEDULE`)',
  waiting: 'a grace period: steps are due at their deadline',
  done: 'finished: its outcome says how',
  dead: 'failed for good, or out of retries: fix the cause, then `alerts replay`'
}

/** What each step state means (`alerts show` lists the steps). */
export const STEP_STATE_MEANINGS: Record<StepState, string> = {
  pending: 'due at once, or at the grace deadline',
  done: 'FusionAuth did it (what undo needs is recorded)',
  skipped: 'not needed or not allowed (already inactive, self-remediated, protected, …)',
  failed: 'FusionAuth refused it for good',
  uncertain: 'an email may or may not have been sent: `alerts resend-notice` decides',
  cancelled: 'an operator cancelled it before it ran',
  undone: 'an operator\'s restore took it back'
}

export { ALERT_STATES, STEP_STATES }

/** Where one user stands for one alert (and, across the alerts of one exposure, in `users list`). */
export const USER_OUTCOMES = {
  pending: 'steps wait for the grace deadline (or a retry)',
  actioned: 'the actions were done, or were not needed (already inactive, already a member, …)',
  'self-remediated': 'the user changed their password in the grace period: the grace actions were skipped',
  resolved: 'the user changed their password after the bridge required it (a FusionAuth event said so): the case is closed',
  uncertain: 'an email may or may not have been sent: `alerts resend-notice` decides',
  failed: 'FusionAuth refused a step for good (`alerts replay` retries it)',
  protected: 'a protected user or a member of a protected group: nothing done',
  stale: 'the password changed after the exposure: nothing done',
  'dry-run': 'planned, not done (dry run)',
  mismatch: 'the alert\'s customData and its email disagree: nothing done',
  cancelled: 'an operator cancelled the pending steps',
  restored: 'an operator undid what the bridge did'
} as const

export type UserOutcomeName = keyof typeof USER_OUTCOMES

/** An alert's outcome: its users' when they agree, or one of the alert-level ones. */
export const ALERT_OUTCOMES = {
  ...Object.fromEntries(Object.entries(USER_OUTCOMES).filter(([k]) => k !== 'pending')) as Omit<typeof USER_OUTCOMES, 'pending'>,
  'no-user': 'no FusionAuth user has the alert\'s email',
  test: 'a test alert (a reserved test domain): stored, FusionAuth not called',
  partial: 'a step failed for good beside steps that succeeded',
  mixed: 'its users\' outcomes differ (`alerts show` lists each)'
} as const

export type OutcomeName = keyof typeof ALERT_OUTCOMES

/** The names, in table order. */
export const USER_OUTCOME_NAMES = Object.keys(USER_OUTCOMES) as UserOutcomeName[]
export const OUTCOME_NAMES = Object.keys(ALERT_OUTCOMES) as OutcomeName[]

const VERDICTS = new Set<string>(['protected', 'stale', 'dry-run', 'mismatch'])

/** What the rules read of a step. */
export type OutcomeStep = Pick<Step, 'state' | 'phase' | 'detail' | 'result'>

/**
 * One user's outcome from their steps (of one alert, or of every alert of one exposure), first rule that holds:
 * a verdict (protected, stale, dry run, mismatch), restored, cancelled, pending, failed, uncertain,
 * self-remediated, resolved, else actioned.
 */
export function userOutcomeOf (steps: readonly OutcomeStep[]): UserOutcomeName {
  const verdict = steps.find(s => typeof s.result?.verdict === 'string' && VERDICTS.has(s.result.verdict))
  if (verdict !== undefined) return verdict.result!.verdict as UserOutcomeName
  const has = (state: Step['state']): boolean => steps.some(s => s.state === state)
  if (has('undone')) return 'restored'
  if (has('cancelled')) return 'cancelled'
  if (has('pending')) return 'pending'
  if (has('failed')) return 'failed'
  if (has('uncertain')) return 'uncertain'
  if (steps.some(s => s.phase === 'grace' && s.state === 'skipped' && s.detail === 'self-remediated')) return 'self-remediated'
  if (steps.some(s => s.state === 'done' && s.result?.resolvedBy !== undefined)) return 'resolved'
  return 'actioned'
}

/**
 * An alert's outcome from its users' (`users` of its steps): theirs when all agree; `partial` when a step failed
 * beside steps that succeeded; `mixed` when they differ; `no-user` with none.
 */
export function alertOutcomeOf (users: readonly UserOutcomeName[], steps: readonly OutcomeStep[]): OutcomeName {
  if (users.length === 0) return 'no-user'
  if (steps.some(s => s.state === 'failed') && steps.some(s => s.state === 'done')) return 'partial'
  const distinct = [...new Set(users)]
  if (distinct.length > 1) return 'mixed'
  // A finished alert has no pending user; a waiting one reads as actioned so far.
  return distinct[0] === 'pending' ? 'actioned' : distinct[0]!
}
