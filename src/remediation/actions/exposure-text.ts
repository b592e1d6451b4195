import { plainText, userText } from '../../alerts/text.js'
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

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']

/**
 * A breach's date at the precision Enzoic knows it. Enzoic records a breach known only by its year as 31 December
 * and one known by its month as the 1st, so `2019-12-31` reads "2019", `2019-03-01` "March 2019" and any other day
 * "14 March 2019". Undefined for anything but an ISO date (never the raw text of an unreadable one).
 */
export function breachDateText (iso: string | undefined): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T[\d:.]+Z)?$/.exec(iso ?? '')
  if (m === null) return undefined
  const [year, month, day] = [m[1]!, Number(m[2]), Number(m[3])]
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined
  if (month === 12 && day === 31) return year
  if (day === 1) return `${MONTHS[month - 1]!} ${year}`
  return `${day} ${MONTHS[month - 1]!} ${year}`
}

/** A time zone the platform knows (a user's FusionAuth `timezone` is whatever was typed), else undefined. */
function knownZone (zone: string | undefined): string | undefined {
  if (zone === undefined) return undefined
  try {
    return new Intl.DateTimeFormat('en-GB', { timeZone: zone }).resolvedOptions().timeZone
  } catch {
    return undefined
  }
}

const DEADLINE_FORMAT: Intl.DateTimeFormatOptions = {
  weekday: 'long',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'short'
}

/** When the grace period ends, as the user reads it: "Friday, 27 November 2026 at 15:05 CET", in their time zone (else UTC). */
export function deadlineText (iso: string | undefined, userZone: string | undefined): string | undefined {
  const t = iso === undefined ? NaN : Date.parse(iso)
  if (Number.isNaN(t)) return undefined
  return new Intl.DateTimeFormat('en-GB', { ...DEADLINE_FORMAT, timeZone: knownZone(userZone) ?? 'UTC' }).format(t)
}

/** What the grace deadline brings, by the most consequential grace action: the template words its sentence by it. */
export type GraceAction = 'deactivate' | 'require-password-change' | 'revoke-sessions' | 'other'

export function graceActionOf (names: readonly string[]): GraceAction {
  for (const a of ['deactivate', 'require-password-change', 'revoke-sessions'] as const) if (names.includes(a)) return a
  return 'other'
}

/**
 * What notify-user hands the email template (`requestData`): text for a person, safe in any mail client — no
 * markup and nothing a client would link (userText) — and dates in human terms. Absent fields are left out (the
 * template has its defaults).
 */
export function userFacts (ctx: Pick<ActionContext, 'alert' | 'exposure' | 'graceDeadline' | 'graceActions' | 'user'>): {
  exposureTitle?: string, breachDate?: string, exposedData: string[], alertId: string, graceDeadline?: string, graceAction?: GraceAction
} {
  const { alert, exposure } = ctx
  const deadline = deadlineText(ctx.graceDeadline, ctx.user.timezone)
  return {
    exposureTitle: userText(exposure?.title ?? alert.exposureDetails?.title, 120),
    breachDate: breachDateText(exposure?.date ?? alert.exposureDetails?.date ?? alert.exposureDate),
    exposedData: (exposure?.exposedData ?? alert.exposureDetails?.exposedData ?? [])
      .slice(0, 12).map(k => userText(k, 40)).filter((k): k is string => k !== undefined),
    alertId: alert.id,
    graceDeadline: deadline,
    graceAction: deadline === undefined ? undefined : graceActionOf(ctx.graceActions ?? [])
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
