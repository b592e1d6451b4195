import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { loadConfig } from './config.js'
import { describeDatabase, migrateDatabase } from './store/index.js'
import { encryptPayload, parsePayloadKey, type CipherLayout } from './intake/decrypt.js'
import { out, outJson } from './cli/output.js'
import { classify, CliError, EXIT } from './cli/exit.js'
import { STORE_ENV, withHelp } from './cli/help.js'
import { alertsCommand } from './cli/alerts.js'
import { checkCommand } from './cli/check.js'
import { usersCommand } from './cli/lifecycle.js'
import { completionCommand } from './cli/completion.js'
import { enzoicCommand } from './cli/enzoic.js'

/** package.json's version (the same file beside src/ and dist/). */
export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

async function readStdin (): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** `serve` failing to start: one line that says what to do, never a stack. */
function serveError (e: unknown, host: string, port: number): CliError | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EADDRINUSE') {
    return new CliError(`cannot listen on ${host}:${port}: the port is already in use (another bridge running?). Stop that process, or set PORT (and HOST) to a free address`, EXIT.unavailable)
  }
  if (code === 'EACCES') return new CliError(`cannot listen on ${host}:${port}: permission denied (ports below 1024 need privileges): set PORT to 1024 or above, behind nginx`, EXIT.usage)
  if (code === 'EADDRNOTAVAIL') return new CliError(`cannot listen on ${host}:${port}: no such address on this machine: check HOST`, EXIT.usage)
  const known = classify(e)
  return known === undefined ? undefined : new CliError(`cannot start: ${known.message}`, known.exitCode)
}

