import type { ActionModule } from './types.js'

export const requirePasswordChange: ActionModule = {
  name: 'require-password-change',
  description: 'the user must change their password at the next login (reason Breached)',
  async run ({ user, gateway }) {
    if (user.passwordChangeRequired === true) return { state: 'skipped', detail: 'a password change was already required' }
    await gateway.requirePasswordChange(user)
    return { state: 'done', httpStatus: 200, undo: { wasRequired: false } }
  },
  async undo ({ user, gateway }, step) {
    if (step.undo?.wasRequired !== false) return { state: 'kept', detail: 'the bridge did not set it' }
    if (user.passwordChangeRequired !== true) return { state: 'kept', detail: 'no longer required (changed since)' }
    await gateway.clearPasswordChange(user)
    return { state: 'undone', detail: 'password change no longer required' }
  },
  probes: [{ probe: 'require-password-change', endpoint: 'PATCH /api/user/{id}' }]
}
