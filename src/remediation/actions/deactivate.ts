import type { ActionModule } from './types.js'

export const deactivate: ActionModule = {
  name: 'deactivate',
  description: 'soft-deletes the user (active=false; reversible, never hardDelete)',
  async run ({ user, gateway }) {
    if (!user.active) return { state: 'skipped', detail: 'already inactive' }
    await gateway.deactivate(user)
    return { state: 'done', httpStatus: 200, undo: { wasActive: true } }
  },
  async undo ({ user, gateway }, step) {
    // Only a user this bridge deactivated; one deactivated before it acted was never `done` here.
    if (step.undo?.wasActive !== true) return { state: 'kept', detail: 'the bridge did not deactivate this user' }
    if (user.active) return { state: 'kept', detail: 'already active again' }
    await gateway.reactivate(user)
    return { state: 'undone', detail: 'reactivated' }
  },
  probes: [{ probe: 'deactivate', endpoint: 'DELETE /api/user/{id}' }]
}
