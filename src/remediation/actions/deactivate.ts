import { endpoint } from '../../fusionauth/index.js'
import type { ActionModule } from './types.js'

/** DELETE without `hardDelete` is FusionAuth's soft delete (active=false, reversible). Never `hardDelete`. */
const DEACTIVATE = endpoint('user.deactivate', 'DELETE', '/api/user/{userId}', 'empty')
const REACTIVATE = endpoint('user.reactivate', 'PUT', '/api/user/{userId}', 'json', ['reactivate'])

export const deactivate: ActionModule = {
  name: 'deactivate',
  description: 'soft-deletes the user (active=false; reversible, never hardDelete)',
  calls: { run: [DEACTIVATE], undo: [REACTIVATE] },
  async run ({ user, fusionauth }) {
    if (!user.active) return { state: 'skipped', detail: 'already inactive' }
    await fusionauth.call(DEACTIVATE, { params: { userId: user.id }, tenantId: user.tenantId })
    return { state: 'done', httpStatus: 200, undo: { wasActive: true }, userChanged: { active: false } }
  },
  // Marked started, and inactive now: the earlier attempt's call went through (the user was active when it began).
  async confirm ({ user }) {
    return user.active ? undefined : { state: 'done', httpStatus: 200, undo: { wasActive: true }, userChanged: { active: false } }
  },
  async undo ({ user, fusionauth }, step) {
    // Only a user this bridge deactivated; one deactivated before it acted was never `done` here.
    if (step.undo?.wasActive !== true) return { state: 'kept', detail: 'the bridge did not deactivate this user' }
    if (user.active) return { state: 'kept', detail: 'already active again' }
    await fusionauth.call(REACTIVATE, { params: { userId: user.id }, query: { reactivate: true }, tenantId: user.tenantId })
    return { state: 'undone', detail: 'reactivated' }
  },
  events: {
    done: { event: 'user.deactivated', message: 'user deactivated' },
    undone: { event: 'user.reactivated', message: 'user reactivated' }
  }
}
