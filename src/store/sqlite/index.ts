import { Worker } from 'node:worker_threads'
import type { AlertState, ExposureDetails } from '../../alerts/types.js'
import { KV, StoreUnavailableError, type InsertResult, type ListOptions, type Store, type Summary } from '../types.js'
import { countsByOutcome, countsByState, purgeInSlices, summaryOf } from '../shared/alerts.js'
import { listFilter } from '../shared/list-filter.js'
import { groupReport } from '../shared/report.js'
import { fileIdentity, migrate, openDatabase } from './connection.js'
import { createOperations, insertRow, type BatchOutcome, type WriteOp } from './operations.js'
import { rows as mapper, type SqliteClaimedRow, type SqliteEventRow, type SqliteOutboxRow, type SqliteReceiptRow, type SqliteReportRow, type SqliteRow, type SqliteStepRow } from './rows.js'
import type { WriterInit, WriterReply, WriterRequest } from './writer.js'

export interface SqliteStoreOptions {
  /** Path to the database file; its folder is created. */
  file: string
  /** Epoch-ms clock (tests move time). It is this store's "database clock", taken as it is. */
  now?: () => number
  /**
   * Without `now`: the wall clock and a monotonic one (tests simulate a jump). A jump of the wall clock
   * (NTP step, an operator's `date -s`) shifts every due time and lease expiry by as much, so retries keep
   * their distance and live leases stay live.
   */
  clock?: { wall: () => number, mono: () => number }
  /** How long a write waits for another connection's lock before failing (ms). */
  busyTimeoutMs?: number
  /**
   * `thread` (default): commits run on a writer thread, so no fsync blocks the event loop.
   * `inline`: on the calling thread — for short-lived commands, where nothing else waits on the loop.
   */
  writer?: 'thread' | 'inline'
  /** How often to look for commits made by other processes (ms). */
  pollMs?: number
  /** Called after each group commit with its number of inserts and duration (metrics). */
  onCommit?: (inserts: number, seconds: number) => void
}

/** A wall clock read through a monotonic one: a step of more than 2 s is reported (once) to `onJump`. */
function steadyClock (clock: { wall: () => number, mono: () => number }, onJump: (deltaMs: number) => void): () => number {
  let anchorWall = clock.wall()
  let anchorMono = clock.mono()
  return () => {
    const actual = clock.wall()
    const mono = clock.mono()
    const jump = actual - (anchorWall + (mono - anchorMono))
    if (Math.abs(jump) > 2000) {
      anchorWall = actual
      anchorMono = mono
      onJump(jump)
    }
    return actual
  }
}

/** Starts the writer thread: compiled JavaScript in production; from the sources (tests) through tsx's loader. */
function spawnWriter (init: WriterInit): Worker {
  // The writer holds a batch at a time: a small heap keeps its isolate from growing like the main one.
  const resourceLimits = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 }
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./writer.js', import.meta.url), { workerData: init, resourceLimits })
  const tsx = import.meta.resolve('tsx/esm/api')
  const writer = new URL('./writer.ts', import.meta.url).href
  return new Worker(`import(${JSON.stringify(tsx)}).then(m => { m.register(); return import(${JSON.stringify(writer)}) })`, { eval: true, workerData: init, resourceLimits })
}

interface Pending {
  op: WriteOp
  resolve: (value: any) => void
  reject: (e: Error) => void
}

/** Carries out a batch of writes: on the writer thread, or inline. */
interface Committer {
  send (req: WriterRequest): void
  close (): Promise<void>
}

/**
 * SQLite: WAL, synchronous=FULL (every commit fsync'd). Every write — webhook inserts and the worker's
 * transitions alike — joins a group commit: the writes that arrive while the previous batch commits share
 * the next transaction and fsync, and each caller is answered only after that commit. Reads run on this
 * thread's own connection (WAL readers never wait for the writer).
 */
