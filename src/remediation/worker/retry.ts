/** Wait before attempt n+1 (n ≥ 1 attempts made): the schedule's n-th step ±20 %. */
export function retryDelay (schedule: readonly number[], attemptsMade: number, random: () => number): number | undefined {
  const step = schedule[attemptsMade - 1]
  if (step === undefined) return undefined
  return Math.round(step * (0.8 + 0.4 * random()))
}

/** Retry-After is honoured up to this: a server asking for more is not believed. */
export const MAX_RETRY_AFTER_MS = 3_600_000

/**
 * Wait before the next attempt, undefined when the schedule is exhausted. FusionAuth's Retry-After (429, 503)
 * is a floor: never come back sooner than it asked, at most in an hour.
 */
export function nextAttemptIn (schedule: readonly number[], attemptsMade: number, random: () => number, retryAfterMs?: number): number | undefined {
  const step = retryDelay(schedule, attemptsMade, random)
  if (step === undefined || retryAfterMs === undefined) return step
  return Math.max(step, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS))
}
