// npm run bench:drain — how fast the worker drains a queue against a slow FusionAuth, alone on SQLite or as
// replicas sharing one PostgreSQL database.
//
// N queued breach alerts (distinct emails, one FusionAuth user each in one tenant; 20,000 by default), seeded
// through the store as intake stores them; the FusionAuth fake answering every call after 20 ms;
// FUSIONAUTH_CONCURRENCY=16. Processes: this one (seeds the database, samples every replica's RSS from /proc,
// decides when the queue is drained, prints), the fake, and one bridge process (startBridge) per replica.
// The replicas start together; the run ends when `queue.nextDueIn()`, polled here every 100 ms on a
// connection of its own, says nothing waits or is leased. Throughput = alerts / (drained − first replica's
// worker start).
// The ceiling is replicas × concurrency / (calls per alert × latency of one call): calls per alert are counted
// in the fake's journal, the latency is measured by the bridges' own clients (their call histograms) during
// the run, and also on an idle event loop before the run, and taken at its nominal value.
// Targets: ≥ 0.85 × the ceiling, peak RSS of every replica's process ≤ 150 MB. Results: bench/results/drain.json
// (SQLite) or drain-postgres.json.
//
// --compare-replicas (npm run bench:drain:replicas): in one invocation, PostgreSQL with one replica, then a
// fresh database and a new fake with two. Target: two replicas' throughput ≥ 1.8 × one's, every replica's peak
// RSS ≤ 150 MB. Defaults there: 5,000 alerts, 40 ms per call, concurrency 16: ceilings of 133 and 267 alerts/s,
// set by latency × concurrency. At 20 ms (533 alerts/s for two) the bridges (1.5–3.5 ms of CPU per alert), the
// fake (~1 ms) and PostgreSQL need more than two cores, call latency rises, and the ratio measures the CPU.
// The two drains take ~70–90 s, the whole ~2 min. The table shows how busy the machine's CPU was during each
// run (other processes included): near 100 %, the ratio says little about the bridge.
// Results: bench/results/drain-replicas.json.
// npm run bench:drain:backlog: 200,000 alerts, two replicas, 1 ms per call, concurrency 32 — CPU-bound; its
// point is each replica's RSS while a large backlog drains.
//
// CPU per alert, read from /proc by this process (never on the measured event loop), in two windows: the whole run
// (every replica's bridge started → the queue drained) and the steady state (from the moment a replica finished
// its share of --warmup alerts: V8 has compiled the hot code by then, as in a bridge that has been running —
// the first seconds of a fresh process spend a third of their CPU in the optimizing compiler), each divided by
// the alerts finished in it; the targets are judged on the steady state:
// - the bridge processes: utime + stime of /proc/<pid>/stat (all threads: event loop, SQLite writer, GC, libuv);
// - PostgreSQL: the cluster's postmaster and every child (backends that exited meanwhile are in the
//   postmaster's cutime/cstime), and apart, the bridges' client backends (their command line names the database).
// Store work per alert: PostgreSQL statements sent by the bridges (one statement is one round trip with
// node-postgres: counted by wrapping pg.Client's query in the worker process, see drain-worker.ts), and the
// server's own count of transactions (pg_stat_database.xact_commit + xact_rollback of the bridges' database, this
// process's polls subtracted); SQLite: the writer's transactions (enzoic_bridge_store_transactions_total).
// Targets (issue 19): bridge ≤ 0.7 ms CPU per alert, PostgreSQL ≤ 1.0 ms and ≤ 2.5 round trips per alert,
// SQLite ≤ 0.5 writer transactions per alert.
//
// The children run as compiled JavaScript under plain node with the production flags, as the bridge does
// in production (see drain-build.ts, production-flags.ts). PostgreSQL is a throwaway cluster started here
// (test/fixtures/postgres.ts).
//
// Options: --alerts N  --latency MS  --concurrency N
//          --store sqlite|postgres (sqlite)  --replicas N (1; more than one needs postgres)  --compare-replicas
//          --warmup N         alerts finished before the steady-state window of the per-alert figures opens
//                             (default 30 % of the alerts, at most 6,000)
//          --timeout S        the watchdog (default grows with the alerts: 120 s + 15 ms per alert and run)
//          --fake-in-process  the fake shares the worker's process (and its one CPU) instead of its own
//          --tsx              run the children through tsx instead (adds tsx's ~35 MB to the worker's RSS)
import { productionNodeFlags } from './production-flags.js'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import pg from 'pg'
import { classify } from '../src/intake/alert.js'
import { isPostgresUrl, openStore } from '../src/store/index.js'
import type { InsertResult } from '../src/store/types.js'
import { startPostgres, type PgCluster } from '../test/fixtures/postgres.js'
import { drainEmail, type DrainFakeStats } from './drain-fake.js'
import { buildForNode } from './drain-build.js'
import { ask, countPgStatements, exited, forkBench, machineCpu, mb, nextMessage, processTreeCpu, procCpuSeconds, procCpuSplit, round, sampleRss, table, watchdog, type Message } from './drain-proc.js'
import type { CallLatency, Counters, DrainWorkerClosed, DrainWorkerJob, DrainWorkerProgress, DrainWorkerResult, DrainWorkerStarted, DrainWorkerWarm } from './drain-worker.js'

