import { USER_OUTCOME_NAMES, userOutcomeOf, type UserOutcomeName } from '../alerts/outcomes.js'
import type { Store, UserExposure } from '../store/types.js'

/** Where a user stands for one exposure (the compromised-users report): the same names as an alert's users. */
export type UserState = UserOutcomeName
export const USER_STATES: readonly UserState[] = USER_OUTCOME_NAMES

export interface UserRow extends UserExposure { state: UserState }

/** The user's state from the steps of every alert that carried this exposure for them (alerts/outcomes.ts). */
export function userState (steps: UserExposure['steps']): UserState {
  return userOutcomeOf(steps)
}

export interface UserFilter { sinceMs?: number, tenantId?: string, state?: UserState, limit?: number }

/** `breach-bridge users list`: one row per user and exposure, newest first. */
export async function listUsers (store: Store, filter: UserFilter = {}): Promise<UserRow[]> {
  const rows = await store.steps.report({ sinceMs: filter.sinceMs, tenantId: filter.tenantId, limit: filter.limit ?? 1000 })
  return rows.map(r => ({ ...r, state: userState(r.steps) })).filter(r => filter.state === undefined || r.state === filter.state)
}
