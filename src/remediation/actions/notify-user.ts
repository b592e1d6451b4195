import { endpoint } from '../../fusionauth/index.js'
import { exposureFacts } from './exposure-text.js'
import type { ActionModule } from './types.js'

const SEND = endpoint('email.send', 'POST', '/api/email/send/{emailTemplateId}', 'json')
const GET_TEMPLATE = endpoint('email-template.get', 'GET', '/api/email/template/{emailTemplateId}', 'json')

/**
 * FusionAuth emails the user from one of its own templates. At most once per user and exposure, however
 * often the alert is delivered or retried: a ledger entry is claimed before sending and given back only
 * when FusionAuth definitely refused (a crash after sending leaves it claimed: never a second email).
 */
export const notifyUser: ActionModule = {
  name: 'notify-user',
  description: 'FusionAuth sends the user an email from a template (exposure, date, data kinds, grace deadline)',
  takesId: {
    what: 'email template id',
    field: 'templateId',
    lookup: {
      endpoint: GET_TEMPLATE,
      judge: answer => {
        const t = answer.emailTemplate as { name?: unknown } | undefined
        return { ok: true, detail: `email template${typeof t?.name === 'string' ? ` "${t.name}"` : ''} exists` }
      }
    }
  },
  needs: { exposure: true },
  calls: { run: [SEND] },
  async run (ctx) {
    const facts = exposureFacts(ctx)
    const ledger = `notified:${ctx.user.tenantId}:${ctx.user.id}:${ctx.alert.exposureId ?? ctx.alert.id}`
    if (!await ctx.kv.putIfAbsent(ledger, JSON.stringify({ alertId: ctx.alert.id, at: new Date().toISOString() }))) {
      return { state: 'skipped', detail: 'already notified of this exposure' }
    }
    const requestData = { exposureTitle: facts.title, breachDate: facts.date, exposedData: facts.exposedData, alertId: facts.alertId, graceDeadline: facts.graceDeadline }
    let answer: { results?: Record<string, unknown> }
    try {
      answer = await ctx.fusionauth.call(SEND, { params: { emailTemplateId: ctx.id! }, tenantId: ctx.user.tenantId, body: { userIds: [ctx.user.id], requestData } })
    } catch (err) {
      if ((err as { status?: number }).status !== undefined) await ctx.kv.set(ledger, undefined) // refused, not sent
      throw err
    }
    const errors = answer.results?.[ctx.user.id]
    const text = errors === undefined ? undefined : JSON.stringify(errors)
    if (text !== undefined && text !== '{}') return { state: 'done', httpStatus: 200, detail: `template problems: ${text}` }
    return { state: 'done', httpStatus: 200 }
  },
  cannotUndo: 'an email cannot be unsent',
  events: { done: { event: 'user.notified', message: 'user notified' } }
}