const { values: args } = parseArgs({
  options: {
    alerts: { type: 'string' },
    latency: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    store: { type: 'string', default: 'sqlite' },
    replicas: { type: 'string', default: '1' },
    'compare-replicas': { type: 'boolean', default: false },
    timeout: { type: 'string' },
    'fake-in-process': { type: 'boolean', default: false },
    warmup: { type: 'string' },
    tsx: { type: 'boolean', default: false }
  }
})
const COMPARE = args['compare-replicas'] === true
const ALERTS = Number(args.alerts ?? (COMPARE ? 5000 : 20000))
const LATENCY_MS = Number(args.latency ?? (COMPARE ? 40 : 20))
const CONCURRENCY = Number(args.concurrency)
const STORE = args.store
const REPLICAS = Number(args.replicas)
const FAKE_IN_PROCESS = args['fake-in-process'] === true
/** Run the children through tsx instead of compiled JavaScript (tsx's loader adds ~35 MB of RSS). */
const TSX = args.tsx === true
const RUNS = COMPARE ? 2 : 1
/** Alerts finished (all replicas) before the steady-state window opens: start-up and JIT compilation are behind. */
const WARMUP = Number(args.warmup ?? Math.min(6000, Math.floor(ALERTS * 0.3)))
const TIMEOUT_S = Number(args.timeout ?? 120 + ALERTS * RUNS * 0.015)
const TARGET_RATIO = 0.85
const TARGET_REPLICA_SCALING = 1.8
const TARGET_RSS_MB = 150
const TARGET_BRIDGE_CPU_MS = 0.7
const TARGET_PG_CPU_MS = 1.0
const TARGET_ROUND_TRIPS = 2.5
const TARGET_SQLITE_TX = 0.5
/** Progress lines: every 5 s, every 15 s for a backlog (a line per 15 s is enough over ten minutes). */
const PROGRESS_MS = ALERTS >= 50_000 ? 15_000 : 5000

if (STORE !== 'sqlite' && STORE !== 'postgres') throw new Error('--store: sqlite or postgres')
if (!Number.isInteger(ALERTS) || ALERTS < 1 || !Number.isInteger(REPLICAS) || REPLICAS < 1) throw new Error('--alerts and --replicas: positive integers')
if ((REPLICAS > 1 || COMPARE) && STORE !== 'postgres') throw new Error('several replicas share a PostgreSQL database: add --store postgres')
if (FAKE_IN_PROCESS && (REPLICAS > 1 || COMPARE)) throw new Error('--fake-in-process: one replica only (each would get a fake of its own)')

const loadStart = loadavg()[0]!.toFixed(2)
const children: ChildProcess[] = []
/** After-functions registered by the PostgreSQL fixture (it expects a node:test context). */
const afters: Array<() => unknown> = []
const dir = mkdtempSync(join(tmpdir(), 'bridge-bench-drain-'))
const build = TSX ? undefined : buildForNode()
let finishing: Promise<void> | undefined
/** Stops everything started here, once: at the end of the run or by the watchdog, whichever comes first. */
function finish (): Promise<void> {
  finishing ??= (async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    for (const fn of afters.splice(0).reverse()) await Promise.resolve().then(fn).catch(err => console.error(err))
    rmSync(dir, { recursive: true, force: true })
    build?.remove()
  })()
  return finishing
}
watchdog(TIMEOUT_S * 1000, () => children, finish)
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { finish().finally(() => process.exit(1)).catch(() => undefined) })
const log = (text: string): void => { process.stderr.write(`drain: ${text}\n`) }
const pass = (ok: boolean): string => ok ? 'PASS' : 'FAIL'

interface ReplicaRun {
  owner: string
  finished: number
  /** Worker start, after the first replica's (ms). */
  startOffsetMs: number
  peakMb: number
  sampledPeakMb: number
  highWaterMarkMb: number
  secondHalfMedianMb: number
  samples: number
  seriesMb: number[]
  idle: DrainWorkerResult['idle']
  inRun: DrainWorkerResult['inRun']
  loop: DrainWorkerResult['loop']
  cpuSeconds: number
  heapUsedMb: number
  warnings: number
  errors: number
  firstError?: string
}

interface Run {
  store: string
  replicas: number
  alerts: number
  seedSeconds: number
  /** First replica's worker start → the queue drained (polled). */
  seconds: number
  /** First replica's worker start → the last `alert finished` line of any replica. */
  lastFinishSeconds: number
  alertsPerSecond: number
  callsPerAlert: number
  latencyMs: { inRun: number, idle: number, nominal: number }
  ceilings: { inRun: number, idle: number, nominal: number }
  ratios: { inRun: number, idle: number, nominal: number }
  /**
   * CPU per alert of the bridges (all replicas) and of the fake, and how busy the whole machine was (other
   * work included): near 1, the run measured the CPU rather than the latency.
   */
  cpu: { bridgesMsPerAlert: number, fakeMsPerAlert?: number, machineBusy: number }
  /** Per alert finished in the run and in its steady state (see the header). */
  perAlert: PerAlertWindows
  replicaRuns: ReplicaRun[]
  /** Alerts claimed more than once, and the history of up to three of them. */
  repeated: { count: number, examples: string[] }
  states: Record<string, number>
  outcomes: Record<string, number>
  fake: DrainFakeStats
  allDone: boolean
  rssPass: boolean
}

/** The per-alert figures of the whole run, and of its steady state (after the warm-up) when it had one. */
interface PerAlertWindows { run: PerAlert, steady?: PerAlert }

interface PerAlert {
  /** Alerts finished in the window the figures below cover. */
  alerts: number
  /** The bridge processes (all threads), from /proc; its split: user and system, the main thread and the others. */
  bridgeCpuMs: number
  bridgeSplitMs: { user: number, system: number, mainThread: number, otherThreads: number }
  /** PostgreSQL: the whole cluster, and the bridges' client backends alone. */
  pgCpuMs?: { cluster: number, backends: number }
  /** PostgreSQL: statements the bridges sent (round trips), and by statement. */
  roundTrips?: number
  byStatement?: Record<string, number>
  /** PostgreSQL: transactions by the server's count. */
  pgTransactions?: number
  /** SQLite: the writer's transactions, and those that waited for the fsync. */
  sqliteTx?: { all: number, synced: number }
}

