import type { NewStep, StepChange, StepState } from '../../alerts/types.js'
import { truncate, type StepWrites } from '../types.js'

/** A step's columns that an attempt writes, as both backends store them (JSON columns as text). */
export interface StepColumns {
  state: StepState
  detail: string | null
  httpStatus: number | null
  result: string | null
  undo: string | null
}

/**
 * A carried plan step (store/types.ts `StepWrites.plan`) as the row it becomes: what the plan decided (pending, or
 * skipped with its detail and verdict), then its change applied the way `steps.update` applies one.
 */
export function plannedColumns (st: NewStep & { change?: StepChange }): StepColumns {
  const c = st.change
  const planned: StepColumns = {
    state: st.skipped === undefined ? 'pending' : 'skipped',
    detail: st.skipped ?? null,
    httpStatus: null,
    result: st.verdict === undefined ? null : JSON.stringify({ verdict: st.verdict }),
    undo: null
  }
  return c === undefined ? planned : { ...changedColumns(c), result: c.result === undefined ? planned.result : JSON.stringify(c.result) }
}

/** A recorded change as the columns it sets (result and undo: null keeps what the step has). */
export function changedColumns (c: StepChange): StepColumns {
  return {
    state: c.state,
    detail: c.detail === undefined ? null : truncate(c.detail),
    httpStatus: c.httpStatus ?? null,
    result: c.result === undefined ? null : JSON.stringify(c.result),
    undo: c.undo === undefined ? null : JSON.stringify(c.undo)
  }
}

/** Whether there is anything to write. */
export const carriesAnything = (w: StepWrites | undefined): w is StepWrites => (w?.plan?.length ?? 0) + (w?.changes?.length ?? 0) > 0
