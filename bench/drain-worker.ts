// The measured process of bench/drain.ts: the real bridge (startBridge: store, app, worker, gateway over
// HTTP) draining a queue seeded by the parent. Counts finished alerts from its own log lines (no polling
// of the database on the measured event loop) and reports timings, client-side call latency (the
// bridge's own metrics), event-loop delay and peak RSS.
import { performance } from 'node:perf_hooks'
import { pino } from 'pino'
import { loadConfig } from '../src/config.js'
import { loggerOptions } from '../src/observability/logger.js'
import { createFusionAuthGateway } from '../src/remediation/fusionauth.js'
import { startBridge } from '../src/server.js'
import { PROBE_PREFIX, startDrainFake, type DrainFake, type DrainFakeJob, type DrainFakeStats } from './drain-fake.js'
import { jobOf, loopMonitor, mb, round, send } from './drain-proc.js'

export interface DrainWorkerJob {
  database: string
  alerts: number
  concurrency: number
  /** A fake already running elsewhere, or one to start in this process. */
  fake: { url: string, apiKey: string } | { inProcess: DrainFakeJob }
  /** Sequential look-ups made before the run, to measure one call's latency on an idle event loop. */
  probeCalls: number
}

export interface CallLatency { calls: number, meanMs: number }

export interface DrainWorkerResult {
  type: 'result'
  seconds: number
  finished: number
  states: Record<string, number>
  outcomes: Record<string, number>
  idle: CallLatency & { p50Ms: number }
  /** Client-side, during the run, from bridge_fusionauth_call_duration_seconds; by operation and overall. */
  inRun: CallLatency & { byOperation: Record<string, CallLatency> }
  loop: ReturnType<ReturnType<typeof loopMonitor>['stop']>
  maxRssBytes: number
  heapUsedBytes: number
  fakeStats?: DrainFakeStats
}

/** Sum and count of the FusionAuth call histogram in Prometheus text, by operation. */
function callLatency (text: string): DrainWorkerResult['inRun'] {
  const acc: Record<string, { sum: number, count: number }> = {}
  for (const m of text.matchAll(/^bridge_fusionauth_call_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/gm)) {
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

const job = jobOf<DrainWorkerJob>()
process.on('disconnect', () => process.exit(1))

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
send({ type: 'probed', idle })

// Logs are written (as in production: JSON lines) to a sink that only counts finished alerts.
let started = 0
let finished = 0
let ended = 0
let onAllDone: () => void = () => undefined
const allDone = new Promise<void>(resolve => { onAllDone = resolve })
const sink = {
  write (line: string): void {
    if (line.includes('"msg":"alert finished"')) {
      if (++finished === job.alerts) { ended = performance.now(); onAllDone() }
    } else if (line.includes('"msg":"worker started"')) {
      started = performance.now()
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

const progress = setInterval(() => {
  const m = process.memoryUsage()
  send({ type: 'progress', finished, seconds: round((performance.now() - started) / 1000, 1), rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external) })
}, 5000)
const loop = loopMonitor()
const bridge = await startBridge(config, logger)
await allDone
const loopStats = loop.stop()
clearInterval(progress)

const metrics = await bridge.app.inject({ method: 'GET', url: '/metrics' })
const states = (await bridge.store.alerts.countByState())
const outcomes = (await bridge.store.alerts.countByOutcome())
await bridge.close()
const fakeStats = fake?.stats()
await fake?.close()

const result: DrainWorkerResult = {
  type: 'result',
  seconds: (ended - started) / 1000,
  finished,
  states,
  outcomes,
  idle,
  inRun: callLatency(metrics.body),
  loop: loopStats,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
  heapUsedBytes: process.memoryUsage().heapUsed,
  fakeStats
}
send(result)
process.disconnect()
