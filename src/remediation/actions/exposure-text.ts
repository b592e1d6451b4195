import { plainText } from '../../alerts/text.js'
import type { ActionContext } from './types.js'

/** The exposure as the bridge forwards it: plain text, each field bounded (breach data is hostile). */
export function exposureFacts (ctx: Pick<ActionContext, 'alert' | 'exposure' | 'graceDeadline'>): {
  title: string, date?: string, exposureId?: string, exposedData: string[], alertId: string, graceDeadline?: string
} {
  const { alert, exposure } = ctx
  const date = plainText(exposure?.date ?? alert.exposureDate, 40)
  return {
    title: plainText(exposure?.title ?? alert.exposureDetails?.title, 120) ?? 'an unnamed exposure',
    date: date === undefined ? undefined : date.slice(0, 10),
    exposureId: plainText(alert.exposureId, 64),
    exposedData: (exposure?.exposedData ?? alert.exposureDetails?.exposedData ?? [])
      .slice(0, 12).map(k => plainText(k, 40)).filter((k): k is string => k !== undefined),
    alertId: alert.id,
    graceDeadline: ctx.graceDeadline
  }
}

/** The comment / user-action reason: one bounded line of plain text. */
export function commentText (ctx: ActionContext): string {
  const f = exposureFacts(ctx)
  const did = ctx.labels.filter(l => l !== 'comment').join(', ')
  const text = `Enzoic breach alert: this user's credentials appeared in ${f.title}${f.date === undefined ? '' : ` (${f.date})`}` +
    `${f.exposureId === undefined ? '' : `, exposure ${f.exposureId}`}. ` +
    `enzoic-fusionauth-bridge ${did === '' ? 'recorded it' : `applied: ${did}`}. Alert ${f.alertId}.`
  return plainText(text, 1000)!
}
