import type Database from 'better-sqlite3'
import type { NewStep, StepChange } from '../../alerts/types.js'
import { truncate, type Lease, type Steps, type StepKey, type StepWrites } from '../types.js'
import { groupReport } from '../shared/report.js'
import { changedColumns, plannedColumns } from '../shared/step-writes.js'
import { read, type SqliteContext } from './context.js'
import { rows, type SqliteReportRow, type SqliteStepRow } from './rows.js'
import * as SQL from './sql.js'

/** A plan step as the row CARRIED_PLAN_STEP inserts: what the plan decided, and the change it carries, if any. */
const planRow = (alertSeq: number, st: NewStep & { change?: StepChange }, at: number): Record<string, unknown> => ({
  alertSeq,
  userId: st.userId,
  tenantId: st.tenantId ?? null,
  email: st.email ?? null,
  action: st.action,
  phase: st.phase,
  due: at + st.dueInMs,
  ...plannedColumns(st),
  now: at
})

/**
 * Writes an attempt's carried step writes (store/types.ts `StepWrites`) for the alert `alertSeq`, whose lease its
 * caller checked in the same transaction.
 */
export function stepCarrier (db: Database.Database): (alertSeq: number, w: StepWrites | undefined, at: number) => void {
  const s = { plan: db.prepare(SQL.CARRIED_PLAN_STEP), change: db.prepare(SQL.CARRIED_STEP_CHANGE), unbegin: db.prepare(SQL.CARRIED_STEP_UNBEGIN) }
  return (alertSeq, w, at) => {
    for (const st of w?.plan ?? []) s.plan.run(planRow(alertSeq, st, at))
    for (const c of w?.changes ?? []) {
      if (c.change === undefined) s.unbegin.run(alertSeq, c.userId, c.action)
      else s.change.run({ alertSeq, userId: c.userId, action: c.action, ...changedColumns(c.change), now: at })
    }
  }
}

/** The writes of steps, run by the writer inside the group commit: each checks the lease in the same transaction. */
export function stepWrites (db: Database.Database) {
  const carry = stepCarrier(db)
  const started = { leased: db.prepare(SQL.LEASE_IS_CURRENT_AT), start: db.prepare(SQL.START_STEP) }
  const s = {
    leased: db.prepare(SQL.LEASE_IS_CURRENT),
    planStep: db.prepare(SQL.CARRIED_PLAN_STEP),
    stepsOf: db.prepare(SQL.STEPS_OF_ALERT_SEQ),
    update: db.prepare(SQL.UPDATE_STEP),
    begin: db.prepare(SQL.BEGIN_STEP),
    unbegin: db.prepare(SQL.UNBEGIN_STEP)
  }
  const leasedSeq = (lease: Lease): number | undefined => (s.leased.get(lease.alertId, lease.token) as { seq: number } | undefined)?.seq
  return {
    plan (op: { lease: Lease, steps: NewStep[] }, at: number): SqliteStepRow[] | undefined {
      const alertSeq = leasedSeq(op.lease)
      if (alertSeq === undefined) return undefined
      for (const st of op.steps) s.planStep.run(planRow(alertSeq, st, at))
      return s.stepsOf.all(alertSeq) as SqliteStepRow[]
    },
    stepBegin (op: { lease: Lease, stepId: number }, at: number): boolean {
      return s.begin.run({ stepId: op.stepId, id: op.lease.alertId, token: op.lease.token, now: at }).changes === 1
    },
    /** `steps.start`: the carried writes, then the markers, under the current unexpired lease (see store/types.ts). */
    stepStart (op: { lease: Lease, marks: StepKey[], steps: StepWrites }, at: number): boolean {
      const alertSeq = (started.leased.get(op.lease.alertId, op.lease.token, at) as { seq: number } | undefined)?.seq
      if (alertSeq === undefined) return false
      carry(alertSeq, op.steps, at)
      let marked = 0
      for (const m of op.marks) marked += started.start.run({ alertSeq, userId: m.userId, action: m.action, now: at }).changes
      return marked === op.marks.length
    },
    stepUnbegin (op: { lease: Lease, stepId: number }): boolean {
      return s.unbegin.run({ stepId: op.stepId, id: op.lease.alertId, token: op.lease.token }).changes === 1
    },
    stepUpdate (op: { lease: Lease, stepId: number, change: StepChange }, at: number): boolean {
      const alertSeq = leasedSeq(op.lease)
      if (alertSeq === undefined) return false
      const c = op.change
      return s.update.run({
        stepId: op.stepId,
        alertSeq,
        state: c.state,
        detail: c.detail === undefined ? null : truncate(c.detail),
        httpStatus: c.httpStatus ?? null,
        result: c.result === undefined ? null : JSON.stringify(c.result),
        undo: c.undo === undefined ? null : JSON.stringify(c.undo),
        now: at
      }).changes === 1
    }
  }
}

/** The steps of alerts on SQLite. */
export function sqliteSteps ({ db, write }: SqliteContext): Steps {
  const r = {
    stepsOf: db.prepare(SQL.STEPS_OF_ALERT),
    ofUser: db.prepare(SQL.ALERTS_OF_USER).pluck(),
    report: db.prepare(SQL.STEP_REPORT),
    tenants: db.prepare(SQL.STEP_TENANTS)
  }
  return {
    async plan (l, steps) {
      return (await write({ op: 'plan', lease: l, steps }))?.map(rows.step)
    },
    alertsOfUser: (userId, limit = 50) => read(() => r.ofUser.all(userId.toLowerCase(), limit) as string[]),
    list: alertId => read(() => (r.stepsOf.all(alertId) as SqliteStepRow[]).map(rows.step)),
    update: (l, stepId, change) => write({ op: 'stepUpdate', lease: l, stepId, change }),
    begin: (l, stepId) => write({ op: 'stepBegin', lease: l, stepId }),
    unbegin: (l, stepId) => write({ op: 'stepUnbegin', lease: l, stepId }),
    start: (l, marks, steps) => write({ op: 'stepStart', lease: l, marks: marks.map(m => ({ userId: m.userId, action: m.action })), steps }),
    report: ({ sinceMs, tenantId, limit = 1000 }) => read(() => groupReport(
      r.report.iterate({ since: sinceMs ?? 0, tenant: tenantId ?? null }) as Iterable<SqliteReportRow>, rows.reportEntry, limit)),
    tenants: (prefix = '', limit = 50) => read(() => (r.tenants.all({ prefix: prefix.toLowerCase(), limit }) as Array<{ tenant_id: string }>).map(x => x.tenant_id))
  }
}
