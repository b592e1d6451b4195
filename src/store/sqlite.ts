import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import type { BreachAlert, ExposureDetails } from '../intake/alert.js'
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

/** Schema migrations; index + 1 = PRAGMA user_version after it ran. Append only. */
const MIGRATIONS = [
  `CREATE TABLE alerts (
     seq               INTEGER PRIMARY KEY AUTOINCREMENT,
     id                TEXT NOT NULL UNIQUE,
     idempotency_key   TEXT NOT NULL UNIQUE,
     test              INTEGER NOT NULL,
     state             TEXT NOT NULL,
     received_at       INTEGER NOT NULL,
     updated_at        INTEGER NOT NULL,
     exposure_id       TEXT,
     email             TEXT,
     username_hash     TEXT,
     custom_data       TEXT,
     exposure_date     TEXT,
     had_password      INTEGER NOT NULL,
     password_type     INTEGER,
     password_type_name TEXT,
     exposure_details  TEXT,
     extra             TEXT,
     warnings          TEXT,
     source_ip         TEXT,
     deliveries        INTEGER NOT NULL DEFAULT 1,
     last_delivery_at  INTEGER,
     attempts          INTEGER NOT NULL DEFAULT 0,
     next_attempt_at   INTEGER,
     lease_owner       TEXT,
     lease_until       INTEGER,
     outcome           TEXT,
     users             TEXT,
     actions           TEXT,
     last_error        TEXT,
     completed_at      INTEGER
   );
   CREATE INDEX alerts_due ON alerts (state, next_attempt_at);
   CREATE INDEX alerts_lease ON alerts (state, lease_until);
   CREATE INDEX alerts_email ON alerts (email);
   CREATE TABLE alert_events (
     alert_seq INTEGER NOT NULL REFERENCES alerts (seq),
     at        INTEGER NOT NULL,
     state     TEXT NOT NULL,
     note      TEXT
   );
   CREATE INDEX alert_events_alert ON alert_events (alert_seq);
   CREATE TABLE exposures (
     exposure_id TEXT PRIMARY KEY,
     details     TEXT NOT NULL,
     fetched_at  INTEGER NOT NULL
   );
   CREATE TABLE meta (
     key   TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`
]

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

