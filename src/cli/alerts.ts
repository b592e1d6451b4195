import { createInterface } from 'node:readline/promises'
import { Command, Option } from 'commander'
import type { AlertEvent, AlertRecord, AlertSource, AlertState, Step } from '../alerts/types.js'
import {
  ALERT_SOURCES, ALERT_STATES, alertStats, listAlerts, OUTCOMES, purgeAlerts, PURGE_MIN_MS, replayAlerts, showAlert
} from '../operations/alerts.js'
import { tenantLabel, tenantNames, type TenantNames } from '../operations/tenants.js'
import { describeDatabase } from '../store/index.js'
import { action } from './command.js'
import type { CliContext } from './context.js'
import { CliError, EXIT } from './exit.js'
import { addLifecycleCommands } from './lifecycle.js'
import { STORE_ENV, TENANT_NAMES_ENV, withHelp } from './help.js'
import { fieldLine, outputTo, shortTime, table } from './output.js'
import { parseLimit, parseOlderThan, parseSince } from './parse.js'
import { who, withCommandStore } from './store.js'

/** The tenants of an alert's users: each one's name when known, else its id. */
function tenantsOf (a: AlertRecord, names: TenantNames): string {
  const ids = [...new Set(a.users.map(u => u.tenantId).filter((t): t is string => t !== undefined))]
  return ids.length === 0 ? '-' : ids.map(id => names.get(id.toLowerCase()) ?? id).join(', ')
}

function summary (a: AlertRecord, names: TenantNames): string[] {
  return [a.id, shortTime(a.receivedAt), a.source, a.state, a.outcome ?? '-', String(a.attempts), who(a), tenantsOf(a, names), a.exposureId ?? '-']
}

/** The record as an operator reads it: fields, per-user outcomes, the action log and the state history. */
export function describeAlert (a: AlertRecord, events: AlertEvent[], steps: Step[] = [], names: TenantNames = new Map()): string {
  const lines: string[] = []
  const field = (name: string, value: unknown): void => {
    const line = fieldLine(name, value)
    if (line !== undefined) lines.push(line)
  }
  field('Alert', a.id)
  field('State', a.state)
  field('Outcome', a.outcome)
  field('Source', a.source === 'fusionauth' ? 'fusionauth (its breached password detection, at a login)' : 'enzoic')
  field('Test', a.test ? 'yes' : undefined)
  field('Received', a.receivedAt)
  field('Completed', a.completedAt)
  field('Purged', a.purgedAt === undefined ? undefined : `${a.purgedAt} (personal data removed; tombstone kept)`)
  field('Attempts', a.attempts)
  field('Next attempt', a.state === 'retrying' ? a.nextAttemptAt : undefined)
  field('Last error', a.lastError)
  field('Deliveries', a.deliveries > 1 ? a.deliveries : undefined)
  field('Email', a.email)
  field('Username hash', a.usernameHash)
  field('Custom data', a.customData)
  field('Exposure', a.exposureId)
  field('Exposure title', a.exposureDetails?.title)
  field('Exposure date', a.exposureDetails?.date ?? a.exposureDate)
  field('Had password', a.hadPassword ? 'yes (not stored)' : 'no')
  field('Password type', a.passwordType ?? a.passwordTypeName)
  field('Sent from', a.sourceIp)
  field('Warnings', a.warnings.length > 0 ? a.warnings.join('; ') : undefined)
  if (a.users.length > 0) {
    lines.push('', 'Users:')
    lines.push(table(['USER', 'TENANT', 'EMAIL', 'OUTCOME'], a.users.map(u => [u.userId, tenantLabel(names, u.tenantId), u.email ?? '-', u.outcome])).replace(/^/gm, '  '))
  }
  if (steps.length > 0) {
    lines.push('', 'Steps:')
    lines.push(table(['UPDATED', 'USER', 'ACTION', 'PHASE', 'STATE', 'HTTP', 'DUE', 'DETAIL'],
      steps.map(s => [shortTime(s.updatedAt), s.userId, s.action, s.phase, s.state, s.httpStatus === undefined ? '-' : String(s.httpStatus),
        s.state === 'pending' ? shortTime(s.dueAt) : '-', s.detail ?? ''])).replace(/^/gm, '  '))
  }
  if (a.actions.length > 0) {
    lines.push('', 'Actions:')
    lines.push(table(['AT', 'USER', 'ACTION', 'RESULT', 'HTTP', 'DETAIL'],
      a.actions.map(e => [shortTime(e.at), e.userId ?? '-', e.action, e.status, e.httpStatus === undefined ? '-' : String(e.httpStatus), e.detail ?? ''])).replace(/^/gm, '  '))
  }
  if (events.length > 0) {
    lines.push('', 'History:')
    lines.push(table(['AT', 'STATE', 'NOTE'], events.map(e => [shortTime(e.at), e.state, e.note ?? ''])).replace(/^/gm, '  '))
  }
  return lines.join('\n')
}

async function confirm (ctx: CliContext, question: string): Promise<boolean> {
  const rl = createInterface({ input: ctx.stdin, output: ctx.stderr })
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim())
  } finally {
    rl.close()
  }
}

