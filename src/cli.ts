/**
 * The `breach-bridge` program. `createProgram(ctx)` builds the command tree against a context (the
 * streams, environment, clock and interrupts of one run: cli/context.ts); `run(args, ctx)` runs one command
 * line and returns its exit code (docs/cli.md, "Exit codes"). Both run in-process — the tests call them
 * directly. `main()` is the process entry (bin/breach-bridge.js): the process's context, ./.env included,
 * and the exit code handed to the process.
 */
import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { alertsCommand } from './cli/alerts.js'
import { checkCommand } from './cli/check.js'
import { resultOf } from './cli/command.js'
import { completionCommand } from './cli/completion.js'
import { processContext, type CliContext } from './cli/context.js'
import { enzoicCommand } from './cli/enzoic.js'
import { fusionAuthCommand } from './cli/fusionauth.js'
import { classify, EXIT, type ExitCode } from './cli/exit.js'
import { withHelp } from './cli/help.js'
import { migrateCommand } from './cli/migrate.js'
import { notifyCommand } from './cli/notify.js'
import { payloadCommand } from './cli/payload.js'
import { serveCommand } from './cli/serve.js'
import { envFileWarning } from './config/index.js'
import { usersCommand } from './cli/users.js'

/** package.json's version (the same file beside src/ and dist/). */
export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** Commander's own output (help, --version, its usage errors) on the context's streams, on every command. */
function bindOutput (cmd: Command, ctx: CliContext): void {
  cmd.configureOutput({
    writeOut: str => { ctx.stdout.write(str) },
    writeErr: str => { ctx.stderr.write(str) },
    getOutHelpWidth: () => ctx.stdout.isTTY === true ? ctx.stdout.columns ?? 80 : 80,
    getErrHelpWidth: () => ctx.stderr.isTTY === true ? ctx.stderr.columns ?? 80 : 80,
    getOutHasColors: () => false,
    getErrHasColors: () => false
  })
  // Commander's errors (unknown option, missing argument, bad choice) follow the exit-code table too.
  cmd.exitOverride()
  cmd.showHelpAfterError('(add --help for usage)')
  for (const c of cmd.commands) bindOutput(c, ctx)
}

export function createProgram (ctx: CliContext): Command {
  const program = new Command('breach-bridge')
    .description('Enzoic breach alerts → FusionAuth: receive, store durably, deactivate the breached users.')
    .version(VERSION, '-V, --version', 'print the version')
  withHelp(program, {
    examples: ['breach-bridge check', 'breach-bridge serve', 'breach-bridge alerts list --since 24h', 'breach-bridge enzoic webhooks test --wait 60s', 'breach-bridge completion bash'],
    env: ['each command\'s --help names the variables it reads']
  })
  program.addCommand(serveCommand(ctx))
  program.addCommand(migrateCommand(ctx))
  program.addCommand(payloadCommand(ctx))
  program.addCommand(alertsCommand(ctx))
  program.addCommand(usersCommand(ctx))
  program.addCommand(checkCommand(ctx))
  program.addCommand(enzoicCommand(ctx))
  program.addCommand(fusionAuthCommand(ctx))
  program.addCommand(notifyCommand(ctx))
  program.addCommand(completionCommand(() => program, ctx))
  bindOutput(program, ctx)

  // Ctrl-C in a command that does not take it itself (monitor sync does): exit 130. `serve` stops gracefully.
  program.hook('preAction', (_root, action) => {
    if (action.name() !== 'serve') ctx.exitOnInterrupt()
  })
  return program
}

/** Runs one command line (the words after `breach-bridge`) and returns its exit code; a bug is thrown. */
export async function run (args: readonly string[], ctx: CliContext): Promise<ExitCode> {
  const program = createProgram(ctx)
  // Before anything else: the configuration problems that may follow are likely its consequence (`serve` logs it too).
  if (ctx.envFileProblem !== undefined) ctx.stderr.write(`breach-bridge: warning: ${envFileWarning(ctx.envFileProblem)}\n`)
  try {
    await program.parseAsync([...args], { from: 'user' })
    return resultOf(program)
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version end with 0; every usage error (already printed by commander) with 2.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage
    }
    const known = classify(e)
    if (known === undefined) throw e
    ctx.stderr.write(`breach-bridge: ${known.message}\n`)
    return known.exitCode
  }
}

/** The process entry: the process's context (./.env read here, and only here), its exit code set. */
export async function main (): Promise<void> {
  process.exitCode = await run(process.argv.slice(2), await processContext())
}
