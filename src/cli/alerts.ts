import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline/promises'
import { Command, InvalidArgumentError, Option } from 'commander'
import { loadConfig, parseDuration } from '../config.js'
import { describeDatabase, isPostgresUrl, openStore } from '../store/index.js'
import type { AlertEvent, AlertRecord, AlertState, Step } from '../alerts/types.js'
import type { Store } from '../store/types.js'
import {
  ALERT_STATES, alertStats, AlertNotFoundError, AmbiguousAlertIdError, InvalidAlertIdError, listAlerts, OUTCOMES,
  purgeAlerts, PURGE_MIN_MS, replayAlerts, showAlert
} from '../operations/alerts.js'
import { classify, CliError, EXIT } from './exit.js'
import { addLifecycleCommands } from './lifecycle.js'
import { STORE_ENV, withHelp } from './help.js'
import { err, fieldLine, inert, out, outCsv, outJson, shortTime, table } from './output.js'

/**
 * Opens the bridge's store for a command. Never creates a SQLite file (a typo in BRIDGE_DATABASE should
 * not look like "no alerts"); a store that cannot be reached is one clear line.
 */
export async function openCommandStore (env: NodeJS.ProcessEnv = process.env): Promise<Store> {
  const config = loadConfig(env)
  const where = describeDatabase(config.database)
  if (!isPostgresUrl(config.database) && !existsSync(config.database)) {
    throw new CliError(`no database at ${where} (BRIDGE_DATABASE): has the bridge run yet? Point BRIDGE_DATABASE at the running bridge's database`, EXIT.usage)
  }
  try {
    return await openStore(config.database, { role: 'command' })
  } catch (e) {
    const known = classify(e)
    if (known === undefined) throw e
    const message = known.message.includes(where) ? known.message : `${where}: ${known.message}`
    throw new CliError(known.exitCode === EXIT.unavailable ? `${message}: check BRIDGE_DATABASE and that the database server runs` : message, known.exitCode)
  }
}

/** The CLI's words for the alert operations' errors. */
function explainAlertError (e: unknown): never {
  if (e instanceof InvalidAlertIdError) throw new CliError(`${inert(e.given)}: ${e.message}`, EXIT.usage)
  if (e instanceof AlertNotFoundError) throw new CliError(`no alert ${inert(e.given)}`, EXIT.failure)
  if (e instanceof AmbiguousAlertIdError) {
    const rows = table(['ID', 'RECEIVED', 'STATE', 'EMAIL'], e.candidates.map(a => [a.id, shortTime(a.receivedAt), a.state, who(a)]))
    throw new CliError(`alert id prefix ${inert(e.given)} is ambiguous; it matches${e.more ? ' (at least)' : ''}:\n${rows.replace(/^/gm, '  ')}\nGive more characters of the id.`, EXIT.usage)
  }
  throw e
}

async function withStore<T> (fn: (store: Store) => T | Promise<T>): Promise<T> {
  const store = await openCommandStore()
  try {
    return await fn(store)
  } catch (e) {
    explainAlertError(e)
  } finally {
    await store.close()
  }
}

const who = (a: AlertRecord): string => a.email ?? (a.usernameHash === undefined ? '-' : `#${a.usernameHash.slice(0, 12)}`)

function summary (a: AlertRecord): string[] {
  return [a.id, shortTime(a.receivedAt), a.state, a.outcome ?? '-', String(a.attempts), who(a), a.exposureId ?? '-']
}

/** The record as an operator reads it: fields, per-user outcomes, the action log and the state history. */
export function describeAlert (a: AlertRecord, events: AlertEvent[], steps: Step[] = []): string {
  const lines: string[] = []
  const field = (name: string, value: unknown): void => {
    const line = fieldLine(name, value)
    if (line !== undefined) lines.push(line)
  }
  field('Alert', a.id)
  field('State', a.state)
  field('Outcome', a.outcome)
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
  field('Source', a.sourceIp)
  field('Warnings', a.warnings.length > 0 ? a.warnings.join('; ') : undefined)
  if (a.users.length > 0) {
    lines.push('', 'Users:')
    lines.push(table(['USER', 'TENANT', 'EMAIL', 'OUTCOME'], a.users.map(u => [u.userId, u.tenantId ?? '-', u.email ?? '-', u.outcome])).replace(/^/gm, '  '))
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

/** `--since`: an ISO date/time (`2026-03-01`, `2026-03-01T12:00Z`) or a duration back from now (`24h`, `7d`). */
export function parseSince (text: string, now = Date.now()): number {
  const d = parseDuration(text)
  if (d !== undefined) return now - d
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const t = Date.parse(text.trim())
    if (!Number.isNaN(t)) return t
  }
  throw new InvalidArgumentError('give a date (2026-03-01, 2026-03-01T12:00:00Z) or a duration back from now (30m, 24h, 7d)')
}

function parseLimit (text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number')
  return n
}

function parseOlderThan (text: string): number {
  const d = parseDuration(text)
  if (d === undefined || d <= 0) throw new InvalidArgumentError('give a duration like 30d, 90d or 12h')
  return d
}

async function confirm (question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim())
  } finally {
    rl.close()
  }
}

