// npm run bench:sync — `monitor sync` of 100,000 FusionAuth users into Enzoic Breach Monitoring.
//
// The fakes (FusionAuth with 100,000 users in two tenants, Enzoic) run in their own process and answer
// every call after 20 ms; the sync (syncMonitoring with the real gateway, Enzoic client and store) runs in
// another, whose RSS is sampled from here every 250 ms. Sync is sequential, so what the fakes' latency
// allows is calls × latency (calls counted in the fakes' journals); the same sync with latency 0 gives the
// processing time of both sides; the fakes' CPU time, their own share. Runs with 25,000 users show that memory
// does not grow with the number of users: the heap still live after a full GC at each batch is the same for
// 25,000 and 100,000 users (bounded by one 15,000-user batch); peak RSS is reported for both.
// Targets: time ≤ 1.5 × what the fakes allow; peak RSS ≤ 200 MB. Results: bench/results/sync.json.
// The children run as compiled JavaScript under plain node, as the CLI does in production (see drain-build.ts).
//
// Options: --users N (100000)  --small N (25000)  --tenants N (2)  --latency MS (20)
//          --tsx  run the children through tsx instead (adds tsx's ~35 MB to the sync's RSS)
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildForNode } from './drain-build.js'
import { ask, exited, forkBench, mb, nextMessage, round, sampleRss, table, watchdog, type Message } from './drain-proc.js'
import type { SyncCallStats, SyncFakesJob, SyncFakesReady, SyncVerification } from './sync-fakes.js'
import type { SyncRunJob, SyncRunResult } from './sync-run.js'

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    small: { type: 'string', default: '25000' },
    tenants: { type: 'string', default: '2' },
    latency: { type: 'string', default: '20' },
    tsx: { type: 'boolean', default: false }
  }
})
const USERS = Number(args.users)
const SMALL = Number(args.small)
const TENANTS = Number(args.tenants)
const LATENCY_MS = Number(args.latency)
const TARGET_TIME_FACTOR = 1.5
const TARGET_RSS_MB = 200
/** "Memory does not grow with the number of users": live heap after a full GC, per batch, 100k vs 25k users. */
const FLAT_HEAP_TOLERANCE_MB = 5

const loadStart = loadavg()[0]!.toFixed(2)
const children: ChildProcess[] = []
watchdog(175_000, () => children)
const dir = mkdtempSync(join(tmpdir(), 'bridge-bench-sync-'))
const build = args.tsx === true ? undefined : buildForNode()
const log = (text: string): void => { process.stderr.write(`sync: ${text}\n`) }

interface Run {
  users: number
  latencyMs: number
  seconds: number
  usersPerSecond: number
  calls: SyncCallStats
  /** calls × latency: what the fakes' latency allows. */
  latencyBoundSeconds: number
  rss: { peakMb: number, sampledPeakMb: number, highWaterMarkMb: number, samples: number, seriesMb: number[] }
  verification: SyncVerification
  result: SyncRunResult
  fakesSetupSeconds: number
}

async function run (name: string, users: number, latencyMs: number, gcEachBatch = false): Promise<Run> {
  const fakesJob: SyncFakesJob = { users, tenants: TENANTS, latencyMs }
  const fakes = forkBench('bench/sync-fakes.ts', fakesJob, build)
  children.push(fakes)
  const ready = await nextMessage<SyncFakesReady & Message>(fakes, 'ready')
  const job: SyncRunJob = { database: join(dir, `${name}.db`), fakes: { fusionAuth: ready.fusionAuth, enzoic: ready.enzoic }, gcEachBatch }
  const sync = forkBench('bench/sync-run.ts', job, build, gcEachBatch ? ['--expose-gc'] : [])
  children.push(sync)
  const rss = sampleRss(sync.pid!, 250)
  const result = await nextMessage<SyncRunResult & Message>(sync, 'result')
  const mem = rss.stop()
  await exited(sync)
  const { stats } = await ask<Message & { stats: SyncCallStats }>(fakes, 'stats')
  const { verification } = await ask<Message & { verification: SyncVerification }>(fakes, 'verify')
  await ask(fakes, 'close')
  await exited(fakes)
  const peakMb = mb(Math.max(mem.peak, result.maxRssBytes))
  const r: Run = {
    users,
    latencyMs,
    seconds: result.seconds,
    usersPerSecond: users / result.seconds,
    calls: stats,
    latencyBoundSeconds: stats.sequentialCalls * latencyMs / 1000,
    rss: { peakMb, sampledPeakMb: mb(mem.peak), highWaterMarkMb: mb(result.maxRssBytes), samples: mem.samples, seriesMb: mem.series.map(mb) },
    verification,
    result,
    fakesSetupSeconds: ready.setupSeconds
  }
  log(`${name}: ${users} users, ${latencyMs} ms per call${gcEachBatch ? ', full GC after each batch' : ''}: ${round(r.seconds, 2)} s, ${stats.sequentialCalls} calls, ` +
    `${verification.matched}/${verification.expected} enrolled, peak RSS ${peakMb} MB${gcEachBatch ? `, live heap after each batch ${result.retainedAfterBatchMb.join(' ')} MB` : ''}`)
  return r
}

