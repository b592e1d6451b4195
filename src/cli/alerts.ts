import { existsSync } from 'node:fs'
import { Command, Option } from 'commander'
import { loadConfig } from '../config.js'
import { describeDatabase, isPostgresUrl, openStore } from '../store/index.js'
import { ALERT_STATES, type AlertEvent, type AlertRecord, type AlertState } from '../alerts/types.js'
import { SchemaVersionError, StoreUnavailableError, type Store } from '../store/types.js'
import { UsageError, out, shortTime, table } from './output.js'

/**
 * Opens the bridge's store for a command. Never creates a SQLite file (a typo in BRIDGE_DATABASE should
 * not look like "no alerts"); a store that cannot be reached is one clear line.
 */
export async function openCommandStore (env: NodeJS.ProcessEnv = process.env): Promise<Store> {
  const config = loadConfig(env)
  const where = describeDatabase(config.database)
  if (!isPostgresUrl(config.database) && !existsSync(config.database)) {
    throw new UsageError(`no database at ${where} (BRIDGE_DATABASE): has the bridge run yet?`)
  }
  try {
    return await openStore(config.database, { role: 'command' })
  } catch (err) {
    if (err instanceof SchemaVersionError || err instanceof StoreUnavailableError) throw new UsageError(`${where}: ${err.message}`, 1)
    throw err
  }
}

async function withStore<T> (fn: (store: Store) => T | Promise<T>): Promise<T> {
  const store = await openCommandStore()
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

function summary (a: AlertRecord): string[] {
  return [a.id, shortTime(a.receivedAt), a.state, a.outcome ?? '-', String(a.attempts), a.email ?? (a.usernameHash === undefined ? '-' : `#${a.usernameHash.slice(0, 12)}`), a.exposureId ?? '-']
}

/** The record as an operator reads it: fields, per-user outcomes, the action log and the state history. */
export function describeAlert (a: AlertRecord, events: AlertEvent[]): string {
  const lines: string[] = []
  const field = (name: string, value: unknown): void => {
    if (value !== undefined && value !== null && value !== '') lines.push(`${(name + ':').padEnd(18)}${String(value)}`)
  }
  field('Alert', a.id)
  field('State', a.state)
  field('Outcome', a.outcome)
  field('Test', a.test ? 'yes' : undefined)
  field('Received', a.receivedAt)
  field('Completed', a.completedAt)
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

export function alertsCommand (): Command {
  const alerts = new Command('alerts').description('inspect and replay stored alerts')

  alerts.command('list')
    .description('list alerts, newest first')
    .addOption(new Option('--state <state>', 'only alerts in this state').choices(ALERT_STATES as string[]))
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'JSON lines instead of a table')
    .action(async (opts: { state?: AlertState, limit: string, json?: boolean }) => {
      const limit = Number(opts.limit)
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive whole number')
      await withStore(async store => {
        const rows = await store.alerts.list({ state: opts.state, limit })
        if (opts.json === true) {
          for (const r of rows) out(JSON.stringify(r))
        } else if (rows.length === 0) {
          out(opts.state === undefined ? 'No alerts yet.' : `No ${opts.state} alerts.`)
        } else {
          out(table(['ID', 'RECEIVED', 'STATE', 'OUTCOME', 'ATTEMPTS', 'EMAIL', 'EXPOSURE'], rows.map(summary)))
        }
      })
    })

  alerts.command('show')
    .description('one alert: its record, users, action log and history (never a password: none is stored)')
    .argument('<id>', 'alert id')
    .option('--json', 'as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withStore(async store => {
        const a = await store.alerts.get(id)
        if (a === undefined) throw new UsageError(`no alert ${id}`, 1)
        const events = await store.alerts.events(id)
        out(opts.json === true ? JSON.stringify({ ...a, history: events }, null, 2) : describeAlert(a, events))
      })
    })

  alerts.command('replay')
    .description('move dead alerts back to the queue (the running bridge picks them up within seconds)')
    .argument('[ids...]', 'alert ids')
    .option('--dead', 'every dead alert')
    .action(async (ids: string[], opts: { dead?: boolean }) => {
      if (opts.dead !== true && ids.length === 0) throw new UsageError('give alert ids or --dead')
      if (opts.dead === true && ids.length > 0) throw new UsageError('give alert ids or --dead, not both')
      await withStore(async store => {
        const moved = await store.queue.replay(opts.dead === true ? 'dead' : ids)
        out(`Replayed ${moved.length} alert${moved.length === 1 ? '' : 's'}.${moved.length > 0 ? '\n' + moved.join('\n') : ''}`)
        const missed = ids.filter(id => !moved.includes(id))
        if (missed.length > 0) {
          throw new UsageError(`not replayed (unknown, or not dead): ${missed.join(', ')}`, 1)
        }
      })
    })

  alerts.command('stats')
    .description('alerts by state and by outcome')
    .option('--json', 'as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withStore(async store => {
        const byState = await store.alerts.countByState()
        const byOutcome = await store.alerts.countByOutcome()
        if (opts.json === true) {
          out(JSON.stringify({ byState, byOutcome }))
          return
        }
        out(table(['STATE', 'ALERTS'], Object.entries(byState).map(([k, v]) => [k, String(v)])))
        out('')
        const outcomes = Object.entries(byOutcome)
        out(outcomes.length === 0 ? 'No finished alerts.' : table(['OUTCOME', 'ALERTS'], outcomes.map(([k, v]) => [k, String(v)])))
      })
    })

  return alerts
}