type CpuSplit = ReturnType<typeof procCpuSplit>

/** PostgreSQL's side of a run: its processes' CPU and its transaction count, read by this process. */
interface PgProbe { cpu (): { total: number, matching: number }, transactions (): Promise<number> }

/** The alerts as intake stores them (classify → insert, group-committed), awaited 5,000 at a time. */
async function seed (database: string): Promise<number> {
  const t0 = performance.now()
  const store = await openStore(database, { role: 'serve' })
  try {
    let duplicates = 0
    let batch: Array<Promise<InsertResult>> = []
    const settle = async (): Promise<void> => {
      duplicates += (await Promise.all(batch)).filter(r => r.duplicate).length
      batch = []
    }
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
      batch.push(store.alerts.insert(c.alert))
      if (batch.length === 5000) await settle()
    }
    await settle()
    const queued = (await store.alerts.countByState()).queued
    if (duplicates > 0 || queued !== ALERTS) throw new Error(`seeding: ${queued} queued, expected ${ALERTS}`)
  } finally {
    await store.close()
  }
  return (performance.now() - t0) / 1000
}

/** Alerts claimed more than once (a lease lost, a retry, a holder gone): none in a clean drain. */
async function repeatedAlerts (database: string): Promise<{ count: number, ids: string[] }> {
  const count = 'SELECT count(*) AS n FROM alerts WHERE attempts > 1'
  const ids = 'SELECT id FROM alerts WHERE attempts > 1 ORDER BY seq LIMIT 3'
  if (isPostgresUrl(database)) {
    const client = new pg.Client({ connectionString: database })
    await client.connect()
    try {
      return { count: Number((await client.query<{ n: string }>(count)).rows[0]!.n), ids: (await client.query<{ id: string }>(ids)).rows.map(r => r.id) }
    } finally {
      await client.end()
    }
  }
  const db = new Database(database, { readonly: true })
  try {
    return { count: (db.prepare(count).get() as { n: number }).n, ids: (db.prepare(ids).all() as Array<{ id: string }>).map(r => r.id) }
  } finally {
    db.close()
  }
}

/** Calls-weighted mean of the replicas' latencies. */
function meanLatency (ls: CallLatency[]): number {
  const calls = ls.reduce((n, l) => n + l.calls, 0)
  return ls.reduce((s, l) => s + l.meanMs * l.calls, 0) / calls
}

