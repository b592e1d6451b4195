// npm run bench:ingest — what durable intake costs.
//
// Four kinds of process: (a) the real bridge (src/server.ts) on a temporary database, at LOG_LEVEL=info (the
// production default) with the shipped unit's node flags; (b) the durable floor (bench/ingest/floor-server.ts:
// node:http, Basic auth in constant time, JSON.parse, one batched fsync'd SQLite insert, one thread — the least a
// webhook that answers only for what is on disk can do); (c) a bare Fastify server answering {status:'accepted'}
// (no auth, no parse, no disk); (d) the load generator (autocannon, bench/ingest/load.ts), 50 connections, a
// warm-up run then ~10 s, a distinct alert per request. This process only orchestrates, reads /metrics and
// /proc, prints the table and writes bench/results/ingest.json. Exit code 0 whatever the verdicts.
//
// CPU per request: utime + stime of the server's /proc/<pid>/stat (every thread: event loop, SQLite writer, GC,
// libuv) over the measured run, divided by the requests answered in it; the warm-up is a run of its own before.
// Target (issue 19): the bridge on SQLite ≤ 1.4 × the floor's CPU per request, measured in the same run; the
// ratio to bare Fastify and p99 at 50 connections are reported.
//
// Tunables (environment): BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (50),
// BENCH_RSS_ALERTS (100000), BENCH_LOG_LEVEL (info), BENCH_BACKENDS (sqlite,postgres),
// BENCH_BRIDGE_NODE_FLAGS (node flags for the bridge; default: those of deploy/systemd's ExecStart).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LoadJob, LoadResult } from './ingest/load.js'
import { productionNodeFlags } from './production-flags.js'
import type { TestContext } from 'node:test'
import { startPostgres } from '../test/fixtures/postgres.js'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 2)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const RSS_ALERTS = Number(process.env.BENCH_RSS_ALERTS ?? 100_000)
const TARGETS = { cpuToFloor: 1.4, rssMb: 150, pgToSqlite: 0.5 }
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info'
type Backend = 'sqlite' | 'postgres'
/** Which bridges to measure beside the baseline (BENCH_BACKENDS=sqlite,postgres). */
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'sqlite,postgres').split(',').map(b => b.trim()).filter((b): b is Backend => b === 'sqlite' || b === 'postgres')
// As deployed (deploy/systemd ExecStart) unless overridden.
const BRIDGE_FLAGS = process.env.BENCH_BRIDGE_NODE_FLAGS !== undefined
  ? process.env.BENCH_BRIDGE_NODE_FLAGS.split(' ').filter(f => f !== '')
  : productionNodeFlags()
const CREDENTIALS = { key: 'bench-key', secret: 'bench-secret' }
const AUTHORIZATION = 'Basic ' + Buffer.from(`${CREDENTIALS.key}:${CREDENTIALS.secret}`).toString('base64')

const children: ChildProcess[] = []
const cleanups: Array<() => void> = []
function cleanup (): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const f of cleanups.splice(0)) f()
}
process.on('exit', cleanup)
process.on('SIGINT', () => { cleanup(); process.exit(130) })

async function freePort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise(resolve => s.close(resolve))
  return port
}

/**
 * Compiles a TypeScript entry point to one JavaScript file (dependencies stay in node_modules), as
 * production runs compiled code: the tsx loader alone adds ~30 MB of RSS (a loader thread with its own
 * V8 isolate) and would distort the memory figure. Falls back to tsx when compiling fails.
 */
