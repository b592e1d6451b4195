import { certainlyNotDone, endpoint } from '../../fusionauth/index.js'
import { userFacts } from './exposure-text.js'
import type { ActionContext, ActionModule, RunResult } from './types.js'
import { KV } from '../../store/types.js'

const SEND = endpoint('email.send', 'POST', '/api/email/send/{emailTemplateId}', 'json')
const GET_TEMPLATE = endpoint('email-template.get', 'GET', '/api/email/template/{emailTemplateId}', 'json')

/** The at-most-once ledger entry: one email per user and exposure, whichever alert (or delivery) carries it. */
const ledgerKey = (ctx: ActionContext): string => KV.notified(ctx.user.tenantId, ctx.user.id, ctx.alert.exposureId ?? ctx.alert.id)

const resend = (alertId: string): string => `\`breach-bridge alerts resend-notice ${alertId}\` sends it again`

/** Sends the email, holding the ledger entry; gives it back only when FusionAuth certainly did not send. */
async function send (ctx: ActionContext, ledger: string): Promise<RunResult> {
  // Text for a person, defanged and in human terms (exposure-text.ts); the shipped templates escape it too.
  const requestData = userFacts(ctx)
  let answer: { results?: Record<string, unknown> }
  try {
    const body = { userIds: [ctx.user.id], requestData }
    answer = await ctx.fusionauth.call(SEND, { params: { emailTemplateId: ctx.id! }, tenantId: ctx.user.tenantId, body })
  } catch (err) {
    if (certainlyNotDone(err)) {
      // Refused or never sent: the next attempt sends it.
      await ctx.kv.set(ledger, undefined)
      throw err
    }
    // A time-out, a reset or a 5xx after the request left: FusionAuth may have sent it. Not repeated by itself.
    return { state: 'uncertain', detail: `FusionAuth may have sent the email (${(err as Error).message}): not sent again by itself — ${resend(ctx.alert.id)}` }
  }
  const errors = answer.results?.[ctx.user.id]
  const text = errors === undefined ? undefined : JSON.stringify(errors)
  if (text !== undefined && text !== '{}') return { state: 'done', httpStatus: 200, detail: `template problems: ${text}` }
  return { state: 'done', httpStatus: 200 }
}

/**
 * FusionAuth emails the user from one of its own templates: exactly once where FusionAuth lets the bridge know,
 * and honestly `uncertain` where it does not. A ledger entry (per user and exposure) is claimed before sending;
 * it is given back only when FusionAuth certainly did not send (a 4xx, a 503 with Retry-After, a connection
 * never made). An ambiguous end (a time-out, a 5xx, a crash while sending) records the step `uncertain`, shown
 * in `alerts show`, `users list` and the digest, until an operator decides (`alerts resend-notice`).
 */
export const notifyUser: ActionModule = {
  name: 'notify-user',
  description: 'FusionAuth sends the user an email from a template (exposure, date, data kinds, grace deadline and what it brings)',
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
    const ledger = ledgerKey(ctx)
    const claim = JSON.stringify({ alertId: ctx.alert.id, at: new Date().toISOString() })
    if (!await ctx.kv.putIfAbsent(ledger, claim)) {
      let holder: string | undefined
      try { holder = (JSON.parse(await ctx.kv.get(ledger) ?? '{}') as { alertId?: string }).alertId } catch {}
      // This alert's own claim from an attempt that never started sending (no in-flight marker): send now.
      if (holder !== ctx.alert.id) return { state: 'skipped', detail: `already notified of this exposure${holder === undefined ? '' : ` (alert ${holder})`}` }
    }
    return await send(ctx, ledger)
  },
  // The step was marked started: an earlier attempt may have sent it before the bridge stopped. Never a guess.
  async confirm (ctx) {
    return { state: 'uncertain', detail: `FusionAuth may have sent the email (the bridge stopped while sending it): not sent again by itself — ${resend(ctx.alert.id)}` }
  },
  async redo (ctx) {
    const ledger = ledgerKey(ctx)
    await ctx.kv.set(ledger, JSON.stringify({ alertId: ctx.alert.id, at: new Date().toISOString(), resent: true }))
    return await send(ctx, ledger)
  },
  cannotUndo: 'an email cannot be unsent',
  events: { done: { event: 'user.notified', message: 'user notified' } }
}