export function createSqliteStore (options: SqliteStoreOptions): Store {
  const now = options.now ?? steadyClock(options.clock ?? { wall: Date.now, mono: () => performance.now() }, delta => {
    // First in the next batch, before any claim could read the unshifted times.
    pending.unshift({ op: { op: 'shiftDue', deltaMs: delta }, resolve: () => undefined, reject: () => undefined })
    schedule()
  })
  const busyTimeoutMs = options.busyTimeoutMs ?? 2000
  const file = options.file
  const db = openDatabase(file, busyTimeoutMs)
  try {
    migrate(db)
  } catch (err) {
    db.close()
    throw err
  }
  const identity = file === ':memory:' ? undefined : fileIdentity(file)

  // Reads. The queue's reads name their partial index (the planner has no statistics to find it).
  const r = {
    get: db.prepare('SELECT * FROM alerts WHERE id = ?'),
    events: db.prepare('SELECT at, state, note FROM alert_events WHERE alert_seq = ? ORDER BY rowid'),
    receipt: db.prepare('SELECT seq, received_at, test FROM alerts WHERE id = ?'),
    countState: db.prepare('SELECT state, count(*) AS n FROM alerts GROUP BY state'),
    countOutcome: db.prepare('SELECT outcome, count(*) AS n FROM alerts WHERE outcome IS NOT NULL GROUP BY outcome'),
    // seq is the rowid: the oldest of each state is the first entry of alerts_state for it.
    oldestQueued: db.prepare(`SELECT received_at AS t FROM alerts WHERE seq = (SELECT min(s) FROM (
        SELECT min(seq) AS s FROM alerts WHERE state = 'queued' UNION ALL SELECT min(seq) FROM alerts WHERE state = 'retrying'))`),
    nextDue: db.prepare('SELECT min(due_at) AS t FROM alerts INDEXED BY alerts_due WHERE due_at IS NOT NULL'),
    owners: db.prepare('SELECT DISTINCT lease_owner AS owner FROM alerts INDEXED BY alerts_leased WHERE state = \'processing\' AND lease_owner IS NOT NULL'),
    getExposure: db.prepare('SELECT details FROM exposures WHERE exposure_id = ? AND fetched_at >= ?'),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    stepsOf: db.prepare('SELECT steps.* FROM steps JOIN alerts ON alerts.seq = steps.alert_seq WHERE alerts.id = ? ORDER BY steps.seq'),
    summaryCounts: db.prepare(`SELECT outcome, count(*) AS n FROM alerts INDEXED BY alerts_finished
      WHERE completed_at IS NOT NULL AND purged_at IS NULL AND completed_at >= ? AND completed_at < ? GROUP BY outcome`),
    summaryFirst: db.prepare(`SELECT * FROM alerts INDEXED BY alerts_finished
      WHERE completed_at IS NOT NULL AND purged_at IS NULL AND completed_at >= ? AND completed_at < ? ORDER BY completed_at LIMIT ?`),
    countOf: db.prepare('SELECT count(*) AS n FROM alerts WHERE state = ?'),
    report: db.prepare(`SELECT steps.*, alerts.id AS alert_id, alerts.exposure_id AS exposure_id, alerts.received_at AS received_at
      FROM steps JOIN alerts ON alerts.seq = steps.alert_seq
      WHERE alerts.received_at >= @since AND (@tenant IS NULL OR steps.tenant_id = @tenant)
      ORDER BY alerts.seq DESC, steps.seq`)
  }

  const listeners = new Set<() => void>()
  const emit = (): void => { for (const l of listeners) l() }
  let closed = false

  // Group commit: one batch in flight on the committer; the next gathers here meanwhile.
  let pending: Pending[] = []
  let inFlight: Pending[] | undefined
  let scheduled = false
  let seq = 0
  let drained: (() => void) | undefined

  const committer: Committer = options.writer === 'inline' ? inlineCommitter() : threadCommitter()

  function inlineCommitter (): Committer {
    const run = createOperations(db)
    return {
      send (req) {
        const started = process.hrtime.bigint()
        let reply: WriterReply
        try {
          if (identity !== undefined && fileIdentity(file) !== identity) throw new Error(`the database file ${file} was removed or replaced`)
          reply = { seq: req.seq, outcome: run(req.ops, req.at), seconds: Number(process.hrtime.bigint() - started) / 1e9 }
        } catch (err) {
          reply = { seq: req.seq, error: (err as Error).message }
        }
        queueMicrotask(() => settle(reply))
      },
      async close () {}
    }
  }

  function threadCommitter (): Committer {
    let writer: Worker | undefined
    function start (): Worker {
      const w = spawnWriter({ file, busyTimeoutMs, identity })
      w.on('message', (reply: WriterReply) => settle(reply))
      w.on('error', err => fail(err))
      w.on('exit', code => {
        if (writer !== w) return
        writer = undefined
        if (code !== 0 || inFlight !== undefined) fail(new Error(`store writer exited (${code})`))
      })
      w.unref()
      return w
    }
    return {
      send (req) {
        writer ??= start()
        writer.ref() // keep the process up while a commit is owed
        writer.postMessage(req)
      },
      async close () {
        const w = writer
        writer = undefined
        if (w === undefined) return
        const exited = new Promise(resolve => w.once('exit', resolve))
        w.ref()
        w.postMessage('close')
        await exited
      }
    }
  }

  function send (): void {
    scheduled = false
    if (inFlight !== undefined || pending.length === 0) { checkDrained(); return }
    const at = now() // before the batch is taken: a clock jump it notices joins this batch, first
    inFlight = pending
    pending = []
    committer.send({ seq: ++seq, at, ops: inFlight.map(p => p.op) })
  }

  function schedule (): void {
    if (scheduled) return
    scheduled = true
    // Everything that arrives before the event loop's check phase joins this batch.
    setImmediate(send)
  }

  function settle (reply: WriterReply): void {
    const batch = inFlight
    inFlight = undefined
    if (batch === undefined || reply.seq !== seq) return
    if ('error' in reply) {
      const e = new StoreUnavailableError(new Error(reply.error))
      for (const p of batch) p.reject(e)
    } else {
      const outcome: BatchOutcome = reply.outcome
      if (outcome.inserts > 0) options.onCommit?.(outcome.inserts, reply.seconds)
      batch.forEach((p, i) => {
        const res = outcome.results[i]!
        if (res.ok) p.resolve(res.value)
        else p.reject(new StoreUnavailableError(new Error(res.error)))
      })
      if (outcome.wake) emit()
    }
    send()
  }

  function fail (err: Error): void {
    const e = new StoreUnavailableError(err)
    for (const p of [...(inFlight ?? []), ...pending]) p.reject(e)
    inFlight = undefined
    pending = []
    checkDrained()
  }

  function checkDrained (): void {
    if (drained !== undefined && inFlight === undefined && pending.length === 0) drained()
  }

  function write<T> (op: WriteOp): Promise<T> {
    if (closed) return Promise.reject(new StoreUnavailableError(new Error('store closed')))
    return new Promise<T>((resolve, reject) => {
      pending.push({ op, resolve, reject })
      schedule()
    })
  }

  /** A read on this thread's connection; any failure is the store being unavailable. */
  function read<T> (fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn())
    } catch (err) {
      return Promise.reject(new StoreUnavailableError(err, 'the alert store cannot be read'))
    }
  }

  // Commits by other processes (a CLI replay, a second bridge on this file): data_version moves.
  let dataVersion = db.pragma('data_version', { simple: true }) as number
  const poll = setInterval(() => {
    if (listeners.size === 0 || closed) return
    try {
      const v = db.pragma('data_version', { simple: true }) as number
      if (v !== dataVersion) { dataVersion = v; emit() }
    } catch {}
  }, options.pollMs ?? 1000)
  poll.unref()

  return {
    kind: 'sqlite',
    location: file,
    alerts: {
      insert: (alert, meta = {}) => write<InsertResult>({ op: 'insert', row: insertRow(alert, meta.sourceIp) }),
      get: id => read(() => {
        const row = r.get.get(id) as SqliteRow | undefined
        return row === undefined ? undefined : mapper.record(row)
      }),
      events: id => read(() => {
        const receipt = r.receipt.get(id) as SqliteReceiptRow | undefined
        if (receipt === undefined) return []
        return mapper.history(receipt, r.events.all(receipt.seq) as SqliteEventRow[])
      }),
      list: (options: ListOptions = {}) => read(() => {
        const params: unknown[] = []
        const where = listFilter(options, v => { params.push(v); return '?' }, ms => ms)
        params.push(options.limit ?? 50)
        return (db.prepare(`SELECT * FROM alerts ${where} ORDER BY seq DESC LIMIT ?`).all(...params) as SqliteRow[]).map(mapper.record)
      }),
      countByState: () => read(() => countsByState(r.countState.all() as Array<{ state: AlertState, n: number }>)),
      countByOutcome: () => read(() => countsByOutcome(r.countOutcome.all() as Array<{ outcome: string, n: number }>)),
      summary: (fromMs, toMs, first) => read((): Summary => {
        const byOutcome = r.summaryCounts.all(fromMs, toMs) as Array<{ outcome: string | null, n: number }>
        const alerts = (r.summaryFirst.all(fromMs, toMs, first) as SqliteRow[]).map(mapper.record)
        const count = (state: string): number => (r.countOf.get(state) as { n: number }).n
        return summaryOf(byOutcome, alerts, { dead: count('dead'), waiting: count('waiting') })
      }),
      purge: ({ olderThanMs }) => purgeInSlices(limit => write<number>({ op: 'purge', olderThanMs, limit }))
    },
    queue: {
      claim: async (owner, limit, leaseMs) =>
        (await write<SqliteClaimedRow[]>({ op: 'claim', owner, limit, leaseMs })).map(row => mapper.claimed(row, row.planned)),
      renew: (owner, leaseMs) => write({ op: 'renew', owner, leaseMs }),
      finish: (l, result) => write({ op: 'finish', lease: l, result }),
      retry: (l, delayMs, error, actions) => write({ op: 'retry', lease: l, delayMs, error, actions }),
      kill: (l, reason, actions, extra = {}) => write({ op: 'kill', lease: l, reason, actions, outcome: extra.outcome, users: extra.users }),
      release: (l, refund) => write({ op: 'release', lease: l, refund }),
      wait: (l, dueInMs, users, actions, note) => write({ op: 'wait', lease: l, dueInMs, users, actions, note }),
      async takeover (alertId, owner, leaseMs) {
        const row = await write<SqliteRow | 'busy' | undefined>({ op: 'takeover', alertId, owner, leaseMs })
        return row === undefined || row === 'busy' ? row : mapper.claimed(row, true)
      },
      releaseAll: (owner, note, refund) => write({ op: 'releaseAll', owner, note, refund }),
      leaseOwners: () => read(() => (r.owners.all() as Array<{ owner: string }>).map(o => o.owner)),
      replay: ids => write({ op: 'replay', ids }),
      expedite: () => write({ op: 'expedite' }),
      oldestQueuedAge: () => read(() => {
        const t = (r.oldestQueued.get() as { t: number } | undefined)?.t
        return t === undefined ? undefined : Math.max(0, (now() - t) / 1000)
      }),
      nextDueIn: () => read(() => {
        const t = (r.nextDue.get() as { t: number | null }).t
        return t === null ? undefined : t - now()
      })
    },
    steps: {
      async plan (l, steps) {
        const rows = await write<SqliteStepRow[] | undefined>({ op: 'plan', lease: l, steps })
        return rows?.map(mapper.step)
      },
      list: alertId => read(() => (r.stepsOf.all(alertId) as SqliteStepRow[]).map(mapper.step)),
      update: (l, stepId, change) => write({ op: 'stepUpdate', lease: l, stepId, change }),
      report: ({ sinceMs, tenantId, limit = 1000 }) => read(() => groupReport(
        r.report.iterate({ since: sinceMs ?? 0, tenant: tenantId ?? null }) as Iterable<SqliteReportRow>, mapper.reportEntry, limit))
    },
    changes: {
      subscribe (listener) {
        listeners.add(listener)
        return () => { listeners.delete(listener) }
      }
    },
    kv: {
      get: key => read(() => (r.getMeta.get(key) as { value: string } | undefined)?.value),
      set: (key, value) => write({ op: 'kvSet', key, value }),
      putIfAbsent: (key, value) => write({ op: 'kvPutIfAbsent', key, value })
    },
    outbox: {
      add: (key, kind, payload) => write({ op: 'outboxAdd', key, kind, payload: JSON.stringify(payload) }),
      async claim (owner, limit, leaseMs) {
        return (await write<SqliteOutboxRow[]>({ op: 'outboxClaim', owner, limit, leaseMs })).map(mapper.outboxItem)
      },
      sent: l => write({ op: 'outboxSent', lease: l }),
      retry: (l, delayMs, error) => write({ op: 'outboxRetry', lease: l, delayMs, error })
    },
    exposures: {
      get: (exposureId, maxAgeMs) => read(() => {
        const row = r.getExposure.get(exposureId, now() - maxAgeMs) as { details: string } | undefined
        return row === undefined ? undefined : mapper.json<ExposureDetails>(row.details)
      }),
      put: (exposureId, details) => write({ op: 'exposurePut', exposureId, details })
    },
    async ping () {
      if (identity !== undefined && fileIdentity(file) !== identity) {
        throw new StoreUnavailableError(new Error(`the database file ${file} was removed or replaced`))
      }
      await write({ op: 'kvSet', key: KV.ping, value: String(now()) })
    },
    async close () {
      if (closed) return
      closed = true
      clearInterval(poll)
      listeners.clear()
      // Every write already accepted gets its commit (or its error) before the connections close.
      if (inFlight !== undefined || pending.length > 0) {
        await new Promise<void>(resolve => { drained = resolve; if (!scheduled) send() })
      }
      await committer.close()
      db.close()
    }
  }
}
