import { commentText } from './exposure-text.js'
import type { ActionModule } from './types.js'

export const comment: ActionModule = {
  name: 'comment',
  description: 'adds a comment on the user: the exposure, what the bridge did, the alert id',
  needsActor: true,
  async run (ctx) {
    await ctx.gateway.comment(ctx.user, ctx.actorUserId!, commentText(ctx))
    return { state: 'done', httpStatus: 200 }
  },
  cannotUndo: 'a comment is history: FusionAuth keeps it (delete it there if it must go)',
  probes: [{ probe: 'comment', endpoint: 'POST /api/user/comment' }]
}