const CSV_HEADERS = ['id', 'receivedAt', 'state', 'outcome', 'attempts', 'deliveries', 'email', 'usernameHash', 'customData', 'exposureId', 'exposureTitle', 'completedAt']

export function alertsCommand (): Command {
  const alerts = new Command('alerts').description('inspect, replay and purge stored alerts')
  withHelp(alerts, {
    examples: ['breach-bridge alerts list --state dead', 'breach-bridge alerts show 0190ab', 'breach-bridge alerts replay --dead', 'breach-bridge alerts purge --older-than 90d --yes'],
    env: STORE_ENV
  })

  withHelp(alerts.command('list')
    .description('list alerts, newest first')
    .addOption(new Option('--state <state>', 'only alerts in this state').choices(ALERT_STATES as string[]))
    .addOption(new Option('--outcome <outcome>', 'only alerts with this outcome').choices(OUTCOMES as string[]))
    .option('--email <email>', 'only alerts for this email (matched as entered, lower-cased, or by its usernameHash)')
    .option('--since <when>', 'received at or after: a date (2026-03-01) or a duration back from now (24h, 7d)', text => parseSince(text))
    .option('--limit <n>', 'how many', parseLimit, 50)
    .addOption(new Option('--json', 'a JSON array of alert records').conflicts('csv'))
    .addOption(new Option('--csv', 'CSV (RFC 4180) with a header row; cells are guarded against spreadsheet formulas').conflicts('json'))
    .action(async (opts: { state?: AlertState, outcome?: string, email?: string, since?: number, limit: number, json?: boolean, csv?: boolean }) => {
      await withStore(async store => {
        const rows = await listAlerts(store, { state: opts.state, outcome: opts.outcome, email: opts.email, since: opts.since, limit: opts.limit })
        if (opts.json === true) {
          outJson(rows)
        } else if (opts.csv === true) {
          outCsv(CSV_HEADERS, rows.map(a => [a.id, a.receivedAt, a.state, a.outcome ?? '', a.attempts, a.deliveries, a.email ?? '', a.usernameHash ?? '',
            a.customData ?? '', a.exposureId ?? '', a.exposureDetails?.title ?? '', a.completedAt ?? '']))
        } else if (rows.length === 0) {
          const others = [opts.outcome, opts.email, opts.since].some(v => v !== undefined)
          out(others ? 'No alerts match.' : opts.state !== undefined ? `No ${opts.state} alerts.` : 'No alerts yet.')
        } else {
          out(table(['ID', 'RECEIVED', 'STATE', 'OUTCOME', 'ATTEMPTS', 'EMAIL', 'EXPOSURE'], rows.map(summary)))
        }
      })
    }), {
    examples: [
      'breach-bridge alerts list --state dead',
      'breach-bridge alerts list --since 24h --outcome actioned',
      'breach-bridge alerts list --email ruth@acme-corp.io --json | jq \'.[].id\'',
      'breach-bridge alerts list --since 2026-03-01 --limit 10000 --csv > alerts.csv'
    ],
    env: STORE_ENV
  })

  withHelp(alerts.command('show')
    .description('one alert: its record, users, action log and history (never a password: none is stored)')
    .argument('<id>', 'alert id, or an unambiguous prefix of one (at least 4 characters)')
    .option('--json', 'as one JSON object (the record, plus its history and steps)')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withStore(async store => {
        const { alert, history, steps } = await showAlert(store, id)
        if (opts.json === true) outJson({ ...alert, history, steps })
        else out(describeAlert(alert, history, steps))
      })
    }), {
    examples: ['breach-bridge alerts show 0190ab12-3c4d-7e5f-8a9b-0c1d2e3f4a5b', 'breach-bridge alerts show 0190ab    # a prefix, as git accepts'],
    env: STORE_ENV
  })

  withHelp(alerts.command('replay')
    .description('move dead alerts back to the queue (the running bridge picks them up within seconds)')
    .argument('[ids...]', 'alert ids or unambiguous prefixes')
    .option('--dead', 'every dead alert')
    .option('--json', 'as JSON: {"replayed": [ids], "notReplayed": [{id, state, reason}]}')
    .action(async (ids: string[], opts: { dead?: boolean, json?: boolean }) => {
      if (opts.dead !== true && ids.length === 0) throw new CliError('give alert ids or --dead')
      if (opts.dead === true && ids.length > 0) throw new CliError('give alert ids or --dead, not both')
      await withStore(async store => {
        const r = await replayAlerts(store, opts.dead === true ? 'dead' : ids)
        if (opts.json === true) {
          outJson(r)
        } else {
          out(`Replayed ${r.replayed.length} alert${r.replayed.length === 1 ? '' : 's'}.${r.replayed.length > 0 ? '\n' + r.replayed.join('\n') : ''}`)
        }
        if (r.notReplayed.length > 0) {
          throw new CliError(`not replayed: ${r.notReplayed.map(n => `${n.id} (${n.reason})`).join(', ')}`, EXIT.failure)
        }
      })
    }), {
    examples: ['breach-bridge alerts replay --dead', 'breach-bridge alerts replay 0190ab 0190c4'],
    env: STORE_ENV
  })

  withHelp(alerts.command('stats')
    .description('alerts by state and by outcome')
    .option('--json', 'as JSON: {"byState": {…}, "byOutcome": {…}}')
    .action(async (opts: { json?: boolean }) => {
      await withStore(async store => {
        const { byState, byOutcome } = await alertStats(store)
        if (opts.json === true) {
          outJson({ byState, byOutcome })
          return
        }
        out(table(['STATE', 'ALERTS'], Object.entries(byState).map(([k, v]) => [k, String(v)])))
        out('')
        const outcomes = Object.entries(byOutcome)
        out(outcomes.length === 0 ? 'No finished alerts.' : table(['OUTCOME', 'ALERTS'], outcomes.map(([k, v]) => [k, String(v)])))
      })
    }), {
    examples: ['breach-bridge alerts stats', 'breach-bridge alerts stats --json'],
    env: STORE_ENV
  })

  addLifecycleCommands(alerts)

  withHelp(alerts.command('purge')
    .description('remove the personal data (email, hash, custom data, users, actions, history) of alerts finished longer ago than a duration; a tombstone stays so a late re-delivery is still a duplicate')
    .requiredOption('--older-than <duration>', 'finished more than this long ago, e.g. 90d', parseOlderThan)
    .option('--yes', 'do not ask for confirmation (needed when stdin is not a terminal)')
    .option('--force', 'allow a duration under 1 day')
    .option('--json', 'as JSON: {"purged": n, "olderThanMs": …, "finishedBefore": "…"}')
    .action(async (opts: { olderThan: number, yes?: boolean, force?: boolean, json?: boolean }) => {
      if (opts.olderThan < PURGE_MIN_MS && opts.force !== true) {
        throw new CliError('--older-than is under 1 day: that would remove the data of alerts finished moments ago. Add --force if you mean it')
      }
      if (opts.yes !== true) {
        if (process.stdin.isTTY !== true) throw new CliError('purge removes personal data for good: add --yes to run it without a prompt')
        const where = describeDatabase(loadConfig(process.env).database)
        if (!await confirm(`Remove the personal data of alerts finished before ${new Date(Date.now() - opts.olderThan).toISOString()} in ${where}?`)) {
          err('Nothing purged.')
          process.exitCode = EXIT.failure
          return
        }
      }
      await withStore(async store => {
        const r = await purgeAlerts(store, opts.olderThan)
        if (opts.json === true) outJson(r)
        else out(`Purged the personal data of ${r.purged} alert${r.purged === 1 ? '' : 's'} finished before ${shortTime(r.finishedBefore)}; their tombstones (id, state, outcome, dates, idempotency key) remain.`)
      })
    }), {
    examples: ['breach-bridge alerts purge --older-than 90d --yes', 'breach-bridge alerts purge --older-than 12h --force --yes   # under a day needs --force'],
    env: STORE_ENV
  })

  return alerts
}
