import { userInfo } from 'node:os'
import { Command, Option } from 'commander'
import { loadConfig } from '../config.js'
import type { Step } from '../alerts/types.js'
import { resolveAlertId } from '../operations/alerts.js'
import { cancelAlert, OperatorActionError, restoreAlert } from '../operations/lifecycle.js'
import { listUsers, USER_STATES, type UserState } from '../operations/users.js'
import { createFusionAuthGateway } from '../fusionauth/index.js'
import type { Store } from '../store/types.js'
import { openCommandStore, parseSince } from './alerts.js'
import { classify, CliError, EXIT } from './exit.js'
import { FUSIONAUTH_ENV, STORE_ENV, withHelp } from './help.js'
import { inert, out, outCsv, outJson, shortTime, table } from './output.js'

/** Who is acting: --operator, else the OS user. */
function operatorOf (given: string | undefined): string {
  if (given !== undefined && given.trim() !== '') return given.trim()
  try { return userInfo().username } catch { return 'unknown' }
}

async function withStore<T> (fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openCommandStore()
  try {
    return await fn(store)
  } catch (e) {
    if (e instanceof OperatorActionError) throw new CliError(e.message, e.code === 'BRIDGE_ALERT_BUSY' ? EXIT.unavailable : EXIT.failure)
    const known = classify(e)
    if (known !== undefined) throw known
    throw e
  } finally {
    await store.close()
  }
}

const stepLine = (s: Step, detail: string): unknown[] => [s.userId, s.action, detail]

/** `alerts cancel` and `alerts restore`, added to the `alerts` command. */
export function addLifecycleCommands (alerts: Command): void {
  withHelp(alerts.command('cancel')
    .description('cancel an alert\'s pending steps (a false positive caught during the grace period); an alert not processed yet will not be')
    .argument('<id>', 'alert id, or an unambiguous prefix')
    .requiredOption('--reason <text>', 'why (recorded with the alert)')
    .option('--operator <name>', 'who (default: the OS user)')
    .option('--json', 'as JSON: {"alertId", "cancelled": [steps], "nothingToDo"}')
    .action(async (id: string, opts: { reason: string, operator?: string, json?: boolean }) => {
      await withStore(async store => {
        const alertId = await resolveAlertId(store, id)
        const r = await cancelAlert({ store, config: loadConfig(process.env) }, alertId, { operator: operatorOf(opts.operator), reason: opts.reason })
        if (opts.json === true) { outJson({ alertId, cancelled: r.cancelled, stoppedBeforeProcessing: r.stoppedBeforeProcessing, nothingToDo: r.nothingToDo }); return }
        if (r.nothingToDo) { out(`Nothing pending for alert ${alertId}: nothing changed.`); return }
        out(r.stoppedBeforeProcessing
          ? `Cancelled alert ${alertId}: it will not be processed.`
          : `Cancelled ${r.cancelled.length} pending step(s) of alert ${alertId}:\n${table(['USER', 'ACTION', 'DUE'], r.cancelled.map(s => [s.userId, s.action, shortTime(s.dueAt)])).replace(/^/gm, '  ')}`)
      })
    }), {
    examples: ['breach-bridge alerts cancel 0190ab --reason "false positive: shared test mailbox"'],
    env: STORE_ENV
  })

  withHelp(alerts.command('restore')
    .description('undo exactly what the bridge did for an alert, newest first (reactivate only a user it deactivated, cancel the user action it applied, …); prints what cannot be undone and why')
    .argument('<id>', 'alert id, or an unambiguous prefix')
    .requiredOption('--reason <text>', 'why (recorded with the alert)')
    .option('--user <userId>', 'only what was done to this user')
    .option('--operator <name>', 'who (default: the OS user)')
    .option('--json', 'as JSON: {"alertId", "undone": [{step, detail}], "kept": [{step, detail}], "cancelled": [steps], "nothingToDo"}')
    .action(async (id: string, opts: { reason: string, user?: string, operator?: string, json?: boolean }) => {
      const config = loadConfig(process.env, ['fusionauth'])
      const gateway = createFusionAuthGateway({ url: config.fusionAuthUrl!, apiKey: config.fusionAuthApiKey!, timeoutMs: config.fusionAuthTimeoutMs, tenantIds: config.tenantIds })
      try {
        await withStore(async store => {
          const alertId = await resolveAlertId(store, id)
          const r = await restoreAlert({ store, config, gateway }, alertId, { operator: operatorOf(opts.operator), reason: opts.reason, userId: opts.user })
          if (opts.json === true) { outJson({ alertId, undone: r.undone, kept: r.kept, cancelled: r.cancelled, nothingToDo: r.nothingToDo }); return }
          const rows = [
            ...r.undone.map(u => ['undone', ...stepLine(u.step, u.detail)]),
            ...r.cancelled.map(s => ['cancelled', ...stepLine(s, 'was pending: will not run')]),
            ...r.kept.map(k => ['kept', ...stepLine(k.step, k.detail)])
          ]
          out(r.nothingToDo ? `Nothing left to undo for alert ${alertId}.` : `Restored alert ${alertId} (outcome ${r.alert.outcome ?? '-'}):`)
          if (rows.length > 0) out(table(['RESULT', 'USER', 'ACTION', 'DETAIL'], rows).replace(/^/gm, '  '))
        })
      } finally {
        await gateway.close()
      }
    }), {
    examples: [
      'breach-bridge alerts restore 0190ab --reason "confirmed not breached (ticket SEC-1234)"',
      'breach-bridge alerts restore 0190ab --user 2f1c… --reason "only this tenant\'s user"'
    ],
    env: [...STORE_ENV, ...FUSIONAUTH_ENV]
  })
}

