import { plainText } from '../alerts/text.js'
import type { Summary } from '../store/types.js'

/**
 * What the bridge sends to BRIDGE_NOTIFY_URL. `text` is what chat tools (Slack, Teams, Mattermost) show: the
 * bridge's own words, and any breach-controlled string only through `chatCode`.
 */
export interface NotifyMessage {
  text: string
  type: 'digest' | 'dead' | 'paused' | 'resumed' | 'test'
  [k: string]: unknown
}

export interface DigestOptions {
  /** Masks an email for the receiver (BRIDGE_LOG_EMAILS applies to the digest too). */
  email: (e: string | undefined) => string | undefined
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`
/** `2026-12-07T18:00:21.123Z` → `2026-12-07 18:00 UTC`, for people. */
export const readable = (iso: string): string => iso.replace('T', ' ').replace(/:\d{2}(\.\d+)?Z$/, ' UTC')
/** To the second, as `alerts list --since` takes it. */
const sinceArg = (iso: string): string => iso.replace(/\.\d+Z$/, 'Z')
/** A reason inside a sentence: without its own final period. */
const clause = (reason: string): string => reason.trim().replace(/[.\s]+$/, '')

/** Slack's three control characters as the entities Slack asks for (`<!channel>`, `<url|text>` are live otherwise). */
const slackEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * A breach-controlled string (a masked email keeps the breach's domain; a failure's reason may quote anything) in
 * the chat text that Slack, Teams and Mattermost render: one plain line in a code span — where no receiver makes a
 * link, a mention or emphasis of it — with Slack's `&`, `<`, `>` as entities, which Slack requires even there.
 * (A markdown receiver shows those three as entities inside the span: inert, if less pretty.) The plain value
 * is in the JSON fields beside `text`, which chat tools do not render.
 */
export function chatCode (value: string | undefined): string {
  return `\`${slackEscape((plainText(value, 300) ?? '').replace(/`/g, '\''))}\``
}

/** The summary of one window, or undefined when nothing happened in it (no message then). */
export function digestMessage (summary: Summary, window: { from: string, to: string }, opts: DigestOptions): NotifyMessage | undefined {
  const total = Object.values(summary.byOutcome).reduce((a, b) => a + b, 0)
  if (total === 0) return undefined
  const counts = Object.entries(summary.byOutcome).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')
  const lines = [`enzoic-fusionauth-bridge: ${plural(total, 'alert')} finished since ${readable(window.from)} — ${counts}.`]
  for (const a of summary.alerts) {
    const users = a.users.length === 0 ? 'no user' : a.users.map(u => `${u.userId} (${u.outcome})`).join(', ')
    const email = opts.email(a.email)
    lines.push(`• ${a.id}: ${a.outcome ?? a.state} — ${email === undefined ? 'hash only' : chatCode(email)}: ${users}`)
  }
  if (total > summary.alerts.length) lines.push(`… and ${total - summary.alerts.length} more (breach-bridge alerts list --since ${sinceArg(window.from)}).`)
  if (summary.dead > 0) lines.push(`⚠ ${plural(summary.dead, 'alert')} dead now: breach-bridge alerts list --state dead`)
  if (summary.waiting > 0) lines.push(`${plural(summary.waiting, 'alert')} waiting out a grace period.`)
  return {
    text: lines.join('\n'),
    type: 'digest',
    window,
    byOutcome: summary.byOutcome,
    alerts: summary.alerts.map(a => ({
      ...a,
      email: opts.email(a.email),
      users: a.users.map(u => ({ userId: u.userId, tenantId: u.tenantId, outcome: u.outcome }))
    })),
    dead: summary.dead,
    waiting: summary.waiting
  }
}

export function deadMessage (alertId: string, reason: string): NotifyMessage {
  return { text: `⚠ enzoic-fusionauth-bridge: alert ${alertId} is dead — ${chatCode(clause(reason))}. Fix the cause, then: breach-bridge alerts replay ${alertId}`, type: 'dead', alertId, reason }
}

export function pausedMessage (reason: string, since: string): NotifyMessage {
  return {
    text: `⚠ enzoic-fusionauth-bridge paused at ${readable(since)}: ${chatCode(clause(reason))}. Alerts wait (nothing is lost) until FusionAuth accepts the API key again.`,
    type: 'paused',
    reason,
    since
  }
}

/** After a `paused` message: the key works again and the waiting alerts are being processed. */
export function resumedMessage (at: string): NotifyMessage {
  return { text: `✅ enzoic-fusionauth-bridge resumed at ${readable(at)}: FusionAuth accepts the API key again; the waiting alerts are being processed.`, type: 'resumed', at }
}

/** `breach-bridge notify test`: proves the receiver gets (and can verify) the bridge's messages. */
export function testMessage (at: string): NotifyMessage {
  return { text: `✅ enzoic-fusionauth-bridge: a test message (breach-bridge notify test, ${readable(at)}). The operator digest reaches this channel.`, type: 'test', at }
}
