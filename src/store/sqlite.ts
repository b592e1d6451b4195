import { Worker } from 'node:worker_threads'
import type Database from 'better-sqlite3'
import type { ExposureDetails } from '../intake/alert.js'
import { migrate, openDatabase, type PendingInsert } from './schema.js'
import type { WriterInit, WriterReply, WriterRequest } from './writer.js'
import {
  ALERT_STATES,
  StoreUnavailableError,
  type ActionLogEntry, type AlertEvent, type AlertRecord, type AlertState, type AlertStore,
  type Finish, type InsertResult, type ListOptions
} from './types.js'

export interface SqliteStoreOptions {
  /** Path to the database file; its folder is created. */
  file: string
  /** Epoch-ms clock (tests move time). */
  now?: () => number
  /** How long a write waits for another connection's lock before failing (ms). */
  busyTimeoutMs?: number
  /** Called after each group commit with its size and duration (metrics). */
  onCommit?: (batchSize: number, seconds: number) => void
}

interface Row {
  seq: number
  id: string
  test: number
  state: AlertState
  received_at: number
  updated_at: number
  exposure_id: string | null
  email: string | null
  username_hash: string | null
  custom_data: string | null
  exposure_date: string | null
  had_password: number
  password_type: number | null
  password_type_name: string | null
  exposure_details: string | null
  extra: string | null
  warnings: string | null
  source_ip: string | null
  deliveries: number
  attempts: number
  next_attempt_at: number | null
  lease_owner: string | null
  lease_until: number | null
  outcome: string | null
  users: string | null
  actions: string | null
  last_error: string | null
  completed_at: number | null
}

const iso = (ms: number | null): string | undefined => ms === null ? undefined : new Date(ms).toISOString()
const opt = <T>(v: T | null): T | undefined => v === null ? undefined : v
const json = <T>(v: string | null, fallback: T): T => v === null ? fallback : JSON.parse(v) as T