interface ListOptions {
  state?: AlertState, outcome?: string, email?: string, source?: AlertSource, since?: number, limit: number, json?: boolean, csv?: boolean
}

const CSV_HEADERS = ['id', 'receivedAt', 'source', 'state', 'outcome', 'attempts', 'deliveries', 'email', 'usernameHash', 'customData', 'exposureId', 'exposureTitle', 'completedAt']

function addList (alerts: Command, ctx: CliContext): void {
  const { out, outJson, outCsv } = outputTo(ctx)
  withHelp(alerts.command('list')
    .description('list alerts, newest first')
    .addOption(new Option('--state <state>', 'only alerts in this state').choices(ALERT_STATES as string[]))
    .addOption(new Option('--outcome <outcome>', 'only alerts with this outcome').choices(OUTCOMES as string[]))
    .option('--email <email>', 'only alerts for this email (matched as entered, lower-cased, or by its usernameHash)')
    .addOption(new Option('--source <source>', 'only alerts from Enzoic, or from FusionAuth\'s breached password detection').choices(ALERT_SOURCES as string[]))
    .option('--since <when>', 'received at or after: a date (2026-03-01) or a duration back from now (24h, 7d)', text => parseSince(text, ctx.now()))
    .option('--limit <n>', 'how many', parseLimit, 50)
    .addOption(new Option('--json', 'a JSON array of alert records').conflicts('csv'))
    .addOption(new Option('--csv', 'CSV (RFC 4180) with a header row; cells are guarded against spreadsheet formulas').conflicts('json'))
    .action(action(async (opts: ListOptions) => {
      const config = ctx.config()
      const rows = await withCommandStore(config.database, async store =>
        await listAlerts(store, { state: opts.state, outcome: opts.outcome, email: opts.email, source: opts.source, since: opts.since, limit: opts.limit }))
      // Names only for the table, and only when an alert has users (JSON and CSV keep the stored record).
      const names = opts.json !== true && opts.csv !== true && rows.some(a => a.users.length > 0) ? await tenantNames(config) : new Map<string, string>()
      if (opts.json === true) {
        outJson(rows)
      } else if (opts.csv === true) {
        outCsv(CSV_HEADERS, rows.map(a => [a.id, a.receivedAt, a.source, a.state, a.outcome ?? '', a.attempts, a.deliveries, a.email ?? '', a.usernameHash ?? '',
          a.customData ?? '', a.exposureId ?? '', a.exposureDetails?.title ?? '', a.completedAt ?? '']))
      } else if (rows.length === 0) {
        const others = [opts.outcome, opts.email, opts.source, opts.since].some(v => v !== undefined)
        out(others ? 'No alerts match.' : opts.state !== undefined ? `No ${opts.state} alerts.` : 'No alerts yet.')
      } else {
        out(table(['ID', 'RECEIVED', 'SOURCE', 'STATE', 'OUTCOME', 'ATTEMPTS', 'EMAIL', 'TENANT', 'EXPOSURE'], rows.map(a => summary(a, names))))
      }
    })), {
    examples: [
      'breach-bridge alerts list --state dead',
      'breach-bridge alerts list --since 24h --outcome actioned',
      'breach-bridge alerts list --email ruth@acme-corp.io --json | jq \'.[].id\'',
      'breach-bridge alerts list --source fusionauth   # logins FusionAuth found a breached password at',
      'breach-bridge alerts list --since 2026-03-01 --limit 10000 --csv > alerts.csv'
    ],
    env: [...STORE_ENV, TENANT_NAMES_ENV]
  })
}

function addShow (alerts: Command, ctx: CliContext): void {
  const { out, outJson } = outputTo(ctx)
  withHelp(alerts.command('show')
    .description('one alert: its record, users, action log and history (never a password: none is stored)')
    .argument('<id>', 'alert id, or an unambiguous prefix of one (at least 4 characters)')
    .option('--json', 'as one JSON object (the record, plus its history and steps)')
    .action(action(async (id: string, opts: { json?: boolean }) => {
      const config = ctx.config()
      const { alert, history, steps } = await withCommandStore(config.database, async store => await showAlert(store, id))
      if (opts.json === true) outJson({ ...alert, history, steps })
      else out(describeAlert(alert, history, steps, alert.users.length > 0 ? await tenantNames(config) : new Map()))
    })), {
    examples: ['breach-bridge alerts show 0190ab12-3c4d-7e5f-8a9b-0c1d2e3f4a5b', 'breach-bridge alerts show 0190ab    # a prefix, as git accepts'],
    env: [...STORE_ENV, TENANT_NAMES_ENV]
  })
}

