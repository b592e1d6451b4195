import type { Store, UserExposure } from '../store/types.js'

/** Where a user stands for one exposure (the compromised-users report). */
export type UserState = 'pending' | 'actioned' | 'self-remediated' | 'restored' | 'cancelled' | 'protected' | 'stale' | 'dry-run' | 'mismatch' | 'failed'
export const USER_STATES: readonly UserState[] = ['pending', 'actioned', 'self-remediated', 'restored', 'cancelled', 'protected', 'stale', 'dry-run', 'mismatch', 'failed']

export interface UserRow extends UserExposure { state: UserState }

/** The user's state from the steps of every alert that carried this exposure for them. */
export function userState (steps: UserExposure['steps']): UserState {
  const has = (state: string, detail?: (d: string | undefined) => boolean): boolean => steps.some(s => s.state === state && (detail === undefined || detail(s.detail)))
  if (has('undone')) return 'restored'
  if (has('pending')) return 'pending'
  if (has('failed')) return 'failed'
  if (has('skipped', d => d === 'self-remediated')) return 'self-remediated'
  if (has('done')) return 'actioned'
  if (has('cancelled')) return 'cancelled'
  const verdict = steps.map(s => s.detail ?? '')
  if (verdict.some(d => d.startsWith('protected') || d.startsWith('member of protected group'))) return 'protected'
  if (verdict.some(d => d.startsWith('password changed after the exposure'))) return 'stale'
  if (verdict.some(d => d.startsWith('dry run'))) return 'dry-run'
  if (verdict.some(d => d.startsWith('customData names user'))) return 'mismatch'
  return 'actioned' // every step skipped as not needed (already inactive, already a member, …)
}

export interface UserFilter { sinceMs?: number, tenantId?: string, state?: UserState, limit?: number }

/** `breach-bridge users list`: one row per user and exposure, newest first. */
export async function listUsers (store: Store, filter: UserFilter = {}): Promise<UserRow[]> {
  const rows = await store.steps.report({ sinceMs: filter.sinceMs, tenantId: filter.tenantId, limit: filter.limit ?? 1000 })
  return rows.map(r => ({ ...r, state: userState(r.steps) })).filter(r => filter.state === undefined || r.state === filter.state)
}
