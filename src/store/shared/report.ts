import type { UserExposure } from '../types.js'
import type { ReportEntry } from './rows.js'

/**
 * Folds step rows (newest alert first) into one row per user and exposure — the compromised-users report —
 * reading no further than `limit` such rows need.
 */
export function groupReport<R> (rows: Iterable<R>, read: (row: R) => ReportEntry, limit: number): UserExposure[] {
  const out = new Map<string, UserExposure>()
  for (const row of rows) {
    const { step, alertId, exposureId, source, receivedAt } = read(row)
    // FusionAuth's detection at a login is an exposure of its own (it has no Enzoic exposure id).
    const key = JSON.stringify([step.tenantId ?? null, step.userId, exposureId ?? null, source])
    let entry = out.get(key)
    if (entry === undefined) {
      if (out.size >= limit) break
      entry = {
        userId: step.userId,
        tenantId: step.tenantId,
        email: step.email,
        exposureId,
        source,
        alertIds: [],
        firstSeen: receivedAt,
        lastChange: step.updatedAt,
        steps: []
      }
      out.set(key, entry)
    }
    if (!entry.alertIds.includes(alertId)) entry.alertIds.push(alertId)
    if (receivedAt < entry.firstSeen) entry.firstSeen = receivedAt
    if (step.updatedAt > entry.lastChange) entry.lastChange = step.updatedAt
    entry.email ??= step.email
    entry.steps.push({ action: step.action, phase: step.phase, state: step.state, detail: step.detail, dueAt: step.dueAt, result: step.result })
  }
  return [...out.values()]
}
