// A measured process of bench/drain.ts: the real bridge (startBridge: store, app, worker, gateway over
// HTTP) draining a queue seeded by the parent, alone or as one of several replicas sharing a PostgreSQL
// database. It does not decide when the queue is drained (another replica may finish the last alert): the
// parent polls the store, then asks each replica for its result. Counts the alerts it finished from its own
// log lines (no polling of the database on the measured event loop) and reports when its worker started,
// client-side call latency (the bridge's own metrics), event-loop delay and peak RSS.
//
// Store work per alert: on PostgreSQL every statement the process sends is counted (node-postgres sends a
// statement and waits for its answer: one statement, one round trip; pg.Client's query is wrapped here, in the
// bench only); on SQLite the writer's transactions come from the bridge's own metric
// (enzoic_bridge_store_transactions_total). Counters are sent at the bridge's start (`go` answered), once
// `warmup` alerts finished here (`warm`), and at `result`: the parent takes the differences.
//
// Over IPC: sends `probed` (idle call latency), then `progress` every `progressMs`; answers `go` (start the
// bridge; replies with the worker's start time and its counters), `count` (alerts finished so far), `result`, and
// `close` (stops the bridge, then exits); sends `warm` once.
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { pino } from 'pino'
import { loadConfig } from '../src/config/index.js'
import { loggerOptions } from '../src/observability/logger.js'
import { createFusionAuthGateway } from '../src/fusionauth/index.js'
import { startBridge, type RunningBridge } from '../src/server.js'
import { PROBE_PREFIX, startDrainFake, type DrainFake, type DrainFakeJob, type DrainFakeStats } from './drain-fake.js'
import { countPgStatements, jobOf, loopMonitor, mb, round, send, serveRequests, type StatementCount } from './drain-proc.js'

export interface DrainWorkerJob {
  database: string
  concurrency: number
  /** After this many alerts finished here, the worker says `warm` (its counters then): the steady-state window opens. */
  warmup: number
  /** A fake already running elsewhere, or one to start in this process. */
  fake: { url: string, apiKey: string } | { inProcess: DrainFakeJob }
  /** Sequential look-ups made before the run, to measure one call's latency on an idle event loop. */
  probeCalls: number
  progressMs: number
}

export interface CallLatency { calls: number, meanMs: number }

export interface DrainWorkerProgress {
  type: 'progress'
  finished: number
  rssMb: number
  heapUsedMb: number
  heapTotalMb: number
  externalMb: number
}

export interface DrainWorkerStarted {
  /** Epoch ms of the worker's `worker started` log line. */
  startedAt: number
  owner: string
  /** When startBridge returned (alerts finished before then are outside the windows the parent measures). */
  counters: Counters
}

/** This replica's counters at one moment (`go` answered, warm, `result`): the parent takes differences. */
export interface Counters {
  /** Alerts finished here so far. */
  finished: number
  /** PostgreSQL: statements sent (= round trips), in all and by statement (its name, or the start of its text). */
  statements?: StatementCount
  /** SQLite: the writer's transactions, by whether they waited for the fsync. */
  transactions?: { synced: number, unsynced: number }
}

/** Sent once `warmup` alerts finished here. */
export interface DrainWorkerWarm { type: 'warm', counters: Counters }

/** The answer to `result`. */
export interface DrainWorkerResult {
  /** Alerts this replica finished (its `alert finished` log lines). */
  finished: number
  startedAt: number
  /** Epoch ms of its last `alert finished` line. */
  lastFinishedAt: number
  /** Log lines at warn and at error level, and the first error line (a bridge problem shows here). */
  warnings: number
  errors: number
  firstError?: string
  idle: CallLatency & { p50Ms: number }
  /** Client-side, during the run, from the bridge's FusionAuth call histogram; by operation and overall. */
  inRun: CallLatency & { byOperation: Record<string, CallLatency> }
  loop: ReturnType<ReturnType<typeof loopMonitor>['stop']>
  /** CPU time (user + system) of the process from `go` to `result`. */
  cpuSeconds: number
  maxRssBytes: number
  heapUsedBytes: number
  /** At `result`. */
  counters: Counters
}

/** The answer to `close`. */
export interface DrainWorkerClosed {
  fakeStats?: DrainFakeStats
}

/** Sum and count of the FusionAuth call histogram in Prometheus text (`…fusionauth_…_duration_seconds`), by operation. */
function callLatency (text: string): DrainWorkerResult['inRun'] {
  const acc: Record<string, { sum: number, count: number }> = {}
  for (const m of text.matchAll(/^\w*fusionauth_\w+_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/gm)) {
    const op = /operation="([^"]*)"/.exec(m[2]!)?.[1] ?? '?'
    const a = acc[op] ??= { sum: 0, count: 0 }
    if (m[1] === 'sum') a.sum += Number(m[3])
    else a.count += Number(m[3])
  }
  const byOperation: Record<string, CallLatency> = {}
  let sum = 0
  let count = 0
  for (const [op, a] of Object.entries(acc)) {
    byOperation[op] = { calls: a.count, meanMs: round(a.sum / a.count * 1000, 2) }
    sum += a.sum
    count += a.count
  }
  return { calls: count, meanMs: round(sum / count * 1000, 3), byOperation }
}