/** One drain: a fake, the seeded queue, `replicas` bridge processes started together. */
async function drain (database: string, replicas: number, label: string, pgProbe?: PgProbe): Promise<Run> {
  const say = (text: string): void => log(`${label}${text}`)
  let fakeChild: ChildProcess | undefined
  let fakeAt: { url: string, apiKey: string } | undefined
  if (!FAKE_IN_PROCESS) {
    fakeChild = forkBench('bench/drain-fake.ts', { users: ALERTS, latencyMs: LATENCY_MS }, build)
    children.push(fakeChild)
    const ready = await nextMessage<Message & { url: string, apiKey: string }>(fakeChild, 'ready')
    fakeAt = { url: ready.url, apiKey: ready.apiKey }
  }

  const seedSeconds = await seed(database)
  say(`seeded ${ALERTS} queued alerts (${STORE}) in ${round(seedSeconds, 1)} s; fake ${FAKE_IN_PROCESS ? 'in the worker\'s process' : 'in its own process'}, ${LATENCY_MS} ms per call`)

  const job: DrainWorkerJob = {
    database,
    concurrency: CONCURRENCY,
    fake: fakeAt ?? { inProcess: { users: ALERTS, latencyMs: LATENCY_MS } },
    probeCalls: 100,
    progressMs: PROGRESS_MS,
    warmup: Math.max(1, Math.floor(WARMUP / replicas))
  }
  const workers = Array.from({ length: replicas }, () => forkBench('bench/drain-worker.ts', job, build, productionNodeFlags()))
  children.push(...workers)
  const rss = workers.map(w => sampleRss(w.pid!, 250))
  const probed = await Promise.all(workers.map(w => nextMessage<Message & { idle: { meanMs: number } }>(w, 'probed')))
  say(`idle call latency ${probed.map(p => p.idle.meanMs).join(' / ')} ms; draining…`)

  // A replica that dies mid-run would leave its alerts to the others after the lease: that is a failure here.
  let draining = true
  let died: string | undefined
  workers.forEach((w, i) => w.once('exit', (code, signal) => { if (draining) died ??= `replica ${i + 1} exited (${code ?? signal}) during the drain` }))

  // One line per round of progress messages (every replica has reported since the last line).
  const latest: Array<DrainWorkerProgress | undefined> = workers.map(() => undefined)
  let reported = new Set<number>()
  let goAt = 0
  let previous = { at: 0, finished: 0 }
  workers.forEach((w, i) => w.on('message', (m: Message) => {
    if (m.type !== 'progress' || !draining) return
    latest[i] = m as unknown as DrainWorkerProgress
    reported.add(i)
    if (reported.size < replicas) return
    reported = new Set()
    const ps = latest as DrainWorkerProgress[]
    const finished = ps.reduce((n, p) => n + p.finished, 0)
    const now = Date.now()
    const lately = round((finished - previous.finished) / ((now - previous.at) / 1000), 0)
    previous = { at: now, finished }
    const each = ps.map(p => `${p.finished} done, RSS ${p.rssMb} MB (heap ${p.heapUsedMb}/${p.heapTotalMb}, external ${p.externalMb})`)
    say(`${finished}/${ALERTS} done after ${round((now - goAt) / 1000, 0)} s, ${lately}/s lately; ${replicas > 1 ? each.map((e, j) => `[${j + 1}] ${e}`).join('; ') : each[0]!}`)
  }))

  // The steady-state window opens for each replica at its `warm`, for PostgreSQL once every replica is warm.
  const warm: Array<{ cpu: CpuSplit, counters: Counters } | undefined> = workers.map(() => undefined)
  let pgWarm: Promise<{ cpu: { total: number, matching: number }, finished: number[] }> | undefined
  workers.forEach((w, i) => w.on('message', (m: Message) => {
    if (m.type !== 'warm' || !draining) return
    warm[i] = { cpu: procCpuSplit(w.pid!), counters: (m as unknown as DrainWorkerWarm).counters }
    if (pgProbe === undefined || !warm.every(x => x !== undefined)) return
    const cpu = pgProbe.cpu()
    pgWarm = Promise.all(workers.map(async x => (await ask<Message & { finished: number }>(x, 'count')).finished)).then(finished => ({ cpu, finished }))
  }))

  const poll = await openStore(database, { role: 'command' })
  goAt = Date.now()
  previous = { at: goAt, finished: 0 }
  const machineAtGo = machineCpu()
  const fakeCpuAtGo = fakeChild !== undefined ? procCpuSeconds(fakeChild.pid!) : undefined
  const pgXactAtGo = await pgProbe?.transactions()
  const started = await Promise.all(workers.map(w => ask<Message & DrainWorkerStarted>(w, 'go')))
  // The window of the per-alert figures opens once every bridge has started.
  const ownStatements = pgProbe === undefined ? undefined : countPgStatements(pg)
  ownStatements?.on()
  const bridgeCpuAtGo = workers.map(w => procCpuSplit(w.pid!))
  const pgCpuAtGo = pgProbe?.cpu()
  const countersAtGo = started.map(st => st.counters)
  const firstStart = Math.min(...started.map(s => s.startedAt))
  while (await poll.queue.nextDueIn() !== undefined) {
    if (died !== undefined) throw new Error(died)
    await sleep(100)
  }
  const drainedAt = Date.now()
  draining = false
  const machine = machineCpu()
  const bridgeCpu = workers.map(w => procCpuSplit(w.pid!))
  const pgCpu = pgProbe?.cpu()
  const pgAtWarm = await pgWarm
  const fakeCpu = fakeChild !== undefined ? procCpuSeconds(fakeChild.pid!) : undefined

  const results = await Promise.all(workers.map(w => ask<Message & DrainWorkerResult>(w, 'result')))
  const mem = rss.map(s => s.stop())
  const states = await poll.alerts.countByState()
  const outcomes = await poll.alerts.countByOutcome()
  const repeats = await repeatedAlerts(database)
  const examples = await Promise.all(repeats.ids.map(async id =>
    `${id}: ${(await poll.alerts.events(id)).map(e => `${e.at.slice(11, 23)} ${e.state}${e.note === undefined ? '' : ` (${e.note})`}`).join('; ')}`))
  await poll.close()
  const closed = await Promise.all(workers.map(w => ask<Message & DrainWorkerClosed>(w, 'close')))
  await Promise.all(workers.map(async w => { await exited(w) }))
  // The backends that exited have reported their counts; this process's own statements (polls, checks) are not the bridges'.
  const own = ownStatements?.snapshot()
  const pgXact = pgProbe === undefined ? undefined : await pgProbe.transactions() - pgXactAtGo! - own!.total

  let fake: DrainFakeStats
  if (fakeChild !== undefined) {
    fake = (await ask<Message & { stats: DrainFakeStats }>(fakeChild, 'stats')).stats
    await ask(fakeChild, 'close')
    await exited(fakeChild)
  } else {
    fake = closed[0]!.fakeStats!
  }

  const seconds = (drainedAt - firstStart) / 1000
  const alertsPerSecond = ALERTS / seconds
  const callsPerAlert = fake.alertCalls / ALERTS
  const latencyMs = { inRun: meanLatency(results.map(r => r.inRun)), idle: meanLatency(results.map(r => r.idle)), nominal: LATENCY_MS }
  const ceiling = (ms: number): number => replicas * CONCURRENCY / (callsPerAlert * ms / 1000)
  const ceilings = { inRun: ceiling(latencyMs.inRun), idle: ceiling(latencyMs.idle), nominal: ceiling(LATENCY_MS) }
  const replicaRuns = results.map((r, i): ReplicaRun => {
    const m = mem[i]!
    const secondHalf = m.series.slice(Math.floor(m.series.length / 2)).sort((a, b) => a - b)
    return {
      owner: started[i]!.owner,
      finished: r.finished,
      startOffsetMs: r.startedAt - firstStart,
      peakMb: mb(Math.max(m.peak, r.maxRssBytes)),
      sampledPeakMb: mb(m.peak),
      highWaterMarkMb: mb(r.maxRssBytes),
      secondHalfMedianMb: mb(secondHalf[Math.floor(secondHalf.length / 2)] ?? 0),
      samples: m.samples,
      seriesMb: m.series.map(mb),
      idle: r.idle,
      inRun: r.inRun,
      loop: r.loop,
      cpuSeconds: r.cpuSeconds,
      heapUsedMb: mb(r.heapUsedBytes),
      warnings: r.warnings,
      errors: r.errors,
      firstError: r.firstError
    }
  })
  return {
    store: STORE,
    replicas,
    alerts: ALERTS,
    seedSeconds,
    seconds,
    lastFinishSeconds: (Math.max(...results.map(r => r.lastFinishedAt)) - firstStart) / 1000,
    alertsPerSecond,
    callsPerAlert,
    latencyMs,
    ceilings,
    ratios: { inRun: alertsPerSecond / ceilings.inRun, idle: alertsPerSecond / ceilings.idle, nominal: alertsPerSecond / ceilings.nominal },
    cpu: {
      bridgesMsPerAlert: results.reduce((t, r) => t + r.cpuSeconds, 0) * 1000 / ALERTS,
      fakeMsPerAlert: fakeCpu !== undefined && fakeCpuAtGo !== undefined ? (fakeCpu - fakeCpuAtGo) * 1000 / ALERTS : undefined,
      machineBusy: (machine.busy - machineAtGo.busy) / (machine.total - machineAtGo.total)
    },
    perAlert: {
      run: perAlertOf({
        from: countersAtGo,
        to: results.map(r => r.counters),
        cpu: bridgeCpu.map((c, i) => cpuDelta(c, bridgeCpuAtGo[i]!)),
        pg: pgCpu === undefined ? undefined : { cpu: treeDelta(pgCpu, pgCpuAtGo!), alerts: ALERTS - countersAtGo.reduce((n, c) => n + c.finished, 0) },
        pgXact
      }),
      steady: warm.every(x => x !== undefined)
        ? perAlertOf({
          from: warm.map(x => x!.counters),
          to: results.map(r => r.counters),
          cpu: bridgeCpu.map((c, i) => cpuDelta(c, warm[i]!.cpu)),
          pg: pgAtWarm === undefined || pgCpu === undefined
            ? undefined
            : { cpu: treeDelta(pgCpu, pgAtWarm.cpu), alerts: results.reduce((n, r, i) => n + r.counters.finished - pgAtWarm.finished[i]!, 0) }
        })
        : undefined
    },
    replicaRuns,
    repeated: { count: repeats.count, examples },
    states,
    outcomes,
    fake,
    allDone: states.done === ALERTS && fake.inactiveUsers === ALERTS,
    rssPass: replicaRuns.every(r => r.peakMb <= TARGET_RSS_MB)
  }
}