function addReplay (alerts: Command, ctx: CliContext): void {
  const { out, outJson } = outputTo(ctx)
  withHelp(alerts.command('replay')
    .description('move dead alerts back to the queue (the running bridge picks them up within seconds)')
    .argument('[ids...]', 'alert ids or unambiguous prefixes')
    .option('--dead', 'every dead alert')
    .option('--json', 'as JSON: {"replayed": [ids], "notReplayed": [{id, state, reason}]}')
    .action(action(async (ids: string[], opts: { dead?: boolean, json?: boolean }) => {
      if (opts.dead !== true && ids.length === 0) throw new CliError('give alert ids or --dead')
      if (opts.dead === true && ids.length > 0) throw new CliError('give alert ids or --dead, not both')
      const r = await withCommandStore(ctx.config().database, async store => await replayAlerts(store, opts.dead === true ? 'dead' : ids))
      if (opts.json === true) {
        outJson(r)
      } else {
        out(`Replayed ${r.replayed.length} alert${r.replayed.length === 1 ? '' : 's'}.${r.replayed.length > 0 ? '\n' + r.replayed.join('\n') : ''}`)
      }
      if (r.notReplayed.length > 0) {
        throw new CliError(`not replayed: ${r.notReplayed.map(n => `${n.id} (${n.reason})`).join(', ')}`, EXIT.failure)
      }
    })), {
    examples: ['breach-bridge alerts replay --dead', 'breach-bridge alerts replay 0190ab 0190c4'],
    env: STORE_ENV
  })
}

function addStats (alerts: Command, ctx: CliContext): void {
  const { out, outJson } = outputTo(ctx)
  withHelp(alerts.command('stats')
    .description('alerts by state and by outcome')
    .option('--json', 'as JSON: {"byState": {…}, "byOutcome": {…}}')
    .action(action(async (opts: { json?: boolean }) => {
      const { byState, byOutcome } = await withCommandStore(ctx.config().database, alertStats)
      if (opts.json === true) {
        outJson({ byState, byOutcome })
        return
      }
      out(table(['STATE', 'ALERTS'], Object.entries(byState).map(([k, v]) => [k, String(v)])))
      out('')
      const outcomes = Object.entries(byOutcome)
      out(outcomes.length === 0 ? 'No finished alerts.' : table(['OUTCOME', 'ALERTS'], outcomes.map(([k, v]) => [k, String(v)])))
    })), {
    examples: ['breach-bridge alerts stats', 'breach-bridge alerts stats --json'],
    env: STORE_ENV
  })
}

function addPurge (alerts: Command, ctx: CliContext): void {
  const { out, err, outJson } = outputTo(ctx)
  withHelp(alerts.command('purge')
    .description('remove the personal data (email, hash, custom data, users, actions, history) of alerts finished longer ago than a duration; a tombstone stays so a late re-delivery is still a duplicate')
    .requiredOption('--older-than <duration>', 'finished more than this long ago, e.g. 90d', parseOlderThan)
    .option('--yes', 'do not ask for confirmation (needed when stdin is not a terminal)')
    .option('--force', 'allow a duration under 1 day')
    .option('--json', 'as JSON: {"purged": n, "olderThanMs": …, "finishedBefore": "…"}')
    .action(action(async (opts: { olderThan: number, yes?: boolean, force?: boolean, json?: boolean }) => {
      if (opts.olderThan < PURGE_MIN_MS && opts.force !== true) {
        throw new CliError('--older-than is under 1 day: that would remove the data of alerts finished moments ago. Add --force if you mean it')
      }
      if (opts.yes !== true) {
        if (!ctx.stdinIsTTY) throw new CliError('purge removes personal data for good: add --yes to run it without a prompt')
        const where = describeDatabase(ctx.config().database)
        if (!await confirm(ctx, `Remove the personal data of alerts finished before ${new Date(ctx.now() - opts.olderThan).toISOString()} in ${where}?`)) {
          err('Nothing purged.')
          return EXIT.failure
        }
      }
      const { database, tombstoneKey } = ctx.config()
      const r = await withCommandStore(database, async store => await purgeAlerts(store, opts.olderThan, ctx.now()), tombstoneKey)
      if (opts.json === true) outJson(r)
      else out(`Purged the personal data of ${r.purged} alert${r.purged === 1 ? '' : 's'} finished before ${shortTime(r.finishedBefore)}; their tombstones (id, state, outcome, dates, idempotency key) remain.`)
      if (r.warning !== undefined) err(`warning: ${r.warning}`)
    })), {
    examples: ['breach-bridge alerts purge --older-than 90d --yes', 'breach-bridge alerts purge --older-than 12h --force --yes   # under a day needs --force'],
    env: [...STORE_ENV, 'BRIDGE_TOMBSTONE_KEY (or BRIDGE_TOMBSTONE_KEY_FILE): the tombstones are keyed under it, as `serve` keys them']
  })
}

export function alertsCommand (ctx: CliContext): Command {
  const alerts = new Command('alerts').description('inspect, replay and purge stored alerts')
  withHelp(alerts, {
    examples: ['breach-bridge alerts list --state dead', 'breach-bridge alerts show 0190ab', 'breach-bridge alerts replay --dead', 'breach-bridge alerts purge --older-than 90d --yes'],
    env: STORE_ENV
  })
  addList(alerts, ctx)
  addShow(alerts, ctx)
  addReplay(alerts, ctx)
  addStats(alerts, ctx)
  addLifecycleCommands(alerts, ctx)
  addPurge(alerts, ctx)
  return alerts
}
