import { endpoint } from '../../fusionauth/index.js'
import { commentText } from './exposure-text.js'
import type { ActionModule } from './types.js'

const COMMENT = endpoint('user.comment', 'POST', '/api/user/comment', 'json')

export const comment: ActionModule = {
  name: 'comment',
  description: 'adds a comment on the user: the exposure, what the bridge did, the alert id',
  needs: { actor: true, exposure: true },
  calls: { run: [COMMENT] },
  async run (ctx) {
    await ctx.fusionauth.call(COMMENT, { tenantId: ctx.user.tenantId, body: { userComment: { userId: ctx.user.id, commenterId: ctx.actorUserId!, comment: commentText(ctx) } } })
    return { state: 'done', httpStatus: 200 }
  },
  cannotUndo: 'a comment is history: FusionAuth keeps it (delete it there if it must go)'
}