const cpuDelta = (now: CpuSplit, at: CpuSplit): CpuSplit =>
  ({ user: now.user - at.user, system: now.system - at.system, mainThread: now.mainThread - at.mainThread })
const treeDelta = (now: { total: number, matching: number }, at: { total: number, matching: number }): { total: number, matching: number } =>
  ({ total: now.total - at.total, matching: now.matching - at.matching })

/** What one window of a run measured: each replica's counters and CPU over it, PostgreSQL's CPU and the alerts it covers. */
interface Window {
  from: Counters[]
  to: Counters[]
  cpu: CpuSplit[]
  pg?: { cpu: { total: number, matching: number }, alerts: number }
  pgXact?: number
}

/** The per-alert figures of one window (alerts: those the replicas finished in it). */
function perAlertOf (w: Window): PerAlert {
  const alerts = w.to.reduce((n, c, i) => n + c.finished - w.from[i]!.finished, 0)
  const per = (n: number): number => n / alerts
  const sum = (f: (c: CpuSplit) => number): number => per(w.cpu.reduce((a, c) => a + f(c), 0) * 1000)
  const out: PerAlert = {
    alerts,
    bridgeCpuMs: sum(c => c.user + c.system),
    bridgeSplitMs: {
      user: sum(c => c.user),
      system: sum(c => c.system),
      mainThread: sum(c => c.mainThread),
      otherThreads: sum(c => c.user + c.system - c.mainThread)
    }
  }
  if (w.pg !== undefined) out.pgCpuMs = { cluster: w.pg.cpu.total * 1000 / w.pg.alerts, backends: w.pg.cpu.matching * 1000 / w.pg.alerts }
  if (w.to.every(c => c.statements !== undefined)) {
    out.roundTrips = per(w.to.reduce((n, c, i) => n + c.statements!.total - w.from[i]!.statements!.total, 0))
    const by: Record<string, number> = {}
    w.to.forEach((c, i) => {
      for (const [k, v] of Object.entries(c.statements!.byStatement)) by[k] = (by[k] ?? 0) + per(v - (w.from[i]!.statements!.byStatement[k] ?? 0))
    })
    out.byStatement = Object.fromEntries(Object.entries(by).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v, 3)]))
  }
  if (w.pgXact !== undefined) out.pgTransactions = per(w.pgXact)
  if (w.to.every(c => c.transactions !== undefined)) {
    const synced = w.to.reduce((n, c, i) => n + c.transactions!.synced - w.from[i]!.transactions!.synced, 0)
    const unsynced = w.to.reduce((n, c, i) => n + c.transactions!.unsynced - w.from[i]!.transactions!.unsynced, 0)
    out.sqliteTx = { all: per(synced + unsynced), synced: per(synced) }
  }
  return out
}

/**
 * The rows of the per-alert figures and their targets, for one run or (`two`) side by side: the steady state
 * (judged), then the whole run for reference.
 */
