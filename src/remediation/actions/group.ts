import { endpoint } from '../../fusionauth/index.js'
import type { ActionModule } from './types.js'

const ADD = endpoint('group.member.add', 'POST', '/api/group/member', 'json')
const REMOVE = endpoint('group.member.remove', 'DELETE', '/api/group/member', 'empty')
const GET_GROUP = endpoint('group.get', 'GET', '/api/group/{groupId}', 'json')

export const group: ActionModule = {
  name: 'group',
  description: 'adds the user to a group (e.g. one your applications treat as "breached")',
  takesId: {
    what: 'group id',
    field: 'groupId',
    lookup: {
      endpoint: GET_GROUP,
      judge: answer => {
        const g = answer.group as { name?: unknown } | undefined
        return { ok: true, detail: `group${typeof g?.name === 'string' ? ` "${g.name}"` : ''} exists` }
      }
    }
  },
  calls: { run: [ADD], undo: [REMOVE] },
  async run ({ user, fusionauth, id }) {
    if (user.groupIds?.includes(id!) === true) return { state: 'skipped', detail: 'already a member' }
    await fusionauth.call(ADD, { tenantId: user.tenantId, body: { members: { [id!]: [{ userId: user.id }] } } })
    return { state: 'done', httpStatus: 200, undo: { groupId: id } }
  },
  async confirm ({ user, id }) {
    return user.groupIds?.includes(id!) === true ? { state: 'done', httpStatus: 200, undo: { groupId: id } } : undefined
  },
  async undo ({ user, fusionauth }, step) {
    const groupId = step.undo?.groupId
    if (typeof groupId !== 'string') return { state: 'kept', detail: 'the bridge did not add this membership' }
    if (user.groupIds?.includes(groupId) !== true) return { state: 'kept', detail: 'no longer a member' }
    await fusionauth.call(REMOVE, { tenantId: user.tenantId, body: { members: { [groupId]: [user.id] } } })
    return { state: 'undone', detail: `removed from group ${groupId}` }
  }
}
