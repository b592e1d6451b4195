import { Command, Option } from 'commander'
import { ConfigError, loadConfig } from './config.js'
import { migrateDatabase } from './store/index.js'
import { SchemaVersionError } from './store/types.js'
import { encryptPayload, parsePayloadKey, type CipherLayout } from './intake/decrypt.js'
import { UsageError, out } from './cli/output.js'
import { alertsCommand } from './cli/alerts.js'
import { checkCommand } from './cli/check.js'
import { enzoicCommand } from './cli/enzoic.js'

async function readStdin (): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export function createProgram (): Command {
  const program = new Command('breach-bridge')
    .description('Enzoic breach alerts → FusionAuth: receive, store durably, deactivate the breached users.')
    .showHelpAfterError()

  program.command('serve')
    .description('run the webhook server (configuration from the environment and ./.env)')
    .action(async () => {
      const { main } = await import('./server.js')
      await main()
    })

  program.command('migrate')
    .description('bring the database schema up to date and exit (PostgreSQL: before a rollout; replicas also migrate at start, one at a time)')
    .action(async () => {
      const config = loadConfig(process.env)
      let r
      try {
        r = await migrateDatabase(config.database)
      } catch (err) {
        if (err instanceof SchemaVersionError) throw new UsageError(err.message, 1)
        throw new UsageError(`cannot migrate: ${(err as Error).message}`, 1)
      }
      out(r.from === r.to
        ? `${r.kind} ${r.location}: schema already at version ${r.to}.`
        : `${r.kind} ${r.location}: schema migrated from version ${r.from} to ${r.to}.`)
    })

  const payload = program.command('payload').description('Enzoic payload encryption helpers')
  payload.command('encrypt')
    .description('encrypt JSON read from stdin into an Enzoic-style Base64 body (checks a key, makes test bodies)')
    .option('--key <key>', 'AES key: base64:…, hex:… or raw text of 16/24/32 bytes (default: ENZOIC_PAYLOAD_KEY)')
    .addOption(new Option('--cipher <layout>', 'layout (default: ENZOIC_PAYLOAD_CIPHER or cbc)').choices(['cbc', 'gcm']))
    .action(async (opts: { key?: string, cipher?: CipherLayout }) => {
      const keyText = opts.key ?? process.env.ENZOIC_PAYLOAD_KEY
      if (keyText === undefined || keyText === '') throw new UsageError('no key: pass --key or set ENZOIC_PAYLOAD_KEY')
      const key = parsePayloadKey(keyText)
      if (typeof key === 'string') throw new UsageError(`--key: ${key}`)
      const cipher = opts.cipher ?? (process.env.ENZOIC_PAYLOAD_CIPHER as CipherLayout | undefined) ?? 'cbc'
      if (cipher !== 'cbc' && cipher !== 'gcm') throw new UsageError('ENZOIC_PAYLOAD_CIPHER must be cbc or gcm')
      const input = await readStdin()
      try {
        JSON.parse(input.toString('utf8'))
      } catch {
        throw new UsageError('stdin is not JSON: pipe the alert JSON in, e.g. `breach-bridge payload encrypt < alert.json`')
      }
      process.stdout.write(encryptPayload(input, key, cipher) + '\n')
    })

  program.addCommand(alertsCommand())
  program.addCommand(checkCommand())
  program.addCommand(enzoicCommand())
  return program
}

export async function run (argv: string[] = process.argv): Promise<void> {
  try {
    await import('dotenv').then(d => d.config({ quiet: true }))
    await createProgram().parseAsync(argv)
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`breach-bridge: ${err.message}\n`)
      process.exitCode = err instanceof UsageError ? err.exitCode : 2
      return
    }
    throw err
  }
}
