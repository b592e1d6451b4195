import { exposureFacts } from './exposure-text.js'
import type { ActionModule } from './types.js'

/**
 * FusionAuth emails the user from one of its own templates. At most once per user and exposure, however
 * often the alert is delivered or retried: a ledger entry is claimed before sending and given back only
 * when FusionAuth definitely refused (a crash after sending leaves it claimed: never a second email).
 */
export const notifyUser: ActionModule = {
  name: 'notify-user',
  description: 'FusionAuth sends the user an email from a template (exposure, date, data kinds, grace deadline)',
  takesId: 'email template id',
  async run (ctx) {
    const facts = exposureFacts(ctx)
    const ledger = `notified:${ctx.user.tenantId}:${ctx.user.id}:${ctx.alert.exposureId ?? ctx.alert.id}`
    if (!await ctx.kv.putIfAbsent(ledger, JSON.stringify({ alertId: ctx.alert.id, at: new Date().toISOString() }))) {
      return { state: 'skipped', detail: 'already notified of this exposure' }
    }
    let answer: { templateErrors?: string }
    try {
      answer = await ctx.gateway.sendEmail(ctx.user, ctx.id!, {
        exposureTitle: facts.title,
        breachDate: facts.date,
        exposedData: facts.exposedData,
        alertId: facts.alertId,
        graceDeadline: facts.graceDeadline
      })
    } catch (err) {
      if ((err as { status?: number }).status !== undefined) await ctx.kv.set(ledger, undefined) // refused, not sent
      throw err
    }
    if (answer.templateErrors !== undefined) return { state: 'done', httpStatus: 200, detail: `template problems: ${answer.templateErrors}` }
    return { state: 'done', httpStatus: 200 }
  },
  cannotUndo: 'an email cannot be unsent',
  probes: [{ probe: 'email', endpoint: 'POST /api/email/send/{templateId}' }]
}
