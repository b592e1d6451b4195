import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { createConnection } from 'node:net'
import { freePort } from '../helper.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { TestContext } from 'node:test'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const SITE_FILE = join(ROOT, 'deploy/nginx/enzoic-bridge.conf')
export const DEV_CA_SCRIPT = join(ROOT, 'certs/make-dev-ca.sh')

/** A test alert (reserved test domain: stored, never sent to FusionAuth); a fresh exposure id each call. */
let serial = 0
export function alertBody (): string {
  serial++
  return JSON.stringify({
    date: '2025-01-17T04:51:05.1915231Z',
    exposureID: `deploy-test-${process.pid}-${serial}`,
    username: `sample${serial}@email.tst`,
    exposureDetails: { title: 'Deploy test', entries: 1 }
  })
}

/** The first executable found, or undefined. */
function findExecutable (candidates: readonly string[]): string | undefined {
  return candidates.find(p => existsSync(p))
}

/** Where Debian and source builds put nginx (no variable chooses it: tests are hermetic). */
export const NGINX = findExecutable(['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx', '/usr/local/nginx/sbin/nginx'])
export const OPENSSL = findExecutable(['/usr/bin/openssl', '/usr/local/bin/openssl', '/bin/openssl'])

/**
 * The reason a deploy test cannot run here, or undefined when it can. In CI a missing tool is a failure
 * (`.ci/run` installs nginx and openssl, so a skip there would hide a broken pipeline); elsewhere the
 * test is skipped with a loud message.
 */
export function missingTool (t: TestContext, tools: { nginx?: boolean, openssl?: boolean }): boolean {
  const missing = [
    tools.nginx === true && NGINX === undefined ? 'nginx' : undefined,
    tools.openssl !== false && OPENSSL === undefined ? 'openssl' : undefined
  ].filter((x): x is string => x !== undefined)
  if (missing.length === 0) return false
  const message = `SKIPPED: ${missing.join(' and ')} not installed`
  if (process.env.CI !== undefined && process.env.CI !== '') {
    throw new Error(`${missing.join(' and ')} not installed: CI must run the deploy tests, not skip them (.ci/run installs it)`)
  }
  console.error(`\n*** ${message}: ${t.name} did not run ***\n`)
  t.skip(message)
  return true
}

export interface DevCa {
  dir: string
  /** Absolute path of a generated file, e.g. `file('client.crt')`. */
  file (name: string): string
  read (name: string): Buffer
  remove (): void
}

