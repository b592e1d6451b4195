import { ConfigError } from '../config/index.js'
import { EnzoicApiError } from '../enzoic/client.js'
import { FusionAuthError } from '../fusionauth/index.js'
import { DatabaseConfigError, SchemaVersionError, StoreUnavailableError } from '../store/types.js'
import { BridgeError } from '../errors.js'
import { TenantArgumentError } from '../operations/tenants.js'
import { inert } from './terminal.js'

/**
 * The exit codes of every `breach-bridge` command (docs/cli.md, "Exit codes"). The number tells a script
 * what to do next:
 *   0   success; for `check`: no FAIL.
 *   1   the command ran and the answer is "no": a problem found (`check`), an alert that does not exist or
 *       cannot be replayed, a test notification that never arrived, a request the remote API rejected.
 *   2   fix the command line or the configuration: unknown option, bad value, missing or invalid variable,
 *       no database at BRIDGE_DATABASE or one that cannot be opened (a folder, permissions, a refused password,
 *       no such PostgreSQL database), credentials the remote API refuses, an ambiguous id prefix.
 *   3   something the command needs is unavailable right now; the same command may work later: FusionAuth,
 *       Enzoic or PostgreSQL unreachable, timing out or answering 5xx/429, the port already in use.
 * 130   interrupted (Ctrl-C / SIGINT, SIGTERM); resumable work saved its progress.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, unavailable: 3, interrupted: 130 } as const
export type ExitCode = typeof EXIT[keyof typeof EXIT]

/** A problem the CLI reports as one line on stderr (`breach-bridge: …`), without a stack, and its exit code. */
export class CliError extends BridgeError {
  readonly code = 'BRIDGE_CLI'
  constructor (message: string, readonly exitCode: ExitCode = EXIT.usage) {
    super(message)
  }
}

/** Node/undici error codes that mean "not reachable now". */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'EPIPE', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET', '57P03'])

/** The exit code and message for an error the CLI knows; undefined for a bug (printed with its stack). */
export function classify (err: unknown, hint = ''): CliError | undefined {
  if (err instanceof CliError) return err
  if (err instanceof ConfigError) return new CliError(err.message, EXIT.usage)
  if (err instanceof EnzoicApiError) {
    const code = err.status === 401 || err.status === 403
      ? EXIT.usage
      : err.retryable || err.status === undefined ? EXIT.unavailable : EXIT.failure
    return new CliError(err.message + hint, code)
  }
  if (err instanceof FusionAuthError) {
    const code = err.kind === 'auth' ? EXIT.usage : err.kind === 'retryable' ? EXIT.unavailable : EXIT.failure
    const where = err.status === undefined ? ': check FUSIONAUTH_URL and the network' : ''
    return new CliError(err.message + where + hint, code)
  }
  if (err instanceof DatabaseConfigError) return new CliError(err.message, EXIT.usage)
  if (err instanceof TenantArgumentError) return new CliError(inert(err.message), EXIT.usage)
  if (err instanceof StoreUnavailableError) return new CliError(`${err.message}${causeOf(err)}${hint}`, EXIT.unavailable)
  if (err instanceof SchemaVersionError) return new CliError(err.message, EXIT.failure)
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (typeof code === 'string' && UNREACHABLE.has(code)) return new CliError(`${(err as Error).message}${hint}`, EXIT.unavailable)
  return undefined
}

function causeOf (err: Error): string {
  const cause = (err.cause as Error | undefined)?.message
  return cause === undefined || err.message.includes(cause) ? '' : ` (${cause})`
}
