// npm run bench:drain — how fast the worker drains a queue against a slow FusionAuth.
//
// 20,000 queued breach alerts (distinct emails, one FusionAuth user each in one tenant), the FusionAuth
// fake answering every call after 20 ms, FUSIONAUTH_CONCURRENCY=16. Three processes: this one (seeds the
// database, samples RSS from /proc, prints), the fake, and the bridge (startBridge) draining the queue.
// The ceiling is concurrency / (calls per alert × latency of one call): calls per alert are counted in the
// fake's journal, the latency is measured by the bridge's own client (its call histogram) during the run,
// and also on an idle event loop before the run, and taken at its nominal value.
// Targets: ≥ 0.85 × the ceiling, peak RSS of the worker's process ≤ 150 MB. Results: bench/results/drain.json.
//
// The children run as compiled JavaScript under plain node, as the bridge does in production (see drain-build.ts).
//
// Options: --alerts N  --latency MS  --concurrency N
//          --fake-in-process  the fake shares the worker's process (and its one CPU) instead of its own
//          --tsx              run the children through tsx instead (adds tsx's ~35 MB to the worker's RSS)
import { productionNodeFlags } from './production-flags.js'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { classify } from '../src/intake/alert.js'
import { openStore } from '../src/store/index.js'
import { drainEmail, type DrainFakeStats } from './drain-fake.js'
import { buildForNode } from './drain-build.js'
import { ask, exited, forkBench, mb, nextMessage, round, sampleRss, table, watchdog, type Message } from './drain-proc.js'
import type { DrainWorkerJob, DrainWorkerResult } from './drain-worker.js'

const { values: args } = parseArgs({
  options: {
    alerts: { type: 'string', default: '20000' },
    latency: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '16' },
    'fake-in-process': { type: 'boolean', default: false },
    tsx: { type: 'boolean', default: false }
  }
})
const ALERTS = Number(args.alerts)
const LATENCY_MS = Number(args.latency)
const CONCURRENCY = Number(args.concurrency)
const FAKE_IN_PROCESS = args['fake-in-process'] === true
/** Run the children through tsx instead of compiled JavaScript (tsx's loader adds ~35 MB of RSS). */
const TSX = args.tsx === true
const TARGET_RATIO = 0.85
const TARGET_RSS_MB = 150

const loadStart = loadavg()[0]!.toFixed(2)
const children: ChildProcess[] = []
watchdog(175_000, () => children)
const dir = mkdtempSync(join(tmpdir(), 'bridge-bench-drain-'))
const build = TSX ? undefined : buildForNode()
const database = join(dir, 'bridge.db')
const log = (text: string): void => { process.stderr.write(`drain: ${text}\n`) }