/** Runs the shipped certs/make-dev-ca.sh into a fresh temporary folder. */
export async function makeDevCa (): Promise<DevCa> {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-devca-'))
  await run('bash', [DEV_CA_SCRIPT, dir], { timeout: 30_000 })
  return {
    dir,
    file: name => join(dir, name),
    read: name => readFileSync(join(dir, name)),
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}

export interface SiteValues {
  listenPort: number
  upstreamPort: number
  serverCert: string
  serverKey: string
  clientCa: string
  logDir: string
}

/**
 * The shipped site file with its marked values replaced. Every value must be found exactly where the
 * file says; a missing one means the file changed and the test would silently test something else.
 */
export function renderSite (v: SiteValues, source = readFileSync(SITE_FILE, 'utf8')): string {
  const replacements: Array<[string, string]> = [
    ['listen 443 ssl;', `listen 127.0.0.1:${v.listenPort} ssl;`],
    ['server_name bridge.example.com;', 'server_name localhost;'],
    ['/etc/letsencrypt/live/bridge.example.com/fullchain.pem', v.serverCert],
    ['/etc/letsencrypt/live/bridge.example.com/privkey.pem', v.serverKey],
    ['/etc/nginx/enzoic/Enzoic-RootCA-2025.crt', v.clientCa],
    ['server 127.0.0.1:8080;', `server 127.0.0.1:${v.upstreamPort};`],
    ['/var/log/nginx/enzoic-bridge.access.log', join(v.logDir, 'access.log')],
    ['/var/log/nginx/enzoic-bridge.error.log', join(v.logDir, 'site-error.log')]
  ]
  // Only directives are rewritten: comments may mention the same values (and the map regex holds no '#').
  const lines = source.split('\n').map(line => {
    const hash = line.indexOf('#')
    return hash < 0 ? { code: line, comment: '' } : { code: line.slice(0, hash), comment: line.slice(hash) }
  })
  for (const [from, to] of replacements) {
    const count = lines.reduce((n, l) => n + l.code.split(from).length - 1, 0)
    if (count !== 1) throw new Error(`renderSite: "${from}" occurs ${count} times outside comments in ${SITE_FILE} (expected once)`)
    for (const l of lines) l.code = l.code.replace(from, () => to)
  }
  return lines.map(l => l.code + l.comment).join('\n')
}

export interface NginxFiles {
  prefix: string
  mainConf: string
  errorLog: string
  accessLog: string
}

/** Writes a main nginx.conf whose pid, logs and temp paths all live in `prefix`, including the site inside http {}. */
export function writeNginxConf (prefix: string, site: string): NginxFiles {
  for (const d of ['logs', 'temp']) mkdirSync(join(prefix, d), { recursive: true })
  const sitePath = join(prefix, 'enzoic-bridge.conf')
  writeFileSync(sitePath, site)
  const temp = (name: string): string => join(prefix, 'temp', name)
  const main = [
    // Workers must read/write the temp folder we own; as non-root the directive is ignored with a warning.
    process.getuid?.() === 0 ? 'user root;' : '',
    'worker_processes 1;',
    `pid ${join(prefix, 'nginx.pid')};`,
    `error_log ${join(prefix, 'logs', 'error.log')} info;`,
    'events { worker_connections 128; }',
    'http {',
    `  client_body_temp_path ${temp('body')};`,
    `  proxy_temp_path ${temp('proxy')};`,
    `  fastcgi_temp_path ${temp('fastcgi')};`,
    `  uwsgi_temp_path ${temp('uwsgi')};`,
    `  scgi_temp_path ${temp('scgi')};`,
    '  access_log off;',
    `  include ${sitePath};`,
    '}',
    ''
  ].join('\n')
  const mainConf = join(prefix, 'nginx.conf')
  writeFileSync(mainConf, main)
  return { prefix, mainConf, errorLog: join(prefix, 'logs', 'error.log'), accessLog: join(prefix, 'logs', 'access.log') }
}

const nginxArgs = (f: NginxFiles): string[] => ['-p', f.prefix + '/', '-e', f.errorLog, '-c', f.mainConf]

/** `nginx -t` on the files; resolves with its output, rejects with it when the configuration is invalid. */
export async function nginxTest (f: NginxFiles): Promise<string> {
  try {
    const { stdout, stderr } = await run(NGINX!, [...nginxArgs(f), '-t'], { timeout: 15_000 })
    return stdout + stderr
  } catch (err) {
    const e = err as { stderr?: string, stdout?: string, message: string }
    throw new Error(`nginx -t failed:\n${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`)
  }
}

async function waitForPort (port: number, child: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}`)
    const ok = await new Promise<boolean>(resolve => {
      const s = createConnection({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true) })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`nginx did not listen on ${port}`)
}

export interface RunningNginx extends NginxFiles {
  port: number
  url: string
  /** The error log so far (for assertion messages). */
  errors (): string
}

/**
 * Renders the shipped site for the given upstream, checks it with `nginx -t`, runs nginx in the
 * foreground on 127.0.0.1 and stops it after the test.
 */
export async function startNginx (t: TestContext, opts: { ca: DevCa, upstreamPort: number, clientCa?: string }): Promise<RunningNginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'bridge-nginx-'))
  const port = await freePort()
  const files = writeNginxConf(prefix, renderSite({
    listenPort: port,
    upstreamPort: opts.upstreamPort,
    serverCert: opts.ca.file('server.crt'),
    serverKey: opts.ca.file('server.key'),
    clientCa: opts.clientCa ?? opts.ca.file('ca.crt'),
    logDir: join(prefix, 'logs')
  }))
  await nginxTest(files)
  const child = spawn(NGINX!, [...nginxArgs(files), '-g', 'daemon off; master_process on;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const errors = (): string => {
    try { return stderr + readFileSync(files.errorLog, 'utf8') } catch { return stderr }
  }
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGTERM') // master_process: TERM is a fast shutdown that takes the workers with it
      await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 5000).unref())])
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    rmSync(prefix, { recursive: true, force: true })
  })
  try {
    await waitForPort(port, child, 10_000)
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${errors()}`)
  }
  return { ...files, port, url: `https://localhost:${port}`, errors }
}

export interface HttpsResult {
  status?: number
  body?: any
  headers?: Record<string, string | string[] | undefined>
  /** Set when the connection failed (e.g. a TLS alert) instead of answering. */
  error?: string
}

/**
 * One HTTPS request on a fresh connection (no agent, so no session reuse between client certificates).
 * `cert`/`key` may be omitted to present no client certificate.
 */
export async function httpsRequest (url: string, opts: {
  method?: string
  path?: string
  ca: Buffer
  cert?: Buffer
  key?: Buffer
  headers?: Record<string, string>
  body?: string | Buffer
  localAddress?: string
}): Promise<HttpsResult> {
  const u = new URL(opts.path ?? '/webhooks/enzoic', url)
  return await new Promise(resolve => {
    const req = request(u, {
      method: opts.method ?? 'POST',
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      servername: 'localhost',
      agent: false,
      headers: opts.headers,
      timeout: 10_000,
      localAddress: opts.localAddress
    }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: unknown = text
        try { body = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode, body, headers: res.headers })
      })
      res.on('error', err => resolve({ error: err.message }))
    })
    req.on('error', err => resolve({ error: `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.trim() }))
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.end(opts.body)
  })
}

export { freePort }

/** Client certificates both modes must refuse (403, nothing stored), by what is wrong with them. */
export const REFUSED_CLIENT_CERTS: ReadonlyArray<[string, string | undefined]> = [
  ['no certificate', undefined],
  ['wrong CN', 'client-wrong-cn'],
  ['suffix CN (webhooks.enzoic.com.evil.example)', 'client-suffix-cn'],
  ['look-alike CN (webhooksXenzoic.com)', 'client-lookalike-cn'],
  ['two CNs, one of them right', 'client-two-cn'],
  ['another CA', 'client-other-ca'],
  ['expired', 'client-expired']
]
