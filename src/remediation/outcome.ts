import { alertOutcomeOf, userOutcomeOf } from '../alerts/outcomes.js'
import type { Outcome, Step, UserOutcome } from '../alerts/types.js'

/** Each user's outcome, from their steps (in plan order): what an operator asks "what became of them?". */
export function userOutcomes (steps: readonly Step[]): UserOutcome[] {
  const byUser = new Map<string, Step[]>()
  for (const s of steps) byUser.set(s.userId, [...byUser.get(s.userId) ?? [], s])
  return [...byUser.values()].map(list => {
    const first = list[0]!
    const outcome = userOutcomeOf(list)
    // The reason of a verdict (the customData/email disagreement …) or of an uncertain step.
    const detail = outcome === 'uncertain'
      ? list.find(s => s.state === 'uncertain')?.detail
      : ['protected', 'stale', 'dry-run', 'mismatch'].includes(outcome) ? list.find(s => s.result?.verdict === outcome)?.detail : undefined
    return { userId: first.userId, tenantId: first.tenantId, email: first.email, outcome, ...(detail === undefined ? {} : { detail }) }
  })
}

/** The alert's outcome from its steps (alerts/outcomes.ts: one user's when all agree, `partial`, `mixed`, …). */
export function alertOutcome (steps: readonly Step[]): Outcome {
  return alertOutcomeOf(userOutcomes(steps).map(u => u.outcome), steps)
}
