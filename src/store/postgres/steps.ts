import { truncate, type Steps, type StepWrites } from '../types.js'
import { groupReport } from '../shared/report.js'
import { changedColumns, plannedColumns } from '../shared/step-writes.js'
import type { Database } from './database.js'
import { rows, type PgReportRow, type PgStepRow } from './rows.js'
import * as SQL from './sql.js'

/** The steps of alerts on PostgreSQL: plans and updates check the lease in the same statement. */
export function postgresSteps (db: Database): Steps {
  return {
    async plan (l, steps) {
      const col = <T>(f: (st: typeof steps[number]) => T): T[] => steps.map(f)
      const inserted = await db.workQuery<PgStepRow>(SQL.PLAN_STEPS, [l.alertId, l.token, col(st => st.userId), col(st => st.tenantId ?? null),
        col(st => st.email ?? null), col(st => st.action), col(st => st.phase), col(st => st.dueInMs),
        col(st => st.skipped ?? null), col(st => st.verdict ?? null)])
      // The first plan inserts every step: one round trip. Otherwise some existed (or the lease is gone).
      if (inserted.length === steps.length) return inserted.map(rows.step)
      if ((await db.query(SQL.LEASE_IS_CURRENT, [l.alertId, l.token])).length === 0) return undefined
      return (await db.query<PgStepRow>(SQL.STEPS_OF_ALERT, [l.alertId])).map(rows.step)
    },
    async alertsOfUser (userId, limit = 50) {
      return (await db.query<{ id: string }>(SQL.ALERTS_OF_USER, [userId.toLowerCase(), limit])).map(r => r.id)
    },
    async list (alertId) {
      return (await db.query<PgStepRow>(SQL.STEPS_OF_ALERT, [alertId])).map(rows.step)
    },
    async update (l, stepId, c) {
      return await db.workRowsChanged(SQL.UPDATE_STEP, [l.alertId, l.token, stepId, c.state, c.detail === undefined ? null : truncate(c.detail),
        c.httpStatus ?? null, c.result === undefined ? null : JSON.stringify(c.result), c.undo === undefined ? null : JSON.stringify(c.undo)]) === 1
    },
    async begin (l, stepId) {
      // Flushed before it is answered: the marker must survive a crash of PostgreSQL as well as of the bridge.
      return await db.rowsChanged(SQL.BEGIN_STEP, [l.alertId, l.token, stepId]) === 1
    },
    async unbegin (l, stepId) {
      return await db.workRowsChanged(SQL.UNBEGIN_STEP, [l.alertId, l.token, stepId]) === 1
    },
    async start (l, marks, steps) {
      // Flushed before it is answered, as `begin` (the statement turns the flush on for itself on the worker's pool).
      const keys = [marks.map(m => m.userId), marks.map(m => m.action)]
      const r = await db.workQuery<{ n: number }>(SQL.START_STEP, [l.alertId, l.token, ...keys, ...stepWriteValues(steps)])
      return (r[0]?.n ?? 0) === marks.length
    },
    async report ({ sinceMs, tenantId, limit = 1000 }) {
      const found = await db.query<PgReportRow>(SQL.STEP_REPORT, [new Date(sinceMs ?? 0), tenantId ?? null, limit * 20])
      return groupReport(found, rows.reportEntry, limit)
    },
    async tenants (prefix = '', limit = 50) {
      return (await db.query<{ tenant_id: string }>(SQL.STEP_TENANTS, [prefix.toLowerCase(), limit])).map(x => x.tenant_id)
    }
  }
}

/** The parameters of sql.ts `stepWrites`: the plan's 11 column arrays, then the changes' 7. */
export function stepWriteValues (w: StepWrites | undefined): unknown[] {
  const plan = w?.plan ?? []
  const changes = w?.changes ?? []
  const planned = plan.map(plannedColumns)
  const changed = changes.map(c => c.change === undefined ? undefined : changedColumns(c.change))
  return [
    plan.map(st => st.userId), plan.map(st => st.tenantId ?? null), plan.map(st => st.email ?? null), plan.map(st => st.action),
    plan.map(st => st.phase), plan.map(st => st.dueInMs), planned.map(c => c.state), planned.map(c => c.detail), planned.map(c => c.httpStatus),
    planned.map(c => c.result), planned.map(c => c.undo),
    changes.map(c => c.userId), changes.map(c => c.action), changed.map(c => c?.state ?? null), changed.map(c => c?.detail ?? null),
    changed.map(c => c?.httpStatus ?? null), changed.map(c => c?.result ?? null), changed.map(c => c?.undo ?? null)
  ]
}
