import { endpoint } from '../../fusionauth/index.js'
import type { ActionModule } from './types.js'

const PATCH_USER = endpoint('user.require-password-change', 'PATCH', '/api/user/{userId}', 'json')
const CLEAR = endpoint('user.clear-password-change', 'PATCH', '/api/user/{userId}', 'json')

export const requirePasswordChange: ActionModule = {
  name: 'require-password-change',
  description: 'the user must change their password at the next login (reason Breached)',
  calls: { run: [PATCH_USER], undo: [CLEAR] },
  async run ({ user, fusionauth }) {
    if (user.passwordChangeRequired === true) return { state: 'skipped', detail: 'a password change was already required' }
    await fusionauth.call(PATCH_USER, { params: { userId: user.id }, tenantId: user.tenantId, body: { user: { passwordChangeRequired: true, passwordChangeReason: 'Breached' } } })
    return { state: 'done', httpStatus: 200, undo: { wasRequired: false } }
  },
  async confirm ({ user }) {
    return user.passwordChangeRequired === true ? { state: 'done', httpStatus: 200, undo: { wasRequired: false } } : undefined
  },
  async undo ({ user, fusionauth }, step) {
    if (step.undo?.wasRequired !== false) return { state: 'kept', detail: 'the bridge did not set it' }
    if (user.passwordChangeRequired !== true) return { state: 'kept', detail: 'no longer required (changed since)' }
    await fusionauth.call(CLEAR, { params: { userId: user.id }, tenantId: user.tenantId, body: { user: { passwordChangeRequired: false } } })
    return { state: 'undone', detail: 'password change no longer required' }
  }
}