/** Time-ordered ids (UUIDv7 layout): sortable in listings, unguessable. */
function newId (now: number): string {
  const b = randomBytes(16)
  b.writeUIntBE(now, 0, 6)
  b[6] = (b[6]! & 0x0f) | 0x70
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

interface Pending {
  alert: BreachAlert
  sourceIp?: string
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
  if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true })
  const db = new Database(options.file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.pragma('foreign_keys = ON')
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 2000}`)
  migrate(db)

  const s = {
    insert: db.prepare(`INSERT INTO alerts (id, idempotency_key, test, state, received_at, updated_at, exposure_id, email,
        username_hash, custom_data, exposure_date, had_password, password_type, password_type_name, exposure_details, extra,
        warnings, source_ip, last_delivery_at, next_attempt_at, outcome, completed_at)
      VALUES (@id, @key, @test, @state, @now, @now, @exposureId, @email, @usernameHash, @customData, @exposureDate, @hadPassword,
        @passwordType, @passwordTypeName, @exposureDetails, @extra, @warnings, @sourceIp, @now, @nextAttemptAt, @outcome, @completedAt)
      ON CONFLICT (idempotency_key) DO NOTHING`),
    duplicate: db.prepare(`UPDATE alerts SET deliveries = deliveries + 1, last_delivery_at = ?
      WHERE idempotency_key = ? RETURNING seq, id, test`),
    event: db.prepare('INSERT INTO alert_events (alert_seq, at, state, note) VALUES (?, ?, ?, ?)'),
    eventById: db.prepare('INSERT INTO alert_events (alert_seq, at, state, note) SELECT seq, ?, ?, ? FROM alerts WHERE id = ?'),
    get: db.prepare('SELECT * FROM alerts WHERE id = ?'),
    events: db.prepare(`SELECT e.at, e.state, e.note FROM alert_events e JOIN alerts a ON a.seq = e.alert_seq
      WHERE a.id = ? ORDER BY e.rowid`),
    listAll: db.prepare('SELECT * FROM alerts ORDER BY seq DESC LIMIT ?'),
    listState: db.prepare('SELECT * FROM alerts WHERE state = ? ORDER BY seq DESC LIMIT ?'),
    countState: db.prepare('SELECT state, count(*) AS n FROM alerts GROUP BY state'),
    countOutcome: db.prepare('SELECT outcome, count(*) AS n FROM alerts WHERE outcome IS NOT NULL GROUP BY outcome'),
    claim: db.prepare(`UPDATE alerts SET state = 'processing', lease_owner = @owner, lease_until = @until,
        attempts = attempts + 1, updated_at = @now
      WHERE seq IN (
        SELECT seq FROM alerts WHERE state IN ('queued', 'retrying') AND next_attempt_at <= @now
        UNION ALL
        SELECT seq FROM alerts WHERE state = 'processing' AND lease_until <= @now
        LIMIT @limit)
      RETURNING *`),
    nextDue: db.prepare(`SELECT min(t) AS t FROM (
        SELECT min(next_attempt_at) AS t FROM alerts WHERE state IN ('queued', 'retrying')
        UNION ALL SELECT min(lease_until) FROM alerts WHERE state = 'processing')`),
    finish: db.prepare(`UPDATE alerts SET state = 'done', outcome = @outcome, users = @users, actions = @actions,
        lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL, completed_at = @now, updated_at = @now, last_error = NULL
      WHERE id = @id AND lease_owner = @owner AND state = 'processing'`),
    retry: db.prepare(`UPDATE alerts SET state = 'retrying', next_attempt_at = @next, last_error = @error, actions = @actions,
        lease_owner = NULL, lease_until = NULL, updated_at = @now
      WHERE id = @id AND lease_owner = @owner AND state = 'processing'`),
    kill: db.prepare(`UPDATE alerts SET state = 'dead', outcome = 'failed', last_error = @error, actions = @actions,
        lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL, completed_at = @now, updated_at = @now
      WHERE id = @id AND lease_owner = @owner AND state = 'processing'`),
    release: db.prepare(`UPDATE alerts SET state = CASE WHEN attempts - @refund > 0 THEN 'retrying' ELSE 'queued' END,
        attempts = attempts - @refund, next_attempt_at = @now, lease_owner = NULL, lease_until = NULL, updated_at = @now
      WHERE id = @id AND lease_owner = @owner AND state = 'processing'`),
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

  let pending: Pending[] = []
  let scheduled = false
  let closed = false
  const listeners: Array<() => void> = []
  let dataVersion = db.pragma('data_version', { simple: true }) as number

  const insertBatch = db.transaction((batch: Pending[], at: number): InsertResult[] => {
    return batch.map(({ alert, sourceIp }) => {
      const id = newId(at)
      // Test alerts need no remediation: they are stored already finished with outcome `test`.
      const state: AlertState = alert.test ? 'done' : 'queued'
      const info = s.insert.run({
        id,
        key: alert.idempotencyKey,
        test: alert.test ? 1 : 0,
        state,
        now: at,
        exposureId: alert.exposureId ?? null,
        email: alert.email ?? null,
        usernameHash: alert.usernameHash ?? null,
        customData: alert.customData ?? null,
        exposureDate: alert.exposureDate ?? null,
        hadPassword: alert.hadPassword ? 1 : 0,
        passwordType: alert.passwordType ?? null,
        passwordTypeName: alert.passwordTypeName ?? null,
        exposureDetails: alert.exposureDetails === undefined ? null : JSON.stringify(alert.exposureDetails),
        extra: alert.extra === undefined ? null : JSON.stringify(alert.extra),
        warnings: alert.warnings.length === 0 ? null : JSON.stringify(alert.warnings),
        sourceIp: sourceIp ?? null,
        nextAttemptAt: alert.test ? null : at,
        outcome: alert.test ? 'test' : null,
        completedAt: alert.test ? at : null
      })
      if (info.changes === 1) {
        s.event.run(info.lastInsertRowid, at, 'queued', 'received')
        if (alert.test) s.event.run(info.lastInsertRowid, at, 'done', 'test alert: no action')
        return { id, duplicate: false, test: alert.test }
      }
      const dup = s.duplicate.get(at, alert.idempotencyKey) as { seq: number, id: string, test: number }
      return { id: dup.id, duplicate: true, test: dup.test === 1 }
    })
  })

  function flush (): void {
    scheduled = false
    const batch = pending
    pending = []
    if (batch.length === 0) return
    const started = process.hrtime.bigint()
    let results: InsertResult[]
    try {
      results = insertBatch(batch, now())
    } catch (err) {
      const e = new StoreUnavailableError(err)
      for (const p of batch) p.reject(e)
      return
    }
    options.onCommit?.(batch.length, Number(process.hrtime.bigint() - started) / 1e9)
    batch.forEach((p, i) => p.resolve(results[i]!))
    if (results.some(r => !r.duplicate && !r.test)) for (const l of listeners) l()
  }

  function transition (id: string, owner: string, stmt: Database.Statement, params: Record<string, unknown>, state: AlertState, note?: string): boolean {
    return db.transaction(() => {
      const at = now()
      const changed = stmt.run({ id, owner, now: at, ...params }).changes === 1
      if (changed) s.eventById.run(at, state, note ?? null, id)
      return changed
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
          setImmediate(flush)
        }
      })
    },
    get (id) {
      const r = s.get.get(id) as Row | undefined
      return r === undefined ? undefined : toRecord(r)
    },
    events (id) {
      return (s.events.all(id) as Array<{ at: number, state: AlertState, note: string | null }>)
        .map(e => ({ at: iso(e.at)!, state: e.state, note: opt(e.note) } satisfies AlertEvent))
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
      }, 'done', result.note ?? `outcome ${result.outcome}`)
    },
    retry (id, owner, nextAttemptAt, error, actions: ActionLogEntry[]) {
      return transition(id, owner, s.retry, { next: nextAttemptAt, error: truncate(error), actions: JSON.stringify(actions) },
        'retrying', truncate(error))
    },
    kill (id, owner, reason, actions) {
      return transition(id, owner, s.kill, { error: truncate(reason), actions: JSON.stringify(actions) }, 'dead', truncate(reason))
    },
    release (id, owner, refund) {
      return transition(id, owner, s.release, { refund: refund ? 1 : 0 }, 'queued', refund ? 'released (worker paused)' : 'released')
    },
    releaseAll (owner, refund = true) {
      const ids = (s.leasedBy.all(owner) as Array<{ id: string }>).map(r => r.id)
      let n = 0
      const note = refund ? 'released at shutdown' : `released: lease holder ${owner} is gone`
      for (const id of ids) if (transition(id, owner, s.release, { refund: refund ? 1 : 0 }, 'queued', note)) n++
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
      flush()
      db.close()
    }
  }
}

function migrate (db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number
  if (version > MIGRATIONS.length) {
    throw new Error(`database schema version ${version} is newer than this bridge (${MIGRATIONS.length}): upgrade the bridge`)
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!)
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
}