const CSV_HEADERS = ['userId', 'tenantId', 'email', 'exposureId', 'state', 'firstSeen', 'lastChange', 'alertIds', 'steps']

export function usersCommand (): Command {
  const users = new Command('users').description('the compromised-users report')
  withHelp(users, { examples: ['breach-bridge users list --since 30d --state pending'], env: STORE_ENV })
  withHelp(users.command('list')
    .description('one row per user and exposure: where each breached user stands (pending, actioned, self-remediated, restored, …)')
    .option('--since <when>', 'exposures first seen at or after: a date or a duration back from now (30d)', text => parseSince(text))
    .option('--tenant <id>', 'only this tenant')
    .addOption(new Option('--state <state>', 'only users in this state').choices(USER_STATES as string[]))
    .option('--limit <n>', 'at most this many rows', v => { const n = Number(v); if (!Number.isInteger(n) || n < 1) throw new CliError('--limit must be a positive whole number'); return n }, 1000)
    .addOption(new Option('--json', 'a JSON array of rows').conflicts('csv'))
    .addOption(new Option('--csv', 'CSV (RFC 4180), formula-safe').conflicts('json'))
    .action(async (opts: { since?: number, tenant?: string, state?: UserState, limit: number, json?: boolean, csv?: boolean }) => {
      await withStore(async store => {
        const rows = await listUsers(store, { sinceMs: opts.since, tenantId: opts.tenant?.toLowerCase(), state: opts.state, limit: opts.limit })
        if (opts.json === true) outJson(rows)
        else if (opts.csv === true) {
          outCsv(CSV_HEADERS, rows.map(r => [r.userId, r.tenantId ?? '', r.email ?? '', r.exposureId ?? '', r.state, r.firstSeen, r.lastChange, r.alertIds.join(' '),
            r.steps.map(s => `${s.action}:${s.state}`).join(' ')]))
        } else if (rows.length === 0) out('No users match.')
        else {
          out(table(['USER', 'TENANT', 'EMAIL', 'EXPOSURE', 'STATE', 'FIRST SEEN', 'ALERTS'],
            rows.map(r => [r.userId, r.tenantId ?? '-', r.email ?? '-', inert(r.exposureId ?? '-'), r.state, shortTime(r.firstSeen), String(r.alertIds.length)])))
        }
      })
    }), {
    examples: ['breach-bridge users list', 'breach-bridge users list --state self-remediated --since 7d', 'breach-bridge users list --tenant 5d9c… --csv > users.csv'],
    env: STORE_ENV
  })
  return users
}