async function compile (entry: string): Promise<string[]> {
  if (entry.startsWith('src/')) {
    // The bridge is several files (its store writes on a worker thread): compile it as `npm run build` does.
    const outDir = join(ROOT, 'bench/results/build/bridge')
    const tsc = spawn(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir], { cwd: ROOT, stdio: 'inherit' })
    if (await new Promise(resolve => tsc.on('exit', resolve)) === 0) return [join(outDir, entry.replace(/^src\//, '').replace(/\.ts$/, '.js'))]
    console.warn(`cannot compile ${entry}; running it through tsx`)
    return ['--import', 'tsx', entry]
  }
  const outfile = join(ROOT, 'bench/results/build', entry.replace(/\.ts$/, '.mjs'))
  try {
    const { build } = await import('esbuild')
    await build({ entryPoints: [join(ROOT, entry)], outfile, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'silent' })
    return [outfile]
  } catch (err) {
    console.warn(`cannot compile ${entry} (${(err as Error).message.split('\n')[0]}); running it through tsx`)
    return ['--import', 'tsx', entry]
  }
}

/** Starts a TypeScript entry point (compiled) in its own process and waits until GET /healthz answers 200. */
async function startServer (name: string, entry: string, env: Record<string, string>): Promise<{ proc: ChildProcess, url: string }> {
  const port = await freePort()
  const flags = name === 'bridge' ? BRIDGE_FLAGS : []
  const proc = spawn(process.execPath, [...flags, ...await compile(entry)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  children.push(proc)
  let stderr = ''
  proc.stderr!.on('data', (c: Buffer) => { stderr += c.toString() })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited (${proc.exitCode}): ${stderr}`)
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { proc, url }
    } catch {}
    if (Date.now() > deadline) throw new Error(`${name} did not start: ${stderr}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** Runs the load generator in its own process. */
async function load (job: LoadJob): Promise<LoadResult> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/ingest/load.ts'), JSON.stringify(job)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit']
  })
  children.push(proc)
  let out = ''
  proc.stdout!.on('data', (c: Buffer) => { out += c.toString() })
  const code = await new Promise<number | null>(resolve => proc.on('exit', resolve))
  if (code !== 0) throw new Error(`load generator exited with ${String(code)}`)
  return JSON.parse(out.trim().split('\n').pop()!) as LoadResult
}

/** Prometheus text → { 'name{labels}': value }. */
async function scrape (url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out[line.slice(0, at)] = Number(line.slice(at + 1))
  }
  return out
}
const delta = (after: Record<string, number>, before: Record<string, number>, key: string): number => (after[key] ?? 0) - (before[key] ?? 0)

/** CPU seconds of a process, all its threads (utime + stime of /proc/<pid>/stat). */
function procCpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // USER_HZ
}

function procStatus (pid: number): { rssMb: number, peakRssMb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN)
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 }
}

const fmt = (n: number, digits = 1): string => Number.isFinite(n) ? n.toFixed(digits) : '—'
const pad = (s: string, n: number): string => s.padStart(n)

const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'))
cleanups.push(() => rmSync(dir, { recursive: true, force: true }))

// The bridge needs a FusionAuth to start its worker; this one refuses every key, so the worker pauses
// and the benchmark measures intake alone (remediation has its own benchmark, bench:drain).
const fusionAuth = createServer((_req, res) => { res.writeHead(401).end() })
await new Promise<void>(resolve => fusionAuth.listen(0, '127.0.0.1', resolve))
cleanups.push(() => { fusionAuth.closeAllConnections(); fusionAuth.close() })

console.log(`ingest benchmark: ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${SECONDS} s per server, ${cpus().length} CPUs, Node ${process.version}` +
  `, bridge flags: ${BRIDGE_FLAGS.join(' ') || '(none)'}`)
const loadAtStart = loadavg()
if (loadAtStart[0]! > 1) console.log(`warning: load average ${loadAtStart[0]!.toFixed(2)} — other work on this machine will distort the figures`)

// PostgreSQL: a throwaway cluster of the bench's own (the test fixture, given a minimal test context).
const pgCleanups: Array<() => unknown> = []
const pgContext = { name: 'bench:ingest', after: (fn: () => unknown) => { pgCleanups.push(fn) }, skip: () => undefined }
cleanups.push(() => { for (const fn of pgCleanups.splice(0).reverse()) Promise.resolve(fn()).catch(() => undefined) })
const pgc = BACKENDS.includes('postgres') ? await startPostgres(pgContext as unknown as TestContext) : undefined
if (BACKENDS.includes('postgres') && pgc === undefined) throw new Error('PostgreSQL is not installed (apt-get install postgresql), or run with BENCH_BACKENDS=sqlite')

/** A reference server: its warm-up run, then the measured run with its CPU read from /proc around it. */
async function measureReference (name: string, entry: string, env: Record<string, string>, authorization?: string):
Promise<{ load: LoadResult, cpuMicrosPerRequest: number }> {
  const server = await startServer(name, entry, env)
  try {
    if (WARMUP > 0) await load({ url: server.url, authorization, connections: CONNECTIONS, warmupSeconds: 0, durationSeconds: WARMUP, runId: `warmup-${name}` })
    const cpuBefore = procCpuSeconds(server.proc.pid!)
    const result = await load({ url: server.url, authorization, connections: CONNECTIONS, warmupSeconds: 0, durationSeconds: SECONDS, runId: name })
    return { load: result, cpuMicrosPerRequest: (procCpuSeconds(server.proc.pid!) - cpuBefore) / result.requests * 1e6 }
  } finally {
    server.proc.kill('SIGTERM')
    await new Promise(resolve => server.proc.exitCode !== null ? resolve(null) : server.proc.once('exit', resolve))
  }
}

const bare = await measureReference('baseline', 'bench/ingest/baseline-server.ts', {})
const base = bare.load
const floor = await measureReference('floor', 'bench/ingest/floor-server.ts',
  { FLOOR_DATABASE: join(dir, 'floor.db'), FLOOR_CREDENTIALS: `${CREDENTIALS.key}:${CREDENTIALS.secret}` }, AUTHORIZATION)