function perAlertRows (one: Run, two?: Run): Array<Array<string | number>> {
  const rows: Array<Array<string | number>> = []
  const window = (r: Run): PerAlert | undefined => r.perAlert.steady
  const cell = (r: Run | undefined, f: (p: PerAlert) => string | undefined): string => {
    const p = r === undefined ? undefined : window(r)
    return r === undefined ? '' : p === undefined ? '(no warm window)' : f(p) ?? '–'
  }
  const add = (name: string, f: (p: PerAlert) => string | undefined, target: string, ok?: (p: PerAlert) => boolean | undefined): void => {
    const verdicts = [one, two].filter((r): r is Run => r !== undefined).map(r => { const p = window(r); return p === undefined ? undefined : ok?.(p) })
    const result = verdicts.some(v => v === undefined) ? '' : pass(verdicts.every(v => v === true))
    rows.push(two === undefined ? [name, cell(one, f), target, result] : [name, cell(one, f), cell(two, f), target, result])
  }
  const ms = (v: number | undefined): string | undefined => v === undefined ? undefined : `${round(v, 3)} ms`
  const runCell = (r: Run | undefined): string => r === undefined
    ? ''
    : `${round(r.perAlert.run.bridgeCpuMs, 3)} ms` +
    (r.perAlert.run.pgCpuMs === undefined ? '' : ` / ${round(r.perAlert.run.pgCpuMs.cluster, 3)} ms`)
  const steadyAlerts = (r: Run | undefined): string => r === undefined ? '' : `${r.perAlert.steady?.alerts ?? 0} of ${r.alerts}`
  const measured = 'steady state: alerts measured (after the warm-up)'
  rows.push(two === undefined ? [measured, steadyAlerts(one), '', ''] : [measured, steadyAlerts(one), steadyAlerts(two), '', ''])
  add('CPU per alert, bridge process(es), all threads (/proc)', p => ms(p.bridgeCpuMs), `<= ${TARGET_BRIDGE_CPU_MS} ms`,
    p => p.bridgeCpuMs <= TARGET_BRIDGE_CPU_MS)
  add('  … user / system', p => `${round(p.bridgeSplitMs.user, 3)} / ${round(p.bridgeSplitMs.system, 3)} ms`, '')
  add('  … main thread / other threads (SQLite writer, GC, libuv)', p => `${round(p.bridgeSplitMs.mainThread, 3)} / ${round(p.bridgeSplitMs.otherThreads, 3)} ms`, '')
  if (one.perAlert.run.pgCpuMs !== undefined) {
    add('CPU per alert, PostgreSQL cluster (/proc)', p => ms(p.pgCpuMs?.cluster), `<= ${TARGET_PG_CPU_MS} ms`, p => p.pgCpuMs === undefined ? undefined : p.pgCpuMs.cluster <= TARGET_PG_CPU_MS)
    add('  … of which the bridges\' backends', p => ms(p.pgCpuMs?.backends), '')
    add('PostgreSQL round trips per alert (statements sent)', p => p.roundTrips === undefined ? undefined : String(round(p.roundTrips, 3)),
      `<= ${TARGET_ROUND_TRIPS}`,
      p => p.roundTrips === undefined ? undefined : p.roundTrips <= TARGET_ROUND_TRIPS)
    const xact = (r: Run | undefined): string => r?.perAlert.run.pgTransactions === undefined ? '' : String(round(r.perAlert.run.pgTransactions, 3))
    const xactName = 'PostgreSQL transactions per alert (server count, whole run)'
    rows.push(two === undefined ? [xactName, xact(one), '', ''] : [xactName, xact(one), xact(two), '', ''])
  }
  if (one.perAlert.run.sqliteTx !== undefined) {
    add('SQLite writer transactions per alert (all / fsync\'d)', p => p.sqliteTx === undefined ? undefined : `${round(p.sqliteTx.all, 3)} / ${round(p.sqliteTx.synced, 3)}`,
      `<= ${TARGET_SQLITE_TX}`, p => p.sqliteTx === undefined ? undefined : p.sqliteTx.all <= TARGET_SQLITE_TX)
  }
  const whole = 'whole run (start-up and warm-up included): CPU per alert, bridge' + (one.perAlert.run.pgCpuMs === undefined ? '' : ' / PostgreSQL')
  rows.push(two === undefined ? [whole, runCell(one), '', ''] : [whole, runCell(one), runCell(two), '', ''])
  return rows
}

const cpuPerAlert = (run: Run): string =>
  `${round(run.cpu.bridgesMsPerAlert, 2)} / ${run.cpu.fakeMsPerAlert === undefined ? '(in process)' : round(run.cpu.fakeMsPerAlert, 2)} ms`

/** Per-replica figures joined on one line: `a / b`. */
const each = (run: Run, f: (r: ReplicaRun) => string | number): string => run.replicaRuns.map(f).join(' / ')

function runRows (run: Run): Array<Array<string | number>> {
  const n = run.replicas
  const rows: Array<Array<string | number>> = [
    ['metric', 'value', 'target', 'result'],
    ['alerts done / users deactivated', `${run.states.done}/${ALERTS} / ${run.fake.inactiveUsers}`, 'all', pass(run.allDone)],
    ['wall time, first worker start → drained', `${round(run.seconds, 2)} s`, '', ''],
    ['  … → last alert finished', `${round(run.lastFinishSeconds, 2)} s`, '', ''],
    ['throughput', `${round(run.alertsPerSecond, 1)} alerts/s`, '', ''],
    ['calls per alert (fake journal)', round(run.callsPerAlert, 3), '', ''],
    ['alerts claimed more than once', run.repeated.count, '', ''],
    ['mean call latency, in run (client)', `${round(run.latencyMs.inRun, 2)} ms`, '', ''],
    ['mean call latency, idle loop (client)', `${round(run.latencyMs.idle, 2)} ms`, '', ''],
    ['ceiling, in-run latency', `${round(run.ceilings.inRun, 1)} alerts/s`, '', ''],
    ['ceiling, idle latency', `${round(run.ceilings.idle, 1)} alerts/s`, '', ''],
    [`ceiling, nominal ${LATENCY_MS} ms`, `${round(run.ceilings.nominal, 1)} alerts/s`, '', ''],
    ['throughput / ceiling (in-run latency)', round(run.ratios.inRun, 3), `>= ${TARGET_RATIO} (target)`, pass(run.ratios.inRun >= TARGET_RATIO)],
    ['throughput / ceiling (idle latency)', round(run.ratios.idle, 3), `>= ${TARGET_RATIO} (stricter)`, pass(run.ratios.idle >= TARGET_RATIO)],
    [`throughput / ceiling (nominal ${LATENCY_MS} ms)`, round(run.ratios.nominal, 3), `>= ${TARGET_RATIO} (strictest)`, pass(run.ratios.nominal >= TARGET_RATIO)]
  ]
  if (n > 1) {
    rows.push(['alerts finished, by replica', each(run, r => r.finished), '', ''])
    rows.push(['worker start after the first, by replica', each(run, r => `${r.startOffsetMs} ms`), '', ''])
  }
  for (const [i, r] of run.replicaRuns.entries()) {
    rows.push([n > 1 ? `peak RSS, replica ${i + 1}` : 'peak RSS, worker process', `${r.peakMb} MB`, `<= ${TARGET_RSS_MB} MB`, pass(r.peakMb <= TARGET_RSS_MB)])
  }
  rows.push([`RSS, median of the run's second half${n > 1 ? ', by replica' : ''}`, `${each(run, r => r.secondHalfMedianMb)} MB`, '', ''])
  rows.push([`event loop: utilisation / delay p99${n > 1 ? ', by replica' : ''}`, each(run, r => `${r.loop.utilisation} / ${r.loop.eldP99Ms} ms`), '', ''])
  rows.push([`CPU per alert: bridge${n > 1 ? 's (sum)' : ''} / fake (process lifetime, since \`go\`)`, cpuPerAlert(run), '', ''])
  rows.push(...perAlertRows(run))
  rows.push([`bridge log lines at warn / error${n > 1 ? ', by replica' : ''}`, each(run, r => `${r.warnings} / ${r.errors}`), '', ''])
  rows.push(['machine CPU busy during the run (all processes)', `${round(run.cpu.machineBusy * 100, 0)} %`, '', ''])
  return rows
}

