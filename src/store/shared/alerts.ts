import type { AlertRecord, AlertState } from '../../alerts/types.js'
import { ALERT_STATES } from '../../alerts/types.js'
import type { PurgeResult, Summary } from '../types.js'

/** `alerts.countByState`: every state present, 0 where no alert is in it. */
export function countsByState (rows: Iterable<{ state: AlertState, n: number }>): Record<AlertState, number> {
  const out = Object.fromEntries(ALERT_STATES.map(k => [k, 0])) as Record<AlertState, number>
  for (const c of rows) out[c.state] = c.n
  return out
}

/** Counts by outcome; alerts without one count under `none`. */
export function countsByOutcome (rows: ReadonlyArray<{ outcome: string | null, n: number }>): Record<string, number> {
  return Object.fromEntries(rows.map(c => [c.outcome ?? 'none', c.n]))
}

/** `alerts.summary`: what finished in the window, by outcome, the first few of them, and what is dead or waiting now. */
export function summaryOf (
  byOutcome: ReadonlyArray<{ outcome: string | null, n: number }>, first: readonly AlertRecord[], now: { dead: number, waiting: number }
): Summary {
  return {
    byOutcome: countsByOutcome(byOutcome),
    alerts: first.map(a => ({ id: a.id, outcome: a.outcome, state: a.state, email: a.email, exposureId: a.exposureId, users: a.users })),
    dead: now.dead,
    waiting: now.waiting
  }
}

/** Alerts purged per transaction: a large purge never holds the writer (and ingest) for long. */
export const PURGE_SLICE = 2000

/** `alerts.purge`: runs `purgeSlice` (one transaction purging up to `limit` alerts) until a slice comes back short. */
export async function purgeInSlices (purgeSlice: (limit: number) => Promise<number>): Promise<PurgeResult> {
  let purged = 0
  for (;;) {
    const n = await purgeSlice(PURGE_SLICE)
    purged += n
    if (n < PURGE_SLICE) return { purged }
  }
}
