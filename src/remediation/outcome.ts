import type { Outcome, Step, UserOutcome } from '../alerts/types.js'

const VERDICTS = new Set(['protected', 'stale', 'dry-run', 'mismatch'])

/** Each user's outcome, from their steps (in plan order): what an operator asks "what became of them?". */
export function userOutcomes (steps: readonly Step[]): UserOutcome[] {
  const byUser = new Map<string, Step[]>()
  for (const s of steps) byUser.set(s.userId, [...byUser.get(s.userId) ?? [], s])
  return [...byUser.values()].map(list => {
    const first = list[0]!
    const base = { userId: first.userId, tenantId: first.tenantId, email: first.email }
    const verdict = list.find(s => typeof s.result?.verdict === 'string')
    if (verdict !== undefined && VERDICTS.has(String(verdict.result!.verdict))) {
      return { ...base, outcome: verdict.result!.verdict as UserOutcome['outcome'], detail: verdict.detail }
    }
    if (list.some(s => s.state === 'undone')) return { ...base, outcome: 'restored' }
    if (list.some(s => s.state === 'cancelled')) return { ...base, outcome: 'cancelled' }
    const selfRemediated = list.find(s => s.phase === 'grace' && s.state === 'skipped' && s.detail === 'self-remediated')
    if (selfRemediated !== undefined) return { ...base, outcome: 'self-remediated' }
    return { ...base, outcome: 'actioned' }
  })
}

/**
 * The alert's outcome from its steps: one user's outcome when all agree, `mixed` when they differ,
 * `partial` when a step failed for good beside steps that succeeded (`failed` when nothing succeeded).
 */
export function alertOutcome (steps: readonly Step[]): Outcome {
  if (steps.length === 0) return 'no-user'
  const failed = steps.some(s => s.state === 'failed')
  if (failed) return steps.some(s => s.state === 'done') ? 'partial' : 'failed'
  const distinct = [...new Set(userOutcomes(steps).map(u => u.outcome))]
  return distinct.length === 1 ? distinct[0]! : 'mixed'
}