/** A counter's samples in Prometheus text, summed by the value of `label`. */
function counterBy (text: string, metric: string, label: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const m of text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const v = new RegExp(`${label}="([^"]*)"`).exec(m[1]!)?.[1] ?? '?'
    out[v] = (out[v] ?? 0) + Number(m[2])
  }
  return out
}

const job = jobOf<DrainWorkerJob>()
const statements = job.database.startsWith('postgres') ? countPgStatements(pg) : undefined

let fake: DrainFake | undefined
if ('inProcess' in job.fake) fake = await startDrainFake(job.fake.inProcess)
const url = fake?.url ?? (job.fake as { url: string }).url
const apiKey = fake?.apiKey ?? (job.fake as { apiKey: string }).apiKey

// One call's latency with nothing else running: the floor for the ceiling.
const probeGateway = createFusionAuthGateway({ url, apiKey, timeoutMs: 10_000, connections: 1 })
const probeTimes: number[] = []
for (let i = 0; i < job.probeCalls + 5; i++) {
  const t = performance.now()
  await probeGateway.findUsersByEmail(`${PROBE_PREFIX}${i}@bench.acme.io`)
  if (i >= 5) probeTimes.push(performance.now() - t)
}
await probeGateway.close()
probeTimes.sort((a, b) => a - b)
const idle = {
  calls: probeTimes.length,
  meanMs: round(probeTimes.reduce((a, b) => a + b, 0) / probeTimes.length, 3),
  p50Ms: round(probeTimes[Math.floor(probeTimes.length / 2)]!, 3)
}

// Logs are written (as in production: JSON lines) to a sink that only counts finished alerts.
let startedAt = 0
let finished = 0
let lastFinishedAt = 0
let warnings = 0
let errors = 0
let firstError: string | undefined
const sink = {
  write (line: string): void {
    if (line.includes('"msg":"alert finished"')) {
      finished++
      lastFinishedAt = Date.now()
      if (finished === job.warmup) counters().then(c => send<DrainWorkerWarm>({ type: 'warm', counters: c }), err => console.error(err))
    } else if (line.includes('"msg":"worker started"')) {
      startedAt = Date.now()
    } else if (line.startsWith('{"level":40')) {
      warnings++
    } else if (line.startsWith('{"level":50') || line.startsWith('{"level":60')) {
      errors++
      firstError ??= line.slice(0, 600)
    }
  }
}
const logger = pino({ ...loggerOptions('info'), transport: undefined }, sink)
const config = loadConfig({
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'info',
  BRIDGE_DATABASE: job.database,
  ENZOIC_WEBHOOK_CREDENTIALS: 'bench-key:bench-secret',
  FUSIONAUTH_URL: url,
  FUSIONAUTH_API_KEY: apiKey,
  FUSIONAUTH_CONCURRENCY: String(job.concurrency)
}, ['webhook', 'fusionauth'])

let bridge: RunningBridge | undefined
let loop: ReturnType<typeof loopMonitor> | undefined
let progress: NodeJS.Timeout | undefined
let cpuAtGo: NodeJS.CpuUsage | undefined
async function counters (): Promise<Counters> {
  const at = finished
  const sent = statements?.snapshot()
  if (sent !== undefined) return { finished: at, statements: sent }
  const tx = counterBy((await bridge!.app.inject({ method: 'GET', url: '/metrics' })).body, 'enzoic_bridge_store_transactions_total', 'synced')
  return { finished: at, transactions: { synced: tx.true ?? 0, unsynced: tx.false ?? 0 } }
}

serveRequests({
  go: async (): Promise<DrainWorkerStarted> => {
    progress = setInterval(() => {
      const m = process.memoryUsage()
      send<DrainWorkerProgress>({ type: 'progress', finished, rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external) })
    }, job.progressMs)
    loop = loopMonitor()
    cpuAtGo = process.cpuUsage()
    bridge = await startBridge(config, logger)
    statements?.on()
    return { startedAt, owner: bridge.worker!.owner, counters: await counters() }
  },
  result: async (): Promise<DrainWorkerResult> => {
    const loopStats = loop!.stop()
    const cpu = process.cpuUsage(cpuAtGo)
    const end = await counters()
    clearInterval(progress)
    const metrics = await bridge!.app.inject({ method: 'GET', url: '/metrics' })
    return {
      finished,
      startedAt,
      lastFinishedAt,
      warnings,
      errors,
      firstError,
      idle,
      inRun: callLatency(metrics.body),
      loop: loopStats,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      heapUsedBytes: process.memoryUsage().heapUsed,
      counters: end
    }
  },
  count: () => ({ finished }),
  close: async (): Promise<DrainWorkerClosed & { exit: true }> => {
    await bridge?.close()
    const fakeStats = fake?.stats()
    await fake?.close()
    return { fakeStats, exit: true }
  }
})
send({ type: 'probed', idle })