export function createProgram (): Command {
  const program = new Command('breach-bridge')
    .description('Enzoic breach alerts → FusionAuth: receive, store durably, deactivate the breached users.')
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(add --help for usage)')
  withHelp(program, {
    examples: ['breach-bridge check', 'breach-bridge serve', 'breach-bridge alerts list --since 24h', 'breach-bridge enzoic webhooks test --wait 60s', 'breach-bridge completion bash'],
    env: ['the configuration (docs/cli.md, "Environment"); each command\'s --help names the variables it reads']
  })

  withHelp(program.command('serve')
    .description('run the webhook server and the remediation worker (configuration from the environment and ./.env)')
    .action(async () => {
      const config = loadConfig(process.env, ['webhook', 'fusionauth'])
      const { main } = await import('./server.js')
      try {
        await main()
      } catch (e) {
        throw serveError(e, config.host, config.port) ?? e
      }
    }), {
    examples: ['breach-bridge serve', 'PORT=8081 breach-bridge serve'],
    env: [
      'HOST, PORT: the listen address (default 127.0.0.1:8080); LOG_LEVEL',
      'ENZOIC_WEBHOOK_CREDENTIALS (required), FUSIONAUTH_URL and FUSIONAUTH_API_KEY (required), BRIDGE_DATABASE',
      'every other variable of the configuration (docs/cli.md, "Environment")'
    ]
  })

  withHelp(program.command('migrate')
    .description('bring the database schema up to date and exit (PostgreSQL: before a rollout; replicas also migrate at start, one at a time)')
    .option('--json', 'as JSON: {"kind", "location", "from", "to"}')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig(process.env)
      let r
      try {
        r = await migrateDatabase(config.database)
      } catch (e) {
        const where = describeDatabase(config.database)
        const known = classify(e)
        if (known?.exitCode === EXIT.unavailable) {
          throw new CliError(`cannot reach the database ${where}: ${known.message}: check BRIDGE_DATABASE and that the database server runs`, EXIT.unavailable)
        }
        if (known !== undefined) throw known
        throw new CliError(`cannot migrate ${where}: ${(e as Error).message}`, EXIT.failure)
      }
      if (opts.json === true) {
        outJson(r)
        return
      }
      out(r.from === r.to
        ? `${r.kind} ${r.location}: schema already at version ${r.to}.`
        : `${r.kind} ${r.location}: schema migrated from version ${r.from} to ${r.to}.`)
    }), { examples: ['breach-bridge migrate', 'BRIDGE_DATABASE_FILE=/etc/enzoic-bridge/database-url breach-bridge migrate'], env: STORE_ENV })

  const payload = program.command('payload').description('Enzoic payload encryption helpers')
  withHelp(payload, { examples: ['breach-bridge payload encrypt --key hex:… < alert.json'], env: ['ENZOIC_PAYLOAD_KEY, ENZOIC_PAYLOAD_CIPHER'] })
  withHelp(payload.command('encrypt')
    .description('encrypt JSON read from stdin into an Enzoic-style Base64 body (checks a key, makes test bodies)')
    .option('--key <key>', 'AES key: base64:…, hex:… or raw text of 16/24/32 bytes (default: ENZOIC_PAYLOAD_KEY)')
    .addOption(new Option('--cipher <layout>', 'layout (default: ENZOIC_PAYLOAD_CIPHER or cbc)').choices(['cbc', 'gcm']))
    .action(async (opts: { key?: string, cipher?: CipherLayout }) => {
      const keyText = opts.key ?? process.env.ENZOIC_PAYLOAD_KEY
      if (keyText === undefined || keyText === '') throw new CliError('no key: pass --key or set ENZOIC_PAYLOAD_KEY')
      const key = parsePayloadKey(keyText)
      if (typeof key === 'string') throw new CliError(`--key: ${key}`)
      const cipher = opts.cipher ?? (process.env.ENZOIC_PAYLOAD_CIPHER as CipherLayout | undefined) ?? 'cbc'
      if (cipher !== 'cbc' && cipher !== 'gcm') throw new CliError('ENZOIC_PAYLOAD_CIPHER must be cbc or gcm')
      const input = await readStdin()
      try {
        JSON.parse(input.toString('utf8'))
      } catch {
        throw new CliError('stdin is not JSON: pipe the alert JSON in, e.g. `breach-bridge payload encrypt < alert.json`')
      }
      process.stdout.write(encryptPayload(input, key, cipher) + '\n')
    }), {
    examples: ['breach-bridge payload encrypt --key "hex:$(openssl rand -hex 32)" --cipher gcm < alert.json'],
    env: ['ENZOIC_PAYLOAD_KEY: the key when --key is not given', 'ENZOIC_PAYLOAD_CIPHER: the layout when --cipher is not given']
  })

  program.addCommand(alertsCommand())
  program.addCommand(usersCommand())
  program.addCommand(checkCommand())
  program.addCommand(enzoicCommand())
  program.addCommand(completionCommand(() => program))

  // Commander's own errors (unknown option, missing argument, bad choice) follow the exit-code table too.
  const everywhere = (cmd: Command): void => {
    cmd.exitOverride()
    cmd.showHelpAfterError('(add --help for usage)')
    for (const c of cmd.commands) everywhere(c)
  }
  everywhere(program)

  // Ctrl-C in a command that does not handle it itself (serve and monitor sync do): exit 130.
  program.hook('preAction', (_root, action) => {
    if (action.name() === 'serve') return
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (process.listenerCount(signal) > 1) return // the command stops gracefully by itself
        process.stderr.write('\nbreach-bridge: interrupted\n')
        process.exit(EXIT.interrupted)
      })
    }
  })
  return program
}

export async function run (argv: string[] = process.argv): Promise<void> {
  try {
    await import('dotenv').then(d => d.config({ quiet: true }))
    await createProgram().parseAsync(argv)
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version end with 0; every usage error (already printed by commander) with 2.
      process.exitCode = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage
      return
    }
    const known = classify(e)
    if (known !== undefined) {
      process.stderr.write(`breach-bridge: ${known.message}\n`)
      process.exitCode = known.exitCode
      return
    }
    throw e
  }
}
