import type { ActionModule } from './types.js'

export const group: ActionModule = {
  name: 'group',
  description: 'adds the user to a group (e.g. one your applications treat as "breached")',
  takesId: 'group id',
  async run ({ user, gateway, id }) {
    if (user.groupIds?.includes(id!) === true) return { state: 'skipped', detail: 'already a member' }
    await gateway.addToGroup(user, id!)
    return { state: 'done', httpStatus: 200, undo: { groupId: id } }
  },
  async undo ({ user, gateway }, step) {
    const groupId = step.undo?.groupId
    if (typeof groupId !== 'string') return { state: 'kept', detail: 'the bridge did not add this membership' }
    if (user.groupIds?.includes(groupId) !== true) return { state: 'kept', detail: 'no longer a member' }
    await gateway.removeFromGroup(user, groupId)
    return { state: 'undone', detail: `removed from group ${groupId}` }
  },
  probes: [{ probe: 'group', endpoint: 'POST /api/group/member' }]
}