function details (run: Run): string {
  const f = run.fake
  return [
    `calls by operation: ${Object.entries(f.byOp).map(([k, v]) => `${k} ${v}`).join(', ')}; statuses: ${Object.entries(f.statuses).map(([k, v]) => `${k}×${v}`).join(', ')}`,
    `RSS: ${each(run, r => `${r.samples} samples, peak ${r.sampledPeakMb} MB sampled, ${r.highWaterMarkMb} MB kernel high-water mark`)}; ` +
      `fake journal peaked at ${f.journalMax} entries (emptied every 500 ms)`,
    ...(run.perAlert.steady?.byStatement === undefined
      ? []
      : [`PostgreSQL statements per alert (steady state): ${Object.entries(run.perAlert.steady.byStatement).slice(0, 12).map(([k, v]) => `${v} × ${k}`).join('; ')}`]),
    ...run.replicaRuns.flatMap((r, i) => r.firstError === undefined ? [] : [`first error logged by replica ${i + 1}: ${r.firstError}`]),
    ...run.repeated.examples.map(e => `claimed more than once: ${e}`)
  ].join('\n')
}

const runJson = (run: Run): Record<string, unknown> => ({
  ...run,
  replicaRuns: undefined,
  byReplica: run.replicaRuns,
  targets: {
    ratio: { target: TARGET_RATIO, against: 'in-run latency', value: run.ratios.inRun, pass: run.ratios.inRun >= TARGET_RATIO },
    rssMb: { target: TARGET_RSS_MB, perReplica: run.replicaRuns.map(r => r.peakMb), pass: run.rssPass },
    allDone: { pass: run.allDone }
  }
})

/** A run during which the machine had no CPU to spare measured the CPU, not latency × concurrency. */
function saturation (runs: Array<[string, Run]>): string {
  const busy = runs.filter(([, r]) => r.cpu.machineBusy >= 0.9)
  if (busy.length === 0) return ''
  return `\nnote: the machine's CPU was ${busy.map(([name, r]) => `${round(r.cpu.machineBusy * 100, 0)} % busy during ${name}`).join(', ')} ` +
    `(every process, load average ${loadavg().map(l => l.toFixed(1)).join(' ')}): bound by the CPU left to it rather than by ` +
    'latency × concurrency, its throughput measures the machine more than the bridge; run it again on a quiet machine'
}

function write (name: string, out: Record<string, unknown>): void {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
  writeFileSync(new URL(`./results/${name}`, import.meta.url), JSON.stringify(out, null, 2) + '\n')
  console.log(`written: bench/results/${name}`)
}

