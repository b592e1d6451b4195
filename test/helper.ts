import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { Writable } from 'node:stream'
import type { TestContext } from 'node:test'
import { pino, type Logger } from 'pino'
import { loadConfig, type Config } from '../src/config/index.js'
import { startBridge, type RunningBridge, type StartOptions } from '../src/server.js'
import { loggerOptions } from '../src/observability/logger.js'
import { childCwd, SERVER_ENTRY, TSX_IMPORT, type BridgeProcess } from './fixtures/processes.js'

/** The webhook credentials every test bridge accepts (two pairs: rotation). */
export const WEBHOOK_KEY = 'enzoic-webhook-key'
export const WEBHOOK_SECRET = 'first-secret:with-colon'
export const WEBHOOK_KEY_2 = 'rotated-key'
export const WEBHOOK_SECRET_2 = 'second-secret'

export function basic (key: string, secret: string): string {
  return 'Basic ' + Buffer.from(`${key}:${secret}`).toString('base64')
}
export const AUTH = basic(WEBHOOK_KEY, WEBHOOK_SECRET)

/** A temporary folder removed after the test. */
export function tmpDir (t: TestContext, prefix = 'bridge-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Environment for a test bridge: loopback, port 0, a temp database, the credentials above. */
export function testEnv (dir: string, overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    BRIDGE_DATABASE: join(dir, 'bridge.db'),
    ENZOIC_WEBHOOK_CREDENTIALS: `${WEBHOOK_KEY}:${WEBHOOK_SECRET},${WEBHOOK_KEY_2}:${WEBHOOK_SECRET_2}`,
    ...overrides
  }
}

export function testConfig (dir: string, overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig(testEnv(dir, overrides), ['webhook'])
}

/** A pino logger (with the production redaction and email masking) whose JSON lines are kept in `lines`. */
export function captureLogger (level = 'debug', emails: 'masked' | 'full' = 'masked'): { logger: Logger, lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(l => l !== ''))
      cb()
    }
  })
  const logger = pino({ ...loggerOptions(level, { emails }), transport: undefined }, stream)
  return { logger, lines }
}

export interface TestBridge extends RunningBridge {
  dir: string
  config: Config
  logs: string[]
}

/** Starts the real bridge (store, app, HTTP listener on 127.0.0.1:0) and closes it after the test. */
export async function startTestBridge (
  t: TestContext, overrides: Record<string, string | undefined> = {}, dir = tmpDir(t), options: StartOptions = {}
): Promise<TestBridge> {
  const config = testConfig(dir, overrides)
  const { logger, lines } = captureLogger('debug', config.logEmails)
  const bridge = await startBridge(config, logger, options)
  t.after(() => bridge.close())
  return { ...bridge, dir, config, logs: lines }
}

/** POSTs a body to the bridge's webhook with the default credentials unless told otherwise. */
export async function postAlert (url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any, headers: Headers }> {
  const res = await fetch(`${url}/webhooks/enzoic`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body)
  })
  const text = await res.text()
  let parsed: unknown = text
  try { parsed = JSON.parse(text) } catch {}
  return { status: res.status, body: parsed, headers: res.headers }
}

/** Polls `check` until it returns a truthy value (returned) or the time runs out (throws with `what`). */
export async function waitFor<T> (check: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

/** A port free on 127.0.0.1 right now (for a server that must be told its port before it starts). */
export async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise(resolve => srv.close(resolve))
  return port
}

/** The shipped systemd unit (deploy/systemd/enzoic-bridge.service), as text. */
export function systemdUnit (): string {
  return readFileSync(new URL('../deploy/systemd/enzoic-bridge.service', import.meta.url), 'utf8')
}

/** The node flags of the unit's `ExecStart=… node --flag … ` line (the production heap caps), as the benchmarks read them. */
export { productionNodeFlags } from '../bench/production-flags.js'

/** The unit's `MemoryMax=` in bytes, or undefined when it sets none. */
export function productionMemoryMax (): number | undefined {
  const m = /^MemoryMax=(\d+)([KMG]?)\s*$/m.exec(systemdUnit())
  if (m === null) return undefined
  return Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]!]!
}

export interface BridgeChild extends BridgeProcess {
  /** What the process wrote to stderr so far. */
  stderr (): string
  /** True while the process has neither exited nor been killed by a signal (e.g. SIGABRT on heap exhaustion). */
  alive (): boolean
}

/**
 * Like `spawnBridge` (fixtures/processes.ts): `src/server.ts` as a real process on 127.0.0.1 in an empty
 * working directory, but with extra node arguments (e.g. `productionNodeFlags()`), and ready once `/healthz`
 * answers (so any LOG_LEVEL works; plain HTTP only). Killed after the test.
 */
export async function spawnBridgeWithNodeArgs (t: TestContext, env: NodeJS.ProcessEnv, nodeArgs: readonly string[], timeoutMs = 20_000): Promise<BridgeChild> {
  const dir = childCwd()
  const port = await freePort()
  const child = spawn(process.execPath, [...nodeArgs, ...TSX_IMPORT, SERVER_ENTRY], {
    cwd: dir.cwd,
    env: { PATH: process.env.PATH, CI: 'true', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const alive = (): boolean => child.exitCode === null && child.signalCode === null
  t.after(() => { if (alive()) child.kill('SIGKILL') })
  const logs: string[] = []
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  createInterface({ input: child.stdout! }).on('line', line => logs.push(line))
  const exited = new Promise<number | null>(resolve => child.on('exit', code => { dir.release(); resolve(code) }))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!alive()) throw new Error(`bridge exited (${child.exitCode ?? child.signalCode}) before listening: ${stderr}`)
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break
    } catch {}
    if (Date.now() > deadline) throw new Error(`bridge did not start in ${timeoutMs} ms: ${stderr}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return { child, url, logs, exited, stderr: () => stderr, alive }
}