interface BridgeRun {
  backend: Backend
  load: LoadResult
  accepted: number
  commits: number
  batchMean: number
  commitMsMean: number
  commitMicrosPerAlert: number
  cpuSeconds: number
  cpuMicrosPerRequest: number
  eventLoopLagP99Ms: number
  rss?: { alerts: number, rssMb: number, peakRssMb: number, topUp?: LoadResult }
}

/** One bridge process on one backend: warm-up, the measured run, then (SQLite) a top-up to RSS_ALERTS for the memory figure. */
async function measureBridge (backend: Backend): Promise<BridgeRun> {
  const database = backend === 'sqlite' ? join(dir, 'bridge.db') : await pgc!.createDatabase()
  const bridge = await startServer('bridge', 'src/server.ts', {
    HOST: '127.0.0.1',
    LOG_LEVEL,
    BRIDGE_DATABASE: database,
    ENZOIC_WEBHOOK_CREDENTIALS: `${CREDENTIALS.key}:${CREDENTIALS.secret}`,
    FUSIONAUTH_URL: `http://127.0.0.1:${(fusionAuth.address() as { port: number }).port}`,
    FUSIONAUTH_API_KEY: 'bench-refused-key'
  })
  try {
    // The warm-up is a run of its own, so the metrics deltas below cover the measured run only.
    if (WARMUP > 0) await load({ url: bridge.url, authorization: AUTHORIZATION, connections: CONNECTIONS, warmupSeconds: 0, durationSeconds: WARMUP, runId: `warmup-${backend}` })
    const before = await scrape(bridge.url)
    const cpuBefore = procCpuSeconds(bridge.proc.pid!)
    const durable = await load({ url: bridge.url, authorization: AUTHORIZATION, connections: CONNECTIONS, warmupSeconds: 0, durationSeconds: SECONDS, runId: `durable-${backend}` })
    const cpuSeconds = procCpuSeconds(bridge.proc.pid!) - cpuBefore
    const after = await scrape(bridge.url)
    const commits = delta(after, before, 'enzoic_bridge_store_commit_batch_alerts_count')
    const committed = delta(after, before, 'enzoic_bridge_store_commit_batch_alerts_sum')
    const commitSeconds = delta(after, before, 'enzoic_bridge_store_commit_duration_seconds_sum')
    const run: BridgeRun = {
      backend,
      load: durable,
      accepted: delta(after, before, 'enzoic_bridge_webhook_requests_total{status="200",outcome="accepted"}'),
      commits,
      batchMean: committed / commits,
      commitMsMean: commitSeconds / commits * 1000,
      commitMicrosPerAlert: commitSeconds / committed * 1e6,
      // Process CPU (all threads, /proc) per request: what the pipeline costs apart from waiting for the disk.
      cpuSeconds,
      cpuMicrosPerRequest: cpuSeconds / durable.requests * 1e6,
      eventLoopLagP99Ms: (after.nodejs_eventloop_lag_p99_seconds ?? NaN) * 1000
    }
    if (backend === 'sqlite') {
      // Keep ingesting until RSS_ALERTS alerts are stored, then read the bridge's memory.
      const stored = (m: Record<string, number>): number => Object.entries(m)
        .filter(([k]) => k.startsWith('enzoic_bridge_stored_alerts{')).reduce((sum, [, v]) => sum + v, 0)
      let total = stored(await scrape(bridge.url))
      let topUp: LoadResult | undefined
      if (total < RSS_ALERTS) {
        topUp = await load({ url: bridge.url, authorization: AUTHORIZATION, connections: CONNECTIONS, warmupSeconds: 0, amount: RSS_ALERTS - total, runId: 'topup' })
        total = stored(await scrape(bridge.url))
      }
      run.rss = { alerts: total, ...procStatus(bridge.proc.pid!), topUp }
    }
    return run
  } finally {
    bridge.proc.kill('SIGTERM')
    await new Promise(resolve => bridge.proc.exitCode !== null ? resolve(null) : bridge.proc.once('exit', resolve))
  }
}

const runs: BridgeRun[] = []
for (const backend of BACKENDS) runs.push(await measureBridge(backend))
const sqlite = runs.find(r => r.backend === 'sqlite')
const postgres = runs.find(r => r.backend === 'postgres')

