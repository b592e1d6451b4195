import { commentText } from './exposure-text.js'
import type { ActionModule } from './types.js'

export const userAction: ActionModule = {
  name: 'user-action',
  description: 'applies a FusionAuth user action (e.g. a lock with preventLogin), for ever when it is time-based',
  takesId: 'user action id',
  needsActor: true,
  async run (ctx) {
    const { actionId } = await ctx.gateway.userAction(ctx.user, ctx.id!, ctx.actorUserId!, commentText(ctx))
    if (actionId === undefined) return { state: 'skipped', detail: 'the same user action was already in effect' }
    return { state: 'done', httpStatus: 200, result: { actionId }, undo: { actionId } }
  },
  async undo (ctx, step) {
    const actionId = step.undo?.actionId
    if (typeof actionId !== 'string') return { state: 'kept', detail: 'the bridge did not apply this action' }
    await ctx.gateway.cancelUserAction(ctx.user, actionId, ctx.actorUserId!, `Cancelled by enzoic-fusionauth-bridge: alert ${ctx.alert.id} restored.`)
    return { state: 'undone', detail: `user action ${actionId} cancelled` }
  },
  probes: [{ probe: 'user-action', endpoint: 'POST /api/user/action' }]
}
