import { Command } from 'commander'
import { action } from './command.js'
import type { CliContext } from './context.js'
import { classify, CliError, EXIT } from './exit.js'
import { withHelp } from './help.js'

/** `serve` failing to start: one line that says what to do, never a stack. */
function serveError (e: unknown, host: string, port: number): CliError | undefined {
  const known = classify(e)
  if (known !== undefined) return new CliError(`cannot start: ${known.message}`, known.exitCode)
  const err = e as NodeJS.ErrnoException | undefined
  // A file it reads at start (TLS_CERT_FILE, TLS_KEY_FILE, ENZOIC_CLIENT_CA_FILE): the file, not the port.
  if (err?.path !== undefined && (err.syscall === 'open' || err.syscall === 'read')) {
    return new CliError(`cannot start: cannot read ${err.path} (${err.code ?? 'error'}): check the file and its permissions`, EXIT.usage)
  }
  // Only the listener's own errors are about the address (an EACCES elsewhere is a file's, not the port's).
  if (err?.syscall !== 'listen') return undefined
  const code = err.code
  if (code === 'EADDRINUSE') {
    return new CliError(`cannot listen on ${host}:${port}: the port is already in use (another bridge running?). Stop that process, or set PORT (and HOST) to a free address`, EXIT.unavailable)
  }
  if (code === 'EACCES') return new CliError(`cannot listen on ${host}:${port}: permission denied (ports below 1024 need privileges): set PORT to 1024 or above, behind nginx`, EXIT.usage)
  if (code === 'EADDRNOTAVAIL') return new CliError(`cannot listen on ${host}:${port}: no such address on this machine: check HOST`, EXIT.usage)
  return undefined
}

/**
 * `serve`: a process thing — src/server.ts's `main` starts the server and the worker, logs to the process's
 * stdout and stops them on SIGTERM/SIGINT (close-with-grace). The command only validates the configuration
 * first (so a problem is one line and exit 2) and words a failure to start.
 */
export function serveCommand (ctx: CliContext): Command {
  return withHelp(new Command('serve')
    .description('run the webhook server and the remediation worker (configuration from the environment and ./.env)')
    .action(action(async () => {
      const config = ctx.config(['webhook', 'fusionauth'])
      const { main } = await import('../server.js')
      try {
        await main(ctx.env, { envFileProblem: ctx.envFileProblem })
      } catch (e) {
        throw serveError(e, config.host, config.port) ?? e
      }
    })), {
    examples: ['breach-bridge serve', 'PORT=8081 breach-bridge serve'],
    env: [
      'HOST, PORT: the listen address (default 127.0.0.1:8080); LOG_LEVEL',
      'ENZOIC_WEBHOOK_CREDENTIALS (required), FUSIONAUTH_URL and FUSIONAUTH_API_KEY (required), BRIDGE_DATABASE',
      'every other variable of the configuration (docs/cli.md, "Environment")'
    ]
  })
}