const ratio = (r: BridgeRun | undefined): number => r === undefined ? NaN : r.load.requestsPerSecond / base.requestsPerSecond
const pgToSqlite = sqlite !== undefined && postgres !== undefined ? postgres.load.requestsPerSecond / sqlite.load.requestsPerSecond : NaN
const cpuToFloor = (r: BridgeRun | undefined): number => r === undefined ? NaN : r.cpuMicrosPerRequest / floor.cpuMicrosPerRequest
const verdicts: Record<string, { target: string, value: number, pass: boolean }> = {}
if (sqlite !== undefined) {
  verdicts['SQLite CPU / floor'] = { target: `≤ ${TARGETS.cpuToFloor}`, value: cpuToFloor(sqlite), pass: cpuToFloor(sqlite) <= TARGETS.cpuToFloor }
  verdicts['SQLite RSS MB'] = { target: `≤ ${TARGETS.rssMb}`, value: sqlite.rss!.rssMb, pass: sqlite.rss!.rssMb <= TARGETS.rssMb }
}
if (Number.isFinite(pgToSqlite)) verdicts['PostgreSQL / SQLite'] = { target: `≥ ${TARGETS.pgToSqlite}`, value: pgToSqlite, pass: pgToSqlite >= TARGETS.pgToSqlite }

const rows: Array<[string, LoadResult, number, number]> = [
  ['bare Fastify', base, 1, bare.cpuMicrosPerRequest],
  ['durable floor', floor.load, floor.load.requestsPerSecond / base.requestsPerSecond, floor.cpuMicrosPerRequest],
  ...runs.map((r): [string, LoadResult, number, number] => [`bridge, ${r.backend}`, r.load, ratio(r), r.cpuMicrosPerRequest])
]
console.log('')
console.log(`${'server'.padEnd(24)} ${pad('req/s', 9)} ${pad('× bare', 7)} ${pad('CPU µs/req', 11)} ${pad('× floor', 8)} ${pad('× bare', 7)} ${pad('p50 ms', 8)} ${pad('p90 ms', 8)} ${pad('p99 ms', 8)} ${pad('max ms', 8)} ${pad('non-2xx', 8)} ${pad('errors', 7)}`)
for (const [name, r, x, cpu] of rows) {
  console.log(`${name.padEnd(24)} ${pad(fmt(r.requestsPerSecond, 0), 9)} ${pad(fmt(x, 3), 7)} ${pad(fmt(cpu, 0), 11)} ${pad(fmt(cpu / floor.cpuMicrosPerRequest, 2), 8)} ${pad(fmt(cpu / bare.cpuMicrosPerRequest, 2), 7)} ` +
    `${pad(fmt(r.latencyMs.p50), 8)} ${pad(fmt(r.latencyMs.p90), 8)} ${pad(fmt(r.latencyMs.p99), 8)} ${pad(fmt(r.latencyMs.max), 8)} ${pad(String(r.non2xx), 8)} ${pad(String(r.errors + r.timeouts), 7)}`)
}
console.log(`(CPU per request: the server process, all threads, from /proc over the measured run; the bridge at LOG_LEVEL=${LOG_LEVEL}, node ${BRIDGE_FLAGS.join(' ') || '(no flags)'})`)
console.log('')
for (const r of runs) {
  console.log(`${r.backend.padEnd(10)} commit batch mean ${fmt(r.batchMean, 2)} (${r.commits} commits), ${fmt(r.commitMsMean, 3)} ms per commit (${fmt(r.commitMicrosPerAlert, 0)} µs per alert); ` +
    `event-loop lag p99 ${fmt(r.eventLoopLagP99Ms, 1)} ms`)
}
if (sqlite?.rss !== undefined) console.log(`SQLite bridge RSS after ${sqlite.rss.alerts} alerts: ${fmt(sqlite.rss.rssMb)} MB (peak ${fmt(sqlite.rss.peakRssMb)} MB)`)
console.log('')
for (const [name, v] of Object.entries(verdicts)) {
  console.log(`${v.pass ? 'PASS' : 'FAIL'}  ${name.padEnd(20)} ${fmt(v.value, name.includes('/') ? 3 : 1).padStart(8)}  (target ${v.target})`)
}

const resultFile = join(ROOT, 'bench/results/ingest.json')
mkdirSync(dirname(resultFile), { recursive: true })
writeFileSync(resultFile, JSON.stringify({
  at: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  connections: CONNECTIONS,
  warmupSeconds: WARMUP,
  seconds: SECONDS,
  bridgeNodeFlags: BRIDGE_FLAGS,
  loadAverageAtStart: loadAtStart,
  logLevel: LOG_LEVEL,
  baseline: { ...base, cpuMicrosPerRequest: bare.cpuMicrosPerRequest },
  floor: { ...floor.load, cpuMicrosPerRequest: floor.cpuMicrosPerRequest },
  bridges: runs.map(r => ({ ...r, ratioToBare: ratio(r), cpuToFloor: cpuToFloor(r), cpuToBare: r.cpuMicrosPerRequest / bare.cpuMicrosPerRequest })),
  postgresToSqlite: pgToSqlite,
  verdicts
}, null, 2) + '\n')
console.log(`\nwritten to ${resultFile}`)

cleanup()