try {
  const big = await run('big', USERS, LATENCY_MS)
  const small = await run('small', SMALL, LATENCY_MS)
  const zero = await run('zero-latency', USERS, 0)
  const bigGc = await run('big-gc', USERS, 0, true)
  const smallGc = await run('small-gc', SMALL, 0, true)

  const bounds = {
    /** What the fakes' latency allows. */
    latency: big.latencyBoundSeconds,
    /** … plus the fakes' own processing: their process's CPU time during this run. */
    fakes: big.latencyBoundSeconds + big.calls.cpuSeconds,
    /** … plus all processing, the sync's own included: the same sync with latency 0. */
    processing: big.latencyBoundSeconds + zero.seconds
  }
  const ratio = {
    latency: big.seconds / bounds.latency,
    fakes: big.seconds / bounds.fakes,
    processing: big.seconds / bounds.processing
  }
  const pass = (ok: boolean): string => ok ? 'PASS' : 'FAIL'
  const correct = (r: Run): boolean => r.verification.matched === r.users && r.verification.monitored === r.users && r.verification.expected === r.users
  const heapBig = Math.max(...bigGc.result.retainedAfterBatchMb)
  const heapSmall = Math.max(...smallGc.result.retainedAfterBatchMb)
  const flat = heapBig - heapSmall <= FLAT_HEAP_TOLERANCE_MB
  const rssOk = Math.max(big.rss.peakMb, small.rss.peakMb, zero.rss.peakMb) <= TARGET_RSS_MB
  const callText = (r: Run): string => `${r.calls.sequentialCalls} (${r.calls.fusionAuth['tenant.list'] ?? 0} tenant list + ${r.calls.fusionAuth['user.search'] ?? 0} searches + ${r.calls.enzoic['monitor.add'] ?? 0} Enzoic adds)`
  const x = (n: number): string => `${round(n, 2)}×`
  const rows: Array<Array<string | number>> = [
    ['metric', 'value', 'target', 'result'],
    [`enrolled in Enzoic (${USERS} users)`, `${big.verification.matched}/${big.verification.expected}, ${big.verification.monitored} monitored`, 'all, fusionauth:<tenant>:<user>', pass(correct(big) && correct(zero) && correct(bigGc))],
    ['sequential calls (fakes\' journals)', callText(big), '', ''],
    ['Enzoic batches (users)', big.result.batches.join(', '), '<= 15000 each', pass(big.result.batches.every(b => b <= 15000))],
    [`sync time, ${LATENCY_MS} ms per call`, `${round(big.seconds, 2)} s (${round(big.usersPerSecond, 0)} users/s)`, '', ''],
    [`A: calls × ${LATENCY_MS} ms`, `${round(bounds.latency, 2)} s`, '', ''],
    ['B: A + fakes\' CPU time in the run', `${round(bounds.fakes, 2)} s (+${round(big.calls.cpuSeconds, 2)} s)`, '', ''],
    ['C: A + the sync at 0 ms per call', `${round(bounds.processing, 2)} s (+${round(zero.seconds, 2)} s)`, '', ''],
    ['sync time / A', x(ratio.latency), `<= ${TARGET_TIME_FACTOR}×`, pass(ratio.latency <= TARGET_TIME_FACTOR)],
    ['sync time / B', x(ratio.fakes), `<= ${TARGET_TIME_FACTOR}×`, pass(ratio.fakes <= TARGET_TIME_FACTOR)],
    ['sync time / C', x(ratio.processing), `<= ${TARGET_TIME_FACTOR}×`, pass(ratio.processing <= TARGET_TIME_FACTOR)],
    ['sync process CPU time', `${round(big.result.cpuSeconds, 2)} s`, '', ''],
    [`peak RSS, sync process, ${USERS} users`, `${big.rss.peakMb} MB`, `<= ${TARGET_RSS_MB} MB`, pass(big.rss.peakMb <= TARGET_RSS_MB)],
    [`peak RSS, sync process, ${USERS} users, 0 ms`, `${zero.rss.peakMb} MB`, `<= ${TARGET_RSS_MB} MB`, pass(zero.rss.peakMb <= TARGET_RSS_MB)],
    [`peak RSS, sync process, ${SMALL} users`, `${small.rss.peakMb} MB`, `<= ${TARGET_RSS_MB} MB`, pass(small.rss.peakMb <= TARGET_RSS_MB)],
    [`live heap after each batch, ${SMALL} users`, `${smallGc.result.retainedAfterBatchMb.join(', ')} MB`, '', ''],
    [`live heap after each batch, ${USERS} users`, `${bigGc.result.retainedAfterBatchMb.join(', ')} MB`, `<= ${SMALL} users + ${FLAT_HEAP_TOLERANCE_MB} MB`, pass(flat)],
    [`enrolled in Enzoic (${SMALL} users)`, `${small.verification.matched}/${small.verification.expected}`, 'all', pass(correct(small) && correct(smallGc))],
    [`sync time, ${SMALL} users (its A)`, `${round(small.seconds, 2)} s (${round(small.latencyBoundSeconds, 2)} s)`, '', '']
  ]
  const runtime = build === undefined ? 'tsx' : 'node, compiled JS'
  const header = `bench:sync — ${USERS} FusionAuth users in ${TENANTS} tenants, fakes (own process) answering after ${LATENCY_MS} ms, ` +
    `Node ${process.version} (${runtime}), ${cpus().length} CPUs, load average ${loadStart} → ${loadavg()[0]!.toFixed(2)}`
  console.log(`\n${header}\n\n${table(rows)}\n`)
  console.log(`RSS over time (MB, every 250 ms): ${USERS} users: ${big.rss.seriesMb.slice(1).join(' ')}; ${SMALL} users: ${small.rss.seriesMb.slice(1).join(' ')}`)
  console.log(`sync process (${USERS} users): event loop utilisation ${big.result.loop.utilisation}, delay p99 ${big.result.loop.eldP99Ms} ms; fakes set up in ${round(big.fakesSetupSeconds, 1)} s`)

  const summary = (r: Run): Record<string, unknown> => ({
    users: r.users,
    latencyMs: r.latencyMs,
    seconds: r.seconds,
    usersPerSecond: r.usersPerSecond,
    calls: r.calls,
    latencyBoundSeconds: r.latencyBoundSeconds,
    syncCpuSeconds: r.result.cpuSeconds,
    batches: r.result.batches,
    retainedAfterBatchMb: r.result.retainedAfterBatchMb,
    rss: r.rss,
    loop: r.result.loop,
    verification: r.verification,
    enrolled: r.result.summary.enrolled,
    skipped: r.result.summary.skipped
  })
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
  const out = {
    at: new Date().toISOString(),
    node: process.version,
    setup: {
      users: USERS,
      small: SMALL,
      tenants: TENANTS,
      latencyMs: LATENCY_MS,
      runtime,
      cpus: cpus().length,
      loadAverage: { start: loadStart, end: loadavg()[0] }
    },
    runs: { big: summary(big), small: summary(small), zeroLatency: summary(zero), bigGcEachBatch: summary(bigGc), smallGcEachBatch: summary(smallGc) },
    bounds,
    ratios: ratio,
    targets: {
      time: {
        target: TARGET_TIME_FACTOR,
        latency: { value: ratio.latency, pass: ratio.latency <= TARGET_TIME_FACTOR },
        withFakesCpu: { value: ratio.fakes, pass: ratio.fakes <= TARGET_TIME_FACTOR },
        withProcessing: { value: ratio.processing, pass: ratio.processing <= TARGET_TIME_FACTOR }
      },
      rssMb: { target: TARGET_RSS_MB, big: big.rss.peakMb, small: small.rss.peakMb, zeroLatency: zero.rss.peakMb, pass: rssOk },
      flatMemory: { toleranceMb: FLAT_HEAP_TOLERANCE_MB, liveHeapBigMb: heapBig, liveHeapSmallMb: heapSmall, pass: flat },
      correct: { pass: [big, small, zero, bigGc, smallGc].every(correct) }
    }
  }
  writeFileSync(new URL('./results/sync.json', import.meta.url), JSON.stringify(out, null, 2) + '\n')
  console.log('written: bench/results/sync.json')
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
  build?.remove()
}
process.exit(0)