try {
  // 1. The fake, with one user per alert email.
  let fakeChild: ChildProcess | undefined
  let fakeAt: { url: string, apiKey: string } | undefined
  if (!FAKE_IN_PROCESS) {
    fakeChild = forkBench('bench/drain-fake.ts', { users: ALERTS, latencyMs: LATENCY_MS }, build)
    children.push(fakeChild)
    const ready = await nextMessage<Message & { url: string, apiKey: string }>(fakeChild, 'ready')
    fakeAt = { url: ready.url, apiKey: ready.apiKey }
  }

  // 2. The queue: alerts as intake stores them (classify → insert, group-committed).
  const t0 = performance.now()
  const store = await openStore(database, { role: 'serve' })
  const inserts = []
  for (let i = 0; i < ALERTS; i++) {
    const c = classify({
      date: '2024-03-01T12:00:00.0000000Z',
      exposureID: `bench-drain-exposure-${i % 100}`,
      username: drainEmail(i),
      passwordHash: 'not-a-real-hash',
      passwordType: 1,
      exposureDetails: { title: 'Bench breach', date: '2024-02-01T00:00:00.0000000Z', entries: 100000, category: 'Retail', exposedData: ['Emails', 'Passwords'] }
    })
    if (c.kind !== 'alert' || c.alert.test) throw new Error('the seed alert is not an actionable alert')
    inserts.push(store.alerts.insert(c.alert))
  }
  const inserted = await Promise.all(inserts)
  const queued = (await store.alerts.countByState()).queued
  await store.close()
  if (inserted.some(r => r.duplicate) || queued !== ALERTS) throw new Error(`seeding: ${queued} queued, expected ${ALERTS}`)
  log(`seeded ${ALERTS} queued alerts in ${round((performance.now() - t0) / 1000, 1)} s; fake ${FAKE_IN_PROCESS ? 'in the worker\'s process' : 'in its own process'}, ${LATENCY_MS} ms per call`)

  // 3. The bridge drains it; its RSS is sampled from here every 250 ms.
  const job: DrainWorkerJob = {
    database,
    alerts: ALERTS,
    concurrency: CONCURRENCY,
    fake: fakeAt ?? { inProcess: { users: ALERTS, latencyMs: LATENCY_MS } },
    probeCalls: 100
  }
  const worker = forkBench('bench/drain-worker.ts', job, build, productionNodeFlags())
  children.push(worker)
  const rss = sampleRss(worker.pid!, 250)
  const result = await nextMessage<DrainWorkerResult & Message>(worker, 'result', m => {
    if (m.type === 'probed') log(`idle call latency ${(m.idle as { meanMs: number }).meanMs} ms; draining…`)
    if (m.type === 'progress') log(`${String(m.finished)}/${ALERTS} done after ${String(m.seconds)} s (RSS ${String(m.rssMb)} MB, heap ${String(m.heapUsedMb)}/${String(m.heapTotalMb)} MB, external ${String(m.externalMb)} MB)`)
  })
  const mem = rss.stop()
  await exited(worker)

  let fakeStats: DrainFakeStats
  if (fakeChild !== undefined) {
    fakeStats = (await ask<Message & { stats: DrainFakeStats }>(fakeChild, 'stats')).stats
    await ask(fakeChild, 'close')
    await exited(fakeChild)
  } else {
    fakeStats = result.fakeStats!
  }

  // 4. Numbers.
  const callsPerAlert = fakeStats.alertCalls / ALERTS
  const rate = ALERTS / result.seconds
  const ceiling = (latencyMs: number): number => CONCURRENCY / (callsPerAlert * latencyMs / 1000)
  const ceilings = { inRun: ceiling(result.inRun.meanMs), idle: ceiling(result.idle.meanMs), nominal: ceiling(LATENCY_MS) }
  const ratios = { inRun: rate / ceilings.inRun, idle: rate / ceilings.idle, nominal: rate / ceilings.nominal }
  const peakMb = mb(Math.max(mem.peak, result.maxRssBytes))
  const secondHalf = mem.series.slice(Math.floor(mem.series.length / 2)).sort((a, b) => a - b)
  const secondHalfMb = mb(secondHalf[Math.floor(secondHalf.length / 2)] ?? 0)
  const allDone = result.states.done === ALERTS && fakeStats.inactiveUsers === ALERTS
  const pass = (ok: boolean): string => ok ? 'PASS' : 'FAIL'

  const rows: Array<Array<string | number>> = [
    ['metric', 'value', 'target', 'result'],
    ['alerts done / users deactivated', `${result.states.done}/${ALERTS} / ${fakeStats.inactiveUsers}`, 'all', pass(allDone)],
    ['wall time, worker start → last done', `${round(result.seconds, 2)} s`, '', ''],
    ['throughput', `${round(rate, 1)} alerts/s`, '', ''],
    ['calls per alert (fake journal)', round(callsPerAlert, 3), '', ''],
    ['mean call latency, in run (client)', `${round(result.inRun.meanMs, 2)} ms`, '', ''],
    ['mean call latency, idle loop (client)', `${round(result.idle.meanMs, 2)} ms`, '', ''],
    ['ceiling, in-run latency', `${round(ceilings.inRun, 1)} alerts/s`, '', ''],
    ['ceiling, idle latency', `${round(ceilings.idle, 1)} alerts/s`, '', ''],
    [`ceiling, nominal ${LATENCY_MS} ms`, `${round(ceilings.nominal, 1)} alerts/s`, '', ''],
    ['throughput / ceiling (in-run latency)', round(ratios.inRun, 3), `>= ${TARGET_RATIO} (target)`, pass(ratios.inRun >= TARGET_RATIO)],
    ['throughput / ceiling (idle latency)', round(ratios.idle, 3), `>= ${TARGET_RATIO} (stricter)`, pass(ratios.idle >= TARGET_RATIO)],
    [`throughput / ceiling (nominal ${LATENCY_MS} ms)`, round(ratios.nominal, 3), `>= ${TARGET_RATIO} (strictest)`, pass(ratios.nominal >= TARGET_RATIO)],
    ['peak RSS, worker process', `${peakMb} MB`, `<= ${TARGET_RSS_MB} MB`, pass(peakMb <= TARGET_RSS_MB)],
    ['RSS, median of the run\'s second half', `${secondHalfMb} MB`, '', ''],
    ['event loop: utilisation / delay p99', `${result.loop.utilisation} / ${result.loop.eldP99Ms} ms`, '', '']
  ]
  const runtime = TSX ? 'tsx' : 'node, compiled JS'
  const header = `bench:drain — ${ALERTS} alerts, fake FusionAuth (${FAKE_IN_PROCESS ? 'in the worker\'s process' : 'own process'}) answering after ${LATENCY_MS} ms, ` +
    `FUSIONAUTH_CONCURRENCY=${CONCURRENCY}, Node ${process.version} (${runtime}), ${cpus().length} CPUs, load average ${loadStart} → ${loadavg()[0]!.toFixed(2)}`
  console.log(`\n${header}\n\n${table(rows)}\n`)
  console.log(`calls by operation: ${Object.entries(fakeStats.byOp).map(([k, v]) => `${k} ${v}`).join(', ')}; statuses: ${Object.entries(fakeStats.statuses).map(([k, v]) => `${k}×${v}`).join(', ')}`)
  console.log(`RSS: ${mem.samples} samples, peak ${mb(mem.peak)} MB sampled, ${mb(result.maxRssBytes)} MB kernel high-water mark; fake journal peaked at ${fakeStats.journalMax} entries (emptied every 500 ms)`)

  mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
  const out = {
    at: new Date().toISOString(),
    node: process.version,
    setup: { alerts: ALERTS, latencyMs: LATENCY_MS, concurrency: CONCURRENCY, fake: FAKE_IN_PROCESS ? 'in-process' : 'child-process', runtime, cpus: cpus().length, loadAverage: { start: loadStart, end: loadavg()[0] } },
    seconds: result.seconds,
    alertsPerSecond: rate,
    callsPerAlert,
    latencyMs: { inRun: result.inRun.meanMs, idle: result.idle.meanMs, idleP50: result.idle.p50Ms, nominal: LATENCY_MS, byOperation: result.inRun.byOperation },
    ceilings,
    ratios,
    rss: { peakMb, secondHalfMedianMb: secondHalfMb, sampledPeakMb: mb(mem.peak), highWaterMarkMb: mb(result.maxRssBytes), samples: mem.samples, seriesMb: mem.series.map(mb) },
    loop: result.loop,
    states: result.states,
    outcomes: result.outcomes,
    fake: fakeStats,
    targets: {
      ratio: { target: TARGET_RATIO, against: 'in-run latency', value: ratios.inRun, pass: ratios.inRun >= TARGET_RATIO },
      rssMb: { target: TARGET_RSS_MB, value: peakMb, pass: peakMb <= TARGET_RSS_MB },
      allDone: { pass: allDone }
    }
  }
  writeFileSync(new URL('./results/drain.json', import.meta.url), JSON.stringify(out, null, 2) + '\n')
  console.log('written: bench/results/drain.json')
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
  build?.remove()
}
process.exit(0)