// Like the other benches, a missed target is reported, not an exit status; an error is.
let failed = false
try {
  let cluster: PgCluster | undefined
  if (STORE === 'postgres') {
    let skipped = ''
    const context = { name: 'bench:drain', after: (fn: () => unknown) => { afters.push(fn) }, skip: (message: string) => { skipped = message } }
    cluster = await startPostgres(context as unknown as TestContext)
    if (cluster === undefined) throw new Error(`--store postgres: ${skipped}`)
    log(`PostgreSQL cluster on 127.0.0.1:${cluster.port}`)
  }
  const database = async (name: string): Promise<string> => cluster !== undefined ? await cluster.createDatabase(name) : join(dir, `${name}.db`)
  /** PostgreSQL's CPU (the postmaster's tree) and its transaction count in database `name`. */
  const pgProbe = (name: string): PgProbe | undefined => {
    if (cluster === undefined) return undefined
    const postmaster = Number(readFileSync(join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0])
    return {
      cpu: () => processTreeCpu(postmaster, ` ${name} `),
      transactions: async () => {
        await sleep(500) // a backend that just exited has reported its counts by then
        const rows = await cluster!.query(`SELECT (xact_commit + xact_rollback)::float8 AS n FROM pg_stat_database WHERE datname = '${name}'`) as Array<{ n: number }>
        return rows[0]!.n
      }
    }
  }
  const runtime = TSX ? 'tsx' : 'node, compiled JS'
  const setup = (): Record<string, unknown> => ({
    alerts: ALERTS,
    latencyMs: LATENCY_MS,
    concurrency: CONCURRENCY,
    store: STORE,
    fake: FAKE_IN_PROCESS ? 'in-process' : 'child-process',
    runtime,
    nodeFlags: productionNodeFlags(),
    cpus: cpus().length,
    loadAverage: { start: loadStart, end: loadavg()[0] }
  })

  if (COMPARE) {
    const one = await drain(await database('drain_one'), 1, '[1 replica] ', pgProbe('drain_one'))
    const two = await drain(await database('drain_two'), 2, '[2 replicas] ', pgProbe('drain_two'))
    const scaling = two.alertsPerSecond / one.alertsPerSecond
    const ok = scaling >= TARGET_REPLICA_SCALING && one.rssPass && two.rssPass && one.allDone && two.allDone
    const rows: Array<Array<string | number>> = [
      ['metric', 'one replica', 'two replicas', 'target', 'result'],
      ['alerts done / users deactivated', `${one.states.done} / ${one.fake.inactiveUsers}`, `${two.states.done} / ${two.fake.inactiveUsers}`, `${ALERTS}`, pass(one.allDone && two.allDone)],
      ['wall time, first worker start → drained', `${round(one.seconds, 2)} s`, `${round(two.seconds, 2)} s`, '', ''],
      ['throughput', `${round(one.alertsPerSecond, 1)} alerts/s`, `${round(two.alertsPerSecond, 1)} alerts/s`, '', ''],
      ['throughput, two / one', '', round(scaling, 3), `>= ${TARGET_REPLICA_SCALING}`, pass(scaling >= TARGET_REPLICA_SCALING)],
      [`ceiling, nominal ${LATENCY_MS} ms`, `${round(one.ceilings.nominal, 1)} alerts/s`, `${round(two.ceilings.nominal, 1)} alerts/s`, '', ''],
      ['throughput / ceiling (in-run latency)', round(one.ratios.inRun, 3), round(two.ratios.inRun, 3), '', ''],
      [`throughput / ceiling (nominal ${LATENCY_MS} ms)`, round(one.ratios.nominal, 3), round(two.ratios.nominal, 3), '', ''],
      ['mean call latency, in run / idle', `${round(one.latencyMs.inRun, 2)} / ${round(one.latencyMs.idle, 2)} ms`, `${round(two.latencyMs.inRun, 2)} / ${round(two.latencyMs.idle, 2)} ms`, '', ''],
      ['calls per alert (fake journal)', round(one.callsPerAlert, 3), round(two.callsPerAlert, 3), '', ''],
      ['alerts claimed more than once', one.repeated.count, two.repeated.count, '', ''],
      ['alerts finished, by replica', each(one, r => r.finished), each(two, r => r.finished), '', ''],
      ['peak RSS, by replica', `${each(one, r => r.peakMb)} MB`, `${each(two, r => r.peakMb)} MB`, `<= ${TARGET_RSS_MB} MB each`, pass(one.rssPass && two.rssPass)],
      ['event loop utilisation, by replica', each(one, r => r.loop.utilisation), each(two, r => r.loop.utilisation), '', ''],
      ['CPU per alert: bridges (sum) / fake (since `go`)', cpuPerAlert(one), cpuPerAlert(two), '', ''],
      ...perAlertRows(one, two),
      ['bridge log lines at warn / error, by replica', each(one, r => `${r.warnings} / ${r.errors}`), each(two, r => `${r.warnings} / ${r.errors}`), '', ''],
      ['machine CPU busy during the run (all processes)', `${round(one.cpu.machineBusy * 100, 0)} %`, `${round(two.cpu.machineBusy * 100, 0)} %`, '', '']
    ]
    const header = `bench:drain --compare-replicas — PostgreSQL ${ALERTS} alerts per run, fake FusionAuth (own process) answering after ${LATENCY_MS} ms, ` +
      `FUSIONAUTH_CONCURRENCY=${CONCURRENCY} per replica, Node ${process.version} (${runtime}), ${cpus().length} CPUs, load average ${loadStart} → ${loadavg()[0]!.toFixed(2)}`
    console.log(`\n${header}\n\n${table(rows)}\n`)
    console.log(`one replica: ${details(one)}\ntwo replicas: ${details(two)}${saturation([['the one-replica run', one], ['the two-replica run', two]])}`)
    write('drain-replicas.json', {
      at: new Date().toISOString(),
      node: process.version,
      setup: setup(),
      scaling: { twoOverOne: scaling, target: TARGET_REPLICA_SCALING, pass: scaling >= TARGET_REPLICA_SCALING },
      pass: ok,
      one: runJson(one),
      two: runJson(two)
    })
  } else {
    const run = await drain(await database('bridge'), REPLICAS, '', pgProbe('bridge'))
    const runtimeText = `Node ${process.version} (${runtime}), ${cpus().length} CPUs, load average ${loadStart} → ${loadavg()[0]!.toFixed(2)}`
    const header = `bench:drain — ${ALERTS} alerts, ${STORE === 'postgres' ? `PostgreSQL, ${REPLICAS} replica${REPLICAS > 1 ? 's' : ''}` : 'SQLite'}, ` +
      `fake FusionAuth (${FAKE_IN_PROCESS ? 'in the worker\'s process' : 'own process'}) answering after ${LATENCY_MS} ms, FUSIONAUTH_CONCURRENCY=${CONCURRENCY}, ${runtimeText}`
    console.log(`\n${header}\n\n${table(runRows(run))}\n`)
    console.log(`seeding: ${round(run.seedSeconds, 1)} s\n${details(run)}${saturation([['the run', run]])}`)
    write(STORE === 'postgres' ? 'drain-postgres.json' : 'drain.json', { at: new Date().toISOString(), node: process.version, setup: setup(), ...runJson(run) })
  }
} catch (err) {
  console.error(err)
  failed = true
} finally {
  await finish()
}
process.exit(failed ? 1 : 0)
