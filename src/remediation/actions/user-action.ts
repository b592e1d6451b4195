import { endpoint, FusionAuthError } from '../../fusionauth/index.js'
import { commentText } from './exposure-text.js'
import type { ActionModule } from './types.js'

const ACTION = endpoint('user.action', 'POST', '/api/user/action', 'json')
const CANCEL = endpoint('user.action.cancel', 'DELETE', '/api/user/action/{actionId}', 'json')
const GET_USER_ACTION = endpoint('user-action.get', 'GET', '/api/user-action/{userActionId}', 'json')
const ACTIONS_OF_USER = endpoint('user.actions', 'GET', '/api/user/action', 'json', ['userId', 'active'])

/** Java's "forever" (2^63−1) is no JS number: 9999-12-31 is as good for a breach lock. */
export const FOREVER = Date.UTC(9999, 11, 31, 23, 59, 59)

const alreadyActioned = (err: unknown): boolean => err instanceof FusionAuthError && err.fusionAuthCode === '[UserAlreadyActioned]'

export const userAction: ActionModule = {
  name: 'user-action',
  description: 'applies a FusionAuth user action (e.g. a lock with preventLogin), for ever when it is time-based',
  takesId: {
    what: 'user action id',
    field: 'userActionId',
    lookup: {
      endpoint: GET_USER_ACTION,
      judge: answer => {
        const a = (answer.userAction ?? {}) as { name?: unknown, active?: unknown, temporal?: unknown, preventLogin?: unknown }
        const name = typeof a.name === 'string' ? ` "${a.name}"` : ''
        if (a.active === false) return { ok: false, detail: `user action${name} is inactive: FusionAuth refuses to apply it` }
        return { ok: true, detail: `user action${name} exists${a.temporal === true ? ` (time-based${a.preventLogin === true ? ', prevents login' : ''})` : ''}` }
      }
    }
  },
  needs: { actor: true, exposure: true },
  calls: { run: [ACTION], undo: [CANCEL], confirm: [ACTIONS_OF_USER] },
  async run (ctx) {
    const send = async (expiry?: number): Promise<string | undefined> => {
      const action = { actioneeUserId: ctx.user.id, actionerUserId: ctx.actorUserId!, userActionId: ctx.id!, comment: commentText(ctx), expiry }
      const r = await ctx.fusionauth.call<{ action?: { id?: unknown } }>(ACTION, { tenantId: ctx.user.tenantId, body: { action } })
      return typeof r.action?.id === 'string' ? r.action.id : undefined
    }
    let actionId: string | undefined
    try {
      actionId = await send()
    } catch (err) {
      // A time-based (temporal) action, e.g. a lock with preventLogin, needs an expiry; a plain one refuses
      // it. Rather than read the action's definition (another permission), ask again with "forever".
      const needsExpiry = err instanceof FusionAuthError && err.status === 400 && /\]action\.expiry$/.test(err.fusionAuthCode ?? '')
      if (!alreadyActioned(err) && !needsExpiry) throw err
      if (needsExpiry) {
        try {
          actionId = await send(FOREVER)
        } catch (again) {
          if (!alreadyActioned(again)) throw again
        }
      }
    }
    // The same time-based action still in effect (an earlier delivery or attempt applied it): nothing to do.
    if (actionId === undefined) return { state: 'skipped', detail: 'the same user action was already in effect' }
    return { state: 'done', httpStatus: 200, result: { actionId }, undo: { actionId } }
  },
  // The action the earlier attempt applied is active on the user (it carries the alert in its comment).
  async confirm (ctx) {
    const r = await ctx.fusionauth.call<{ actions?: Array<{ id?: unknown, userActionId?: unknown, comment?: unknown }> }>(ACTIONS_OF_USER, {
      query: { userId: ctx.user.id, active: true }, tenantId: ctx.user.tenantId
    })
    const mine = (r.actions ?? []).find(a => a.userActionId === ctx.id && typeof a.comment === 'string' && a.comment.includes(`Alert ${ctx.alert.id}`))
    return typeof mine?.id === 'string' ? { state: 'done', httpStatus: 200, result: { actionId: mine.id }, undo: { actionId: mine.id } } : undefined
  },
  async undo (ctx, step) {
    const actionId = step.undo?.actionId
    if (typeof actionId !== 'string') return { state: 'kept', detail: 'the bridge did not apply this action' }
    const comment = `Cancelled by enzoic-fusionauth-bridge: alert ${ctx.alert.id} restored.`
    await ctx.fusionauth.call(CANCEL, { params: { actionId }, tenantId: ctx.user.tenantId, body: { action: { actionerUserId: ctx.actorUserId!, comment } } })
    return { state: 'undone', detail: `user action ${actionId} cancelled` }
  }
}
