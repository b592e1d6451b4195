/**
 * What a command may touch of the world, handed to it (as gh's commands take IOStreams): the three
 * streams, the environment, the clock, whether a person sits at a terminal, and Ctrl-C. No command reaches
 * for `process`: the whole program runs in-process against any context — the tests give one made of
 * strings and an environment of their own — and only `processContext` (the real entry, bin/breach-bridge.js)
 * binds it to the process. That is also the only place ./.env is read.
 *
 * The configuration is read through the context (`ctx.config(…)`), never with loadConfig directly, so a
 * change of the configuration module touches this file only.
 */
import { loadConfig, type Config, type Requirement } from '../config/index.js'
import { EXIT } from './exit.js'

/** Where a command writes: process.stdout/stderr, or a stream a test reads back. */
export type OutputStream = NodeJS.WritableStream & { isTTY?: boolean, columns?: number }
/** Where `payload encrypt` reads its JSON and `alerts purge` its answer. */
export type InputStream = NodeJS.ReadableStream

export interface CliContext {
  readonly stdout: OutputStream
  readonly stderr: OutputStream
  readonly stdin: InputStream
  /** The environment the command reads, and nothing else: for the real entry, the process's plus ./.env. */
  readonly env: NodeJS.ProcessEnv
  /** Epoch ms: `--since 24h`, `purge`'s cut-off, the progress throttle. */
  now (): number
  /** stdin is a terminal: a command may ask (alerts purge without --yes). */
  readonly stdinIsTTY: boolean
  /** stderr is a terminal: `monitor sync` draws a progress bar there (unless CI is set). */
  readonly stderrIsTTY: boolean
  /**
   * Ctrl-C (SIGINT) or SIGTERM while a command runs: the newest handler registered is called, once, and
   * removed; a second interrupt goes to the next one, or ends the command. Returns the function that
   * removes the handler.
   */
  onInterrupt (handler: () => void): () => void
  /**
   * From now on an interrupt no handler takes ends the command: `breach-bridge: interrupted`, exit 130.
   * Called before every command but `serve` (which stops gracefully by itself).
   */
  exitOnInterrupt (): void
  /** The configuration from `env`, validated as loadConfig does; `requirements` make variables required. */
  config (requirements?: readonly Requirement[]): Config
  /** ./.env exists but could not be read (its errno): its settings are not applied — said, never silent. */
  readonly envFileProblem?: string
}

/** Everything but `config`, which `createContext` derives from `env`. */
export type ContextParts = Omit<CliContext, 'config' | 'now' | 'stdinIsTTY' | 'stderrIsTTY' | 'onInterrupt' | 'exitOnInterrupt' | 'envFileProblem'> &
  Partial<Pick<CliContext, 'now' | 'stdinIsTTY' | 'stderrIsTTY' | 'onInterrupt' | 'exitOnInterrupt' | 'envFileProblem'>>

/** A context from its parts: no terminal, the real clock and no interrupts unless given. */
export function createContext (parts: ContextParts): CliContext {
  const { stdout, stderr, stdin, env } = parts
  return {
    stdout,
    stderr,
    stdin,
    env,
    now: parts.now ?? (() => Date.now()),
    stdinIsTTY: parts.stdinIsTTY ?? false,
    stderrIsTTY: parts.stderrIsTTY ?? false,
    onInterrupt: parts.onInterrupt ?? (() => () => {}),
    exitOnInterrupt: parts.exitOnInterrupt ?? (() => {}),
    envFileProblem: parts.envFileProblem,
    config: (requirements = []) => loadConfig(env, requirements)
  }
}

/**
 * The process's context: its streams, `process.env` with ./.env added (dotenv, never overriding a variable
 * already set; process.env itself is left as it is), and SIGINT/SIGTERM.
 */
export async function processContext (): Promise<CliContext> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  const dotenv = await import('dotenv')
  const read = dotenv.config({ quiet: true, processEnv: env as Record<string, string> })
  const code = (read.error as NodeJS.ErrnoException | undefined)?.code
  const envFileProblem = read.error === undefined || code === 'ENOENT' ? undefined : code ?? read.error.message
  const handlers: Array<() => void> = []
  let exitOnInterrupt = false
  const onSignal = (signal: NodeJS.Signals): void => {
    const handler = handlers.pop()
    if (handler !== undefined) {
      handler()
      return
    }
    if (exitOnInterrupt) {
      process.stderr.write('\nbreach-bridge: interrupted\n')
      process.exit(EXIT.interrupted)
    }
    // Nobody takes it: the signal's default action, as if these listeners had never been added.
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.kill(process.pid, signal)
  }
  // `breach-bridge alerts list | head`: the reader leaves, the next write fails with EPIPE. Node ignores
  // SIGPIPE, so without this the error is an unhandled 'error' event and a stack trace. Quiet, like a tool
  // SIGPIPE ends; a store write under way is a transaction and is not left half-done.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(EXIT.ok)
  })
  const listen = (): void => {
    if (process.listeners('SIGINT').includes(onSignal)) return
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  }
  return createContext({
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env,
    stdinIsTTY: process.stdin.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    envFileProblem,
    onInterrupt (handler) {
      listen()
      handlers.push(handler)
      return () => {
        const i = handlers.lastIndexOf(handler)
        if (i >= 0) handlers.splice(i, 1)
      }
    },
    exitOnInterrupt () {
      exitOnInterrupt = true
      listen()
    }
  })
}