function toRecord (r: Row): AlertRecord {
  return {
    id: r.id,
    test: r.test === 1,
    state: r.state,
    receivedAt: iso(r.received_at)!,
    updatedAt: iso(r.updated_at)!,
    exposureId: opt(r.exposure_id),
    email: opt(r.email),
    usernameHash: opt(r.username_hash),
    customData: opt(r.custom_data),
    exposureDate: opt(r.exposure_date),
    hadPassword: r.had_password === 1,
    passwordType: opt(r.password_type),
    passwordTypeName: opt(r.password_type_name),
    exposureDetails: json(r.exposure_details, undefined),
    extra: json(r.extra, undefined),
    warnings: json(r.warnings, []),
    sourceIp: opt(r.source_ip),
    deliveries: r.deliveries,
    attempts: r.attempts,
    nextAttemptAt: iso(r.next_attempt_at),
    leaseOwner: opt(r.lease_owner),
    leaseUntil: iso(r.lease_until),
    outcome: opt(r.outcome) as AlertRecord['outcome'],
    users: json(r.users, []),
    actions: json(r.actions, []),
    lastError: opt(r.last_error),
    completedAt: iso(r.completed_at)
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

interface Pending extends PendingInsert {
  resolve: (r: InsertResult) => void
  reject: (e: Error) => void
}

/**
 * SQLite implementation: WAL, synchronous=FULL (every commit fsync'd), and group commit — inserts that
 * arrive in the same turn of the event loop share one transaction and one fsync, and each caller is
 * answered only after that commit.
 */
export function createSqliteStore (options: SqliteStoreOptions): AlertStore {
  const now = options.now ?? Date.now
  const busyTimeoutMs = options.busyTimeoutMs ?? 2000
  const db = openDatabase(options.file, busyTimeoutMs)
  migrate(db)

  // The worker's queries name their partial index: without statistics the planner would pick
  // alerts_state and walk every queued row on each claim.
  const s = {
    event: db.prepare('INSERT INTO alert_events (alert_seq, at, state, note) VALUES (?, ?, ?, ?)'),
    eventById: db.prepare('INSERT INTO alert_events (alert_seq, at, state, note) SELECT seq, ?, ?, ? FROM alerts WHERE id = ?'),
    get: db.prepare('SELECT * FROM alerts WHERE id = ?'),
    events: db.prepare('SELECT at, state, note FROM alert_events WHERE alert_seq = ? ORDER BY rowid'),
    receipt: db.prepare('SELECT seq, received_at, test FROM alerts WHERE id = ?'),
    listAll: db.prepare('SELECT * FROM alerts ORDER BY seq DESC LIMIT ?'),
    listState: db.prepare('SELECT * FROM alerts WHERE state = ? ORDER BY seq DESC LIMIT ?'),
    countState: db.prepare('SELECT state, count(*) AS n FROM alerts GROUP BY state'),
    countOutcome: db.prepare('SELECT outcome, count(*) AS n FROM alerts WHERE outcome IS NOT NULL GROUP BY outcome'),
    claim: db.prepare(`UPDATE alerts SET state = 'processing', lease_owner = @owner, lease_until = @until,
        attempts = attempts + 1, updated_at = @now
      WHERE seq IN (
        SELECT seq FROM alerts INDEXED BY alerts_due WHERE state IN ('queued', 'retrying') AND next_attempt_at <= @now
        UNION ALL
        SELECT seq FROM alerts INDEXED BY alerts_lease WHERE state = 'processing' AND lease_until <= @now
        LIMIT @limit)
      RETURNING *`),
    nextDue: db.prepare(`SELECT min(t) AS t FROM (
        SELECT min(next_attempt_at) AS t FROM alerts INDEXED BY alerts_due WHERE state IN ('queued', 'retrying')
        UNION ALL SELECT min(lease_until) FROM alerts INDEXED BY alerts_lease WHERE state = 'processing')`),
    finish: db.prepare(`UPDATE alerts SET state = 'done', outcome = @outcome, users = @users, actions = @actions,
        lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL, completed_at = @now, updated_at = @now, last_error = NULL
      WHERE id = @id AND lease_owner = @owner AND state = 'processing' RETURNING seq, state`),
    retry: db.prepare(`UPDATE alerts SET state = 'retrying', next_attempt_at = @next, last_error = @error, actions = @actions,
        lease_owner = NULL, lease_until = NULL, updated_at = @now
      WHERE id = @id AND lease_owner = @owner AND state = 'processing' RETURNING seq, state`),
    kill: db.prepare(`UPDATE alerts SET state = 'dead', outcome = 'failed', last_error = @error, actions = @actions,
        lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL, completed_at = @now, updated_at = @now
      WHERE id = @id AND lease_owner = @owner AND state = 'processing' RETURNING seq, state`),
    release: db.prepare(`UPDATE alerts SET state = CASE WHEN attempts - @refund > 0 THEN 'retrying' ELSE 'queued' END,
        attempts = attempts - @refund, next_attempt_at = @now, lease_owner = NULL, lease_until = NULL, updated_at = @now
      WHERE id = @id AND lease_owner = @owner AND state = 'processing' RETURNING seq, state`),
    leasedBy: db.prepare('SELECT id FROM alerts WHERE lease_owner = ? AND state = \'processing\''),
    owners: db.prepare('SELECT DISTINCT lease_owner AS owner FROM alerts WHERE state = \'processing\' AND lease_owner IS NOT NULL'),
    replayOne: db.prepare(`UPDATE alerts SET state = 'queued', attempts = 0, next_attempt_at = @now, outcome = NULL,
        last_error = NULL, completed_at = NULL, updated_at = @now WHERE id = @id AND state = 'dead' RETURNING id`),
    deadIds: db.prepare('SELECT id FROM alerts WHERE state = \'dead\' ORDER BY seq'),
    getExposure: db.prepare('SELECT details FROM exposures WHERE exposure_id = ? AND fetched_at >= ?'),
    putExposure: db.prepare(`INSERT INTO exposures (exposure_id, details, fetched_at) VALUES (?, ?, ?)
      ON CONFLICT (exposure_id) DO UPDATE SET details = excluded.details, fetched_at = excluded.fetched_at`),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    delMeta: db.prepare('DELETE FROM meta WHERE key = ?')
  }

  const listeners: Array<() => void> = []
  let dataVersion = db.pragma('data_version', { simple: true }) as number
  let closed = false

  // Group commit on the writer thread: while one batch commits there (fsync included), the event loop
  // keeps answering and the next batch gathers here. Each caller is answered after its batch committed.
  let pending: Pending[] = []
  let inFlight: Pending[] | undefined
  let scheduled = false
  let seq = 0
  let writer: Worker | undefined
  let drained: (() => void) | undefined

  function startWriter (): Worker {
    const w = spawnWriter({ file: options.file, busyTimeoutMs })
    w.on('message', (reply: WriterReply) => settle(reply))
    w.on('error', err => fail(err))
    w.on('exit', code => { if (writer === w) { writer = undefined; if (code !== 0 || inFlight !== undefined) fail(new Error(`store writer exited (${code})`)) } })
    w.unref()
    return w
  }

  function send (): void {
    scheduled = false
    if (inFlight !== undefined || pending.length === 0) { checkDrained(); return }
    inFlight = pending
    pending = []
    writer ??= startWriter()
    writer.ref() // keep the process up while a commit is owed
    const req: WriterRequest = { seq: ++seq, at: now(), batch: inFlight.map(({ alert, sourceIp }) => ({ alert, sourceIp })) }
    writer.postMessage(req)
  }

  function settle (reply: WriterReply): void {
    const batch = inFlight
    inFlight = undefined
    writer?.unref()
    if (batch === undefined || reply.seq !== seq) return
    if ('error' in reply) {
      const e = new StoreUnavailableError(new Error(reply.error))
      for (const p of batch) p.reject(e)
    } else {
      options.onCommit?.(batch.length, reply.seconds)
      batch.forEach((p, i) => p.resolve(reply.results[i]!))
      if (reply.results.some(r => !r.duplicate && !r.test)) for (const l of listeners) l()
    }
    send()
  }

  function fail (err: Error): void {
    const e = new StoreUnavailableError(err)
    for (const p of [...(inFlight ?? []), ...pending]) p.reject(e)
    inFlight = undefined
    pending = []
    writer = undefined
    checkDrained()
  }

  function checkDrained (): void {
    if (drained !== undefined && inFlight === undefined && pending.length === 0) drained()
  }

  /** Runs a state change guarded by the lease and records the state it produced. */
  function transition (id: string, owner: string, stmt: Database.Statement, params: Record<string, unknown>, note: string): boolean {
    return db.transaction(() => {
      const at = now()
      const row = stmt.get({ id, owner, now: at, ...params }) as { seq: number, state: AlertState } | undefined
      if (row !== undefined) s.event.run(row.seq, at, row.state, note)
      return row !== undefined
    })()
  }

  const truncate = (text: string): string => text.length > 500 ? `${text.slice(0, 497)}...` : text

  return {
    insert (alert, meta = {}) {
      if (closed) return Promise.reject(new StoreUnavailableError(new Error('store closed')))
      return new Promise((resolve, reject) => {
        pending.push({ alert, sourceIp: meta.sourceIp, resolve, reject })
        if (!scheduled) {
          scheduled = true
          // Everything that arrives before the event loop's check phase joins this batch.
          setImmediate(send)
        }
      })
    },
    get (id) {
      const r = s.get.get(id) as Row | undefined
      return r === undefined ? undefined : toRecord(r)
    },
    events (id) {
      const r = s.receipt.get(id) as { seq: number, received_at: number, test: number } | undefined
      if (r === undefined) return []
      // Receipt (and, for a test alert, its immediate completion) is the row itself.
      const receipt: AlertEvent[] = [{ at: iso(r.received_at)!, state: 'queued', note: 'received' }]
      if (r.test === 1) receipt.push({ at: iso(r.received_at)!, state: 'done', note: 'test alert: no action' })
      return receipt.concat((s.events.all(r.seq) as Array<{ at: number, state: AlertState, note: string | null }>)
        .map(e => ({ at: iso(e.at)!, state: e.state, note: opt(e.note) })))
    },
    list ({ state, limit = 50 }: ListOptions = {}) {
      const rows = (state === undefined ? s.listAll.all(limit) : s.listState.all(state, limit)) as Row[]
      return rows.map(toRecord)
    },
    countByState () {
      const out = Object.fromEntries(ALERT_STATES.map(k => [k, 0])) as Record<AlertState, number>
      for (const r of s.countState.all() as Array<{ state: AlertState, n: number }>) out[r.state] = r.n
      return out
    },
    countByOutcome () {
      return Object.fromEntries((s.countOutcome.all() as Array<{ outcome: string, n: number }>).map(r => [r.outcome, r.n]))
    },
    async ping () {
      try {
        s.setMeta.run('ping', String(now()))
      } catch (err) {
        throw new StoreUnavailableError(err)
      }
    },
    claim (owner, limit, leaseMs) {
      return db.transaction(() => {
        const at = now()
        const rows = s.claim.all({ owner, until: at + leaseMs, now: at, limit }) as Row[]
        for (const r of rows) s.event.run(r.seq, at, 'processing', `attempt ${r.attempts}`)
        return rows.map(toRecord)
      })()
    },
    nextDueAt () {
      const r = s.nextDue.get() as { t: number | null }
      return r.t ?? undefined
    },
    finish (id, owner, result: Finish) {
      return transition(id, owner, s.finish, {
        outcome: result.outcome,
        users: JSON.stringify(result.users),
        actions: JSON.stringify(result.actions)
      }, result.note ?? `outcome ${result.outcome}`)
    },
    retry (id, owner, nextAttemptAt, error, actions: ActionLogEntry[]) {
      return transition(id, owner, s.retry, { next: nextAttemptAt, error: truncate(error), actions: JSON.stringify(actions) }, truncate(error))
    },
    kill (id, owner, reason, actions) {
      return transition(id, owner, s.kill, { error: truncate(reason), actions: JSON.stringify(actions) }, truncate(reason))
    },
    release (id, owner, refund) {
      return transition(id, owner, s.release, { refund: refund ? 1 : 0 }, refund ? 'released (attempt not counted)' : 'released')
    },
    releaseAll (owner, refund = true) {
      const ids = (s.leasedBy.all(owner) as Array<{ id: string }>).map(r => r.id)
      let n = 0
      const note = refund ? 'released at shutdown' : `released: lease holder ${owner} is gone`
      for (const id of ids) if (transition(id, owner, s.release, { refund: refund ? 1 : 0 }, note)) n++
      return n
    },
    leaseOwners () {
      return (s.owners.all() as Array<{ owner: string }>).map(r => r.owner)
    },
    replay (ids) {
      return db.transaction(() => {
        const at = now()
        const targets = ids === 'dead' ? (s.deadIds.all() as Array<{ id: string }>).map(r => r.id) : ids
        const moved: string[] = []
        for (const id of targets) {
          if (s.replayOne.get({ id, now: at }) !== undefined) {
            s.eventById.run(at, 'queued', 'replayed', id)
            moved.push(id)
          }
        }
        return moved
      })()
    },
    onInsert (listener) {
      listeners.push(listener)
    },
    changedElsewhere () {
      const v = db.pragma('data_version', { simple: true }) as number
      const changed = v !== dataVersion
      dataVersion = v
      return changed
    },
    getExposure (exposureId, maxAgeMs) {
      const r = s.getExposure.get(exposureId, now() - maxAgeMs) as { details: string } | undefined
      return r === undefined ? undefined : JSON.parse(r.details) as ExposureDetails
    },
    putExposure (exposureId, details) {
      s.putExposure.run(exposureId, JSON.stringify(details), now())
    },
    getMeta (key) {
      return (s.getMeta.get(key) as { value: string } | undefined)?.value
    },
    setMeta (key, value) {
      if (value === undefined) s.delMeta.run(key)
      else s.setMeta.run(key, value)
    },
    async close () {
      if (closed) return
      closed = true
      // Every insert already accepted gets its commit (or its error) before the connections close.
      if (inFlight !== undefined || pending.length > 0) {
        await new Promise<void>(resolve => { drained = resolve; if (!scheduled) send() })
      }
      const w = writer
      writer = undefined
      if (w !== undefined) {
        const exited = new Promise(resolve => w.once('exit', resolve))
        w.ref()
        w.postMessage('close')
        await exited
      }
      db.close()
    }
  }
}
