import { Command } from 'commander'
import { describeDatabase, migrateDatabase, type MigrationReport } from '../store/index.js'
import { action } from './command.js'
import type { CliContext } from './context.js'
import { classify, CliError, EXIT } from './exit.js'
import { STORE_ENV, withHelp } from './help.js'
import { outputTo } from './output.js'

async function migrate (database: string): Promise<MigrationReport> {
  try {
    return await migrateDatabase(database)
  } catch (e) {
    const where = describeDatabase(database)
    const known = classify(e)
    if (known?.exitCode === EXIT.unavailable) {
      throw new CliError(`cannot reach the database ${where}: ${known.message}: check BRIDGE_DATABASE and that the database server runs`, EXIT.unavailable)
    }
    if (known !== undefined) throw known
    throw new CliError(`cannot migrate ${where}: ${(e as Error).message}`, EXIT.failure)
  }
}

export function migrateCommand (ctx: CliContext): Command {
  const { out, outJson } = outputTo(ctx)
  return withHelp(new Command('migrate')
    .description('bring the database schema up to date and exit (PostgreSQL: before a rollout; replicas also migrate at start, one at a time)')
    .option('--json', 'as JSON: {"kind", "location", "from", "to"}')
    .action(action(async (opts: { json?: boolean }) => {
      const r = await migrate(ctx.config().database)
      if (opts.json === true) {
        outJson(r)
        return
      }
      out(r.from === r.to
        ? `${r.kind} ${r.location}: schema already at version ${r.to}.`
        : `${r.kind} ${r.location}: schema migrated from version ${r.from} to ${r.to}.`)
    })), { examples: ['breach-bridge migrate', 'BRIDGE_DATABASE_FILE=/etc/enzoic-bridge/database-url breach-bridge migrate'], env: STORE_ENV })
}
