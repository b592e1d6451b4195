import { Command, Option } from 'commander'
import { resolveTenant, tenantLabel, tenantNames } from '../operations/tenants.js'
import { listUsers, USER_STATES, type UserState } from '../operations/users.js'
import { action } from './command.js'
import type { CliContext } from './context.js'
import { CliError } from './exit.js'
import { STORE_ENV, TENANT_NAMES_ENV, withHelp } from './help.js'
import { inert, outputTo, shortTime, table } from './output.js'
import { parseSince } from './parse.js'
import { withCommandStore } from './store.js'

const CSV_HEADERS = ['userId', 'tenantId', 'email', 'source', 'exposureId', 'state', 'firstSeen', 'lastChange', 'alertIds', 'steps', 'tenantName']

function parseUserLimit (v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new CliError('--limit must be a positive whole number')
  return n
}

export function usersCommand (ctx: CliContext): Command {
  const { out, outJson, outCsv } = outputTo(ctx)
  const users = new Command('users').description('the compromised-users report')
  withHelp(users, { examples: ['breach-bridge users list --since 30d --state pending'], env: STORE_ENV })
  withHelp(users.command('list')
    .description('one row per user and exposure (an Enzoic exposure, or FusionAuth\'s detection at a login: source fusionauth): where each breached user stands (pending, actioned, self-remediated, restored, …)')
    .option('--since <when>', 'exposures first seen at or after: a date or a duration back from now (30d)', text => parseSince(text, ctx.now()))
    .option('--tenant <id>', 'only this tenant: its id, an unambiguous prefix of it (at least 4 characters), or its name')
    .addOption(new Option('--state <state>', 'only users in this state').choices(USER_STATES as string[]))
    .option('--limit <n>', 'at most this many rows', parseUserLimit, 1000)
    .addOption(new Option('--json', 'a JSON array of rows').conflicts('csv'))
    .addOption(new Option('--csv', 'CSV (RFC 4180), formula-safe').conflicts('json'))
    .action(action(async (opts: { since?: number, tenant?: string, state?: UserState, limit: number, json?: boolean, csv?: boolean }) => {
      const config = ctx.config()
      const names = await tenantNames(config)
      const rows = await withCommandStore(config.database, async store => {
        const tenantId = opts.tenant === undefined ? undefined : await resolveTenant(store, names, opts.tenant)
        return await listUsers(store, { sinceMs: opts.since, tenantId, state: opts.state, limit: opts.limit })
      })
      const nameOf = (id: string | undefined): string | undefined => id === undefined ? undefined : names.get(id.toLowerCase())
      if (opts.json === true) outJson(rows.map(r => ({ ...r, tenantName: nameOf(r.tenantId) })))
      else if (opts.csv === true) {
        outCsv(CSV_HEADERS, rows.map(r => [r.userId, r.tenantId ?? '', r.email ?? '', r.source, r.exposureId ?? '', r.state, r.firstSeen, r.lastChange, r.alertIds.join(' '),
          r.steps.map(s => `${s.action}:${s.state}`).join(' '), nameOf(r.tenantId) ?? '']))
      } else if (rows.length === 0) out('No users match.')
      else {
        out(table(['USER', 'TENANT', 'EMAIL', 'SOURCE', 'EXPOSURE', 'STATE', 'FIRST SEEN', 'ALERTS'],
          rows.map(r => [r.userId, tenantLabel(names, r.tenantId), r.email ?? '-', r.source, inert(r.exposureId ?? '-'), r.state, shortTime(r.firstSeen), String(r.alertIds.length)])))
      }
    })), {
    examples: ['breach-bridge users list', 'breach-bridge users list --state self-remediated --since 7d', 'breach-bridge users list --tenant 5d9c --csv > users.csv'],
    env: [...STORE_ENV, TENANT_NAMES_ENV]
  })
  return users
}
