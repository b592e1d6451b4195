import { endpoint } from '../../fusionauth/index.js'
import { commentText } from './exposure-text.js'
import type { ActionModule } from './types.js'

const COMMENT = endpoint('user.comment', 'POST', '/api/user/comment', 'json')
const COMMENTS = endpoint('user.comments', 'GET', '/api/user/comment/{userId}', 'json')

export const comment: ActionModule = {
  name: 'comment',
  description: 'adds a comment on the user: the exposure, what the bridge did, the alert id',
  needs: { actor: true, exposure: true },
  calls: { run: [COMMENT], confirm: [COMMENTS] },
  async run (ctx) {
    const userComment = { userId: ctx.user.id, commenterId: ctx.actorUserId!, comment: commentText(ctx) }
    await ctx.fusionauth.call(COMMENT, { tenantId: ctx.user.tenantId, body: { userComment } })
    return { state: 'done', httpStatus: 200 }
  },
  // The alert's comment is on the user already (its text names the alert): not a second one.
  async confirm (ctx) {
    const r = await ctx.fusionauth.call<{ userComments?: Array<{ comment?: unknown }> }>(COMMENTS, {
      params: { userId: ctx.user.id }, tenantId: ctx.user.tenantId
    })
    const mine = (r.userComments ?? []).some(c => typeof c.comment === 'string' && c.comment.includes(`Alert ${ctx.alert.id}`))
    return mine ? { state: 'done', httpStatus: 200 } : undefined
  },
  cannotUndo: 'a comment is history: FusionAuth keeps it (delete it there if it must go)'
}
