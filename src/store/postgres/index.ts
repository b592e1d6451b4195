import pg from 'pg'
import type { AlertState, BreachAlert, ExposureDetails } from '../../alerts/types.js'
import { newId } from '../ids.js'
import {
  KV, SchemaVersionError, StoreUnavailableError, truncate,
  type InsertResult, type ListOptions, type Store
} from '../types.js'
import { countsByOutcome, countsByState, purgeInSlices, summaryOf } from '../shared/alerts.js'
import { listFilter } from '../shared/list-filter.js'
import { refusedTakeover } from '../shared/queue.js'
import { groupReport } from '../shared/report.js'
import { clientConfig, redactUrl, safeMessage, type PostgresOptions } from './connection.js'
import { CHANNEL, startListening } from './listen.js'
import { migrate, schemaVersion, SCHEMA_VERSION } from './migrate.js'
import { rows as mapper, type PgClaimedRow, type PgEventRow, type PgOutboxRow, type PgReceiptRow, type PgReportRow, type PgRow, type PgStepRow } from './rows.js'

export interface PostgresStoreOptions extends PostgresOptions {
  /** `apply` (serve, migrate): bring the schema up to date. `require`: refuse a schema that is not current. */
  migrations?: 'apply' | 'require'
  /** Backstop poll of the change feed (ms). */
  pollMs?: number
  /** Insert batches committing at once (each on its own connection). */
  batchesInFlight?: number
  onCommit?: (inserts: number, seconds: number) => void
  /** Errors of idle or listening connections (a restart of PostgreSQL): logged, never fatal. */
  onConnectionError?: (err: Error) => void
  /**
   * The worker's bookkeeping (claims, steps, transitions, the outbox) commits without waiting for the WAL
   * flush (`synchronous_commit = off`). A crash of PostgreSQL may then forget the last few milliseconds of
   * it — the alert is processed again, and its actions are idempotent — but never an acknowledged alert:
   * webhook inserts always wait for the flush. Saves one disk flush per step on the hot path.
   */
  asyncWorkerCommits?: boolean
}

interface Pending {
  alert: BreachAlert
  sourceIp?: string
  resolve: (r: InsertResult) => void
  reject: (e: Error) => void
}

const ms = 'make_interval(secs => $MS::double precision / 1000)'
const interval = (param: number): string => ms.replace('$MS', `$${param}`)
const NOTIFY = `pg_notify('${CHANNEL}', '')`

const SQL = {
  insert: `INSERT INTO alerts (id, idempotency_key, test, state, exposure_id, email, username_hash, custom_data, exposure_date,
      had_password, password_type, password_type_name, exposure_details, extra, warnings, source_ip,
      last_delivery_at, due_at, outcome, completed_at)
    SELECT u.id, u.key, u.test, CASE WHEN u.test THEN 'done' ELSE 'queued' END, u.exposure_id, u.email, u.username_hash,
      u.custom_data, u.exposure_date, u.had_password, u.password_type, u.password_type_name, u.exposure_details::jsonb,
      u.extra::jsonb, u.warnings::jsonb, u.source_ip, now(),
      CASE WHEN u.test THEN NULL ELSE now() END, CASE WHEN u.test THEN 'test' END, CASE WHEN u.test THEN now() END
    FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
      $9::boolean[], $10::integer[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
      WITH ORDINALITY AS u(id, key, test, exposure_id, email, username_hash, custom_data, exposure_date,
      had_password, password_type, password_type_name, exposure_details, extra, warnings, source_ip, ord)
    ORDER BY u.ord
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, idempotency_key AS key, test`,
  // A separate statement, so it sees rows that concurrent transactions committed while the insert waited.
  duplicates: `UPDATE alerts a SET deliveries = a.deliveries + d.n, last_delivery_at = now()
    FROM unnest($1::text[], $2::integer[]) AS d(key, n) WHERE a.idempotency_key = d.key
    RETURNING a.id, a.idempotency_key AS key, a.test`,
  get: 'SELECT * FROM alerts WHERE id = $1',
  receipt: 'SELECT seq, received_at, test FROM alerts WHERE id = $1',
  events: 'SELECT at, state, note FROM alert_events WHERE alert_seq = $1 ORDER BY event_seq',
  countState: 'SELECT state, count(*)::integer AS n FROM alerts GROUP BY state',
  countOutcome: 'SELECT outcome, count(*)::integer AS n FROM alerts WHERE outcome IS NOT NULL GROUP BY outcome',
  // SKIP LOCKED: replicas claiming at once take different alerts; MATERIALIZED keeps the locked set fixed.
  claim: `WITH due AS MATERIALIZED (
      SELECT seq FROM alerts WHERE due_at <= now() ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE alerts a SET state = 'processing', lease_owner = $1, lease_token = a.lease_token + 1,
        due_at = now() + ${interval(3)}, attempts = a.attempts + 1, updated_at = now()
      FROM due WHERE a.seq = due.seq
      RETURNING a.*
    ), ev AS (
      INSERT INTO alert_events (alert_seq, state, note) SELECT seq, 'processing', 'attempt ' || attempts || ' by ' || $1 FROM claimed
    )
    SELECT claimed.*, EXISTS (SELECT 1 FROM steps WHERE steps.alert_seq = claimed.seq) AS planned FROM claimed ORDER BY due_at`,
  renew: `UPDATE alerts SET due_at = now() + ${interval(2)} WHERE lease_owner = $1 AND state = 'processing'`,
  leasedBy: 'SELECT id, lease_token FROM alerts WHERE lease_owner = $1 AND state = \'processing\'',
  owners: 'SELECT DISTINCT lease_owner AS owner FROM alerts WHERE state = \'processing\' AND lease_owner IS NOT NULL',
  oldestQueued: 'SELECT extract(epoch FROM now() - min(received_at))::float8 AS s FROM alerts WHERE state IN (\'queued\', \'retrying\')',
  nextDue: 'SELECT (extract(epoch FROM min(due_at) - now()) * 1000)::float8 AS ms FROM alerts WHERE due_at IS NOT NULL',
  replay: `WITH moved AS (
      UPDATE alerts SET state = 'queued', attempts = 0, due_at = now(), outcome = NULL, last_error = NULL,
        completed_at = NULL, updated_at = now()
      WHERE state = 'dead' AND purged_at IS NULL AND ($1::text[] IS NULL OR id = ANY ($1::text[]))
      RETURNING seq, id
    ), ev AS (
      INSERT INTO alert_events (alert_seq, state, note) SELECT seq, 'queued', 'replayed' FROM moved
    ), st AS (
      UPDATE steps SET state = 'pending', detail = 'replayed after: ' || coalesce(detail, 'failure'), due_at = now(), updated_at = now()
      WHERE alert_seq IN (SELECT seq FROM moved) AND state = 'failed'
    ), wake AS (SELECT ${NOTIFY} FROM (SELECT 1 FROM moved LIMIT 1) x)
    SELECT id, (SELECT count(*) FROM wake) AS w FROM moved`,
  expedite: `WITH moved AS (
      UPDATE alerts SET due_at = now(), updated_at = now() WHERE due_at > now() AND state = 'retrying' RETURNING 1
    ), wake AS (SELECT ${NOTIFY} FROM (SELECT 1 FROM moved LIMIT 1) x)
    SELECT (SELECT count(*) FROM moved)::integer AS n, (SELECT count(*) FROM wake) AS w`,
  takeover: `WITH t AS (
      UPDATE alerts SET state = 'processing', lease_owner = $2, lease_token = lease_token + 1,
        due_at = now() + ${interval(3)}, updated_at = now()
      WHERE id = $1 AND NOT (state = 'processing' AND due_at > now()) AND purged_at IS NULL
      RETURNING *
    ), ev AS (
      INSERT INTO alert_events (alert_seq, state, note) SELECT seq, 'processing', 'taken over by ' || $2 FROM t
    )
    SELECT * FROM t`,
  exists: 'SELECT 1 FROM alerts WHERE id = $1',
  // Steps change only under the alert's current lease: the lease check and the change are one statement.
  plan: `WITH a AS (SELECT seq FROM alerts WHERE id = $1 AND lease_token = $2 AND state = 'processing'),
    ins AS (
      INSERT INTO steps (alert_seq, user_id, tenant_id, email, action, phase, due_at, state, detail, result)
      SELECT a.seq, s.user_id, s.tenant_id, s.email, s.action, s.phase, now() + make_interval(secs => s.due_ms / 1000),
        CASE WHEN s.skipped IS NULL THEN 'pending' ELSE 'skipped' END, s.skipped,
        CASE WHEN s.verdict IS NULL THEN NULL ELSE jsonb_build_object('verdict', s.verdict) END
      FROM a, unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::double precision[], $9::text[], $10::text[])
        WITH ORDINALITY AS s(user_id, tenant_id, email, action, phase, due_ms, skipped, verdict, ord)
      ORDER BY s.ord
      ON CONFLICT (alert_seq, user_id, action) DO NOTHING
      RETURNING steps.*
    )
    SELECT * FROM ins ORDER BY seq`,
  leased: 'SELECT 1 FROM alerts WHERE id = $1 AND lease_token = $2 AND state = \'processing\'',
  stepsOf: 'SELECT steps.* FROM steps JOIN alerts ON alerts.seq = steps.alert_seq WHERE alerts.id = $1 ORDER BY steps.seq',
  stepUpdate: `UPDATE steps SET state = $4, detail = $5, http_status = $6, result = coalesce($7::jsonb, result),
      undo = coalesce($8::jsonb, undo), updated_at = now()
    WHERE seq = $3 AND alert_seq = (SELECT seq FROM alerts WHERE id = $1 AND lease_token = $2 AND state = 'processing')`,
  report: `SELECT steps.*, alerts.id AS alert_id, alerts.exposure_id AS exposure_id, alerts.received_at AS received_at
    FROM steps JOIN alerts ON alerts.seq = steps.alert_seq
    WHERE alerts.received_at >= $1 AND ($2::text IS NULL OR steps.tenant_id = $2)
    ORDER BY alerts.seq DESC, steps.seq LIMIT $3`,
  summaryCounts: `SELECT coalesce(outcome, 'none') AS outcome, count(*)::integer AS n FROM alerts
    WHERE completed_at >= $1 AND completed_at < $2 AND purged_at IS NULL GROUP BY outcome`,
  summaryFirst: `SELECT * FROM alerts WHERE completed_at >= $1 AND completed_at < $2 AND purged_at IS NULL
    ORDER BY completed_at LIMIT $3`,
  countWaitingDead: `SELECT count(*) FILTER (WHERE state = 'dead')::integer AS dead,
    count(*) FILTER (WHERE state = 'waiting')::integer AS waiting FROM alerts WHERE state IN ('dead', 'waiting')`,
  putIfAbsent: 'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
  outboxAdd: 'INSERT INTO outbox (key, kind, payload, due_at) VALUES ($1, $2, $3, now()) ON CONFLICT (key) DO NOTHING',
  outboxClaim: `WITH due AS MATERIALIZED (
      SELECT seq FROM outbox WHERE due_at <= now() ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox o SET lease_owner = $1, lease_token = o.lease_token + 1, due_at = now() + ${interval(3)},
      attempts = o.attempts + 1
    FROM due WHERE o.seq = due.seq
    RETURNING o.key, o.kind, o.payload, o.attempts, o.created_at, o.lease_owner, o.lease_token`,
  outboxSent: `UPDATE outbox SET sent_at = now(), due_at = NULL, lease_owner = NULL, last_error = NULL
    WHERE key = $1 AND lease_token = $2 AND sent_at IS NULL`,
  outboxRetry: `UPDATE outbox SET due_at = now() + ${interval(3)}, lease_owner = NULL, last_error = $4
    WHERE key = $1 AND lease_token = $2 AND sent_at IS NULL`,
  getMeta: 'SELECT value FROM meta WHERE key = $1',
  setMeta: 'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  delMeta: 'DELETE FROM meta WHERE key = $1',
  getExposure: `SELECT details FROM exposures WHERE exposure_id = $1 AND fetched_at >= now() - ${interval(2)}`,
  putExposure: `INSERT INTO exposures (exposure_id, details, fetched_at) VALUES ($1, $2, now())
    ON CONFLICT (exposure_id) DO UPDATE SET details = excluded.details, fetched_at = excluded.fetched_at`,
  purge: `WITH p AS (
      SELECT seq FROM alerts WHERE completed_at IS NOT NULL AND purged_at IS NULL AND completed_at <= now() - ${interval(1)}
      LIMIT $2 FOR UPDATE SKIP LOCKED
    ), e AS (
      DELETE FROM alert_events WHERE alert_seq IN (SELECT seq FROM p)
    ), st AS (
      DELETE FROM steps WHERE alert_seq IN (SELECT seq FROM p)
    ), u AS (
      UPDATE alerts a SET email = NULL, username_hash = NULL, custom_data = NULL, exposure_details = NULL, extra = NULL,
        warnings = NULL, source_ip = NULL, users = NULL, actions = NULL, last_error = NULL, purged_at = now()
      FROM p WHERE a.seq = p.seq RETURNING 1
    )
    SELECT count(*)::integer AS n FROM u`
}

/**
 * A lease-guarded transition: changes the row only for the holder of the current token, records the state
 * it produced, and (`wake`) notifies the replicas when it leaves work due now.
 */
function transitionSql (set: string, noteParam: number, wake = false): string {
  return `WITH t AS (
      UPDATE alerts SET ${set}, updated_at = now()
      WHERE id = $1 AND lease_token = $2 AND state = 'processing' RETURNING seq, state
    ), ev AS (
      INSERT INTO alert_events (alert_seq, state, note) SELECT seq, state, $${noteParam} FROM t
    )${wake ? `, wake AS (SELECT ${NOTIFY} FROM (SELECT 1 FROM t LIMIT 1) x)` : ''}
    SELECT (SELECT count(*) FROM t)::integer AS n${wake ? ', (SELECT count(*) FROM wake) AS w' : ''}`
}

const T = {
  finish: transitionSql(`state = 'done', outcome = $3, users = $4, actions = $5, lease_owner = NULL, due_at = NULL,
    completed_at = now(), last_error = NULL`, 6),
  retry: transitionSql(`state = 'retrying', due_at = now() + ${interval(3)}, last_error = $4, actions = $5, lease_owner = NULL`, 6),
  kill: transitionSql(`state = 'dead', outcome = $6, users = coalesce($7::jsonb, users), last_error = $3, actions = $4, lease_owner = NULL,
    due_at = NULL, completed_at = now()`, 5),
  wait: transitionSql(`state = 'waiting', due_at = now() + ${interval(3)}, users = $4, actions = $5, lease_owner = NULL`, 6),
  release: transitionSql(`state = CASE WHEN attempts - $3 > 0 THEN 'retrying' ELSE 'queued' END, attempts = attempts - $3,
    due_at = now(), lease_owner = NULL`, 4, true)
}

/**
 * PostgreSQL: one database shared by any number of `serve` replicas (docs/design.md §9). Inserts that arrive
 * together share one transaction (group commit) and are answered after COMMIT; claims lock with SKIP
 * LOCKED and no transaction stays open across a FusionAuth call; every due time and lease expiry is the
 * database's now() plus a duration; one NOTIFY per committed batch wakes the replicas.
 */
export async function createPostgresStore (options: PostgresStoreOptions): Promise<Store> {
  const config = clientConfig(options)
  const pool = new pg.Pool({ ...config, max: options.max ?? 10, idleTimeoutMillis: 30_000 })
  // An idle connection dropped by a restarting server must not take the process down.
  pool.on('error', err => options.onConnectionError?.(err))
  const workPool = options.asyncWorkerCommits === true
    ? new pg.Pool({ ...config, options: [new URL(options.url).searchParams.get('options'), '-c synchronous_commit=off'].filter(Boolean).join(' '), max: options.max ?? 10, idleTimeoutMillis: 30_000 })
    : pool
  if (workPool !== pool) workPool.on('error', err => options.onConnectionError?.(err))

  const client = await pool.connect().catch(async err => {
    await pool.end().catch(() => undefined)
    if (workPool !== pool) await workPool.end().catch(() => undefined)
    throw new StoreUnavailableError(err, `cannot connect to ${redactUrl(options.url)}: ${safeMessage(err)}`)
  })
  const ignore = (): void => {}
  client.on('error', ignore)
  try {
    if (options.migrations === 'require') {
      const v = await schemaVersion(client)
      if (v !== SCHEMA_VERSION) throw new SchemaVersionError(v, SCHEMA_VERSION, v > SCHEMA_VERSION ? 'upgrade the bridge' : 'run `breach-bridge migrate` (or start the upgraded bridge) first')
    } else {
      await migrate(client)
    }
    client.off('error', ignore)
    client.release()
  } catch (err) {
    client.off('error', ignore)
    client.release(true)
    await pool.end().catch(() => undefined)
    if (workPool !== pool) await workPool.end().catch(() => undefined)
    throw err
  }

  const unavailable = (err: unknown, what: string): StoreUnavailableError =>
    err instanceof StoreUnavailableError ? err : new StoreUnavailableError(err, `${what}: ${safeMessage(err)}`)
  async function q<R extends pg.QueryResultRow> (text: string, values: unknown[] = [], what = 'the alert store cannot be reached', on: pg.Pool = pool): Promise<R[]> {
    try {
      return (await on.query<R>(text, values)).rows
    } catch (err) {
      throw unavailable(err, what)
    }
  }

  /** A write: how many rows it changed. */
  async function changed (text: string, values: unknown[], on: pg.Pool = pool): Promise<number> {
    try {
      return (await on.query(text, values)).rowCount ?? 0
    } catch (err) {
      throw unavailable(err, 'the alert store cannot commit')
    }
  }

  const listeners = new Set<() => void>()
  const emit = (): void => { for (const l of listeners) l() }
  let listening: { close (): Promise<void> } | undefined
  let closed = false

  // Group commit of webhook inserts.
  const pending: Pending[] = []
  let batches = 0
  let scheduled = false
  const maxBatches = options.batchesInFlight ?? 2
  let drained: (() => void) | undefined

  function flush (): void {
    scheduled = false
    while (batches < maxBatches && pending.length > 0) {
      const batch = pending.splice(0, 1000)
      batches++
      commit(batch).finally(() => {
        batches--
        if (pending.length > 0) flush()
        else if (batches === 0) drained?.()
      })
    }
  }

  async function commit (batch: Pending[]): Promise<void> {
    const started = process.hrtime.bigint()
    // One row per distinct key (a key repeated inside the batch is a duplicate of its first occurrence).
    const firstOf = new Map<string, Pending>()
    for (const p of batch) if (!firstOf.has(p.alert.idempotencyKey)) firstOf.set(p.alert.idempotencyKey, p)
    const rows = [...firstOf.values()]
    const ids = rows.map(() => newId(Date.now()))
    const col = <T>(f: (p: Pending) => T): T[] => rows.map(f)
    const json = (v: unknown): string | null => v === undefined ? null : JSON.stringify(v)
    let conn: pg.PoolClient | undefined
    let broken = false
    // A checked-out connection that dies between two statements emits 'error': unheard, it would end the process.
    const onError = (): void => { broken = true }
    try {
      conn = await pool.connect()
      conn.on('error', onError)
      await conn.query('BEGIN')
      const inserted = (await conn.query<{ id: string, key: string, test: boolean }>(SQL.insert, [
        ids, col(p => p.alert.idempotencyKey), col(p => p.alert.test), col(p => p.alert.exposureId ?? null),
        col(p => p.alert.email ?? null), col(p => p.alert.usernameHash ?? null), col(p => p.alert.customData ?? null),
        col(p => p.alert.exposureDate ?? null), col(p => p.alert.hadPassword), col(p => p.alert.passwordType ?? null),
        col(p => p.alert.passwordTypeName ?? null), col(p => json(p.alert.exposureDetails)), col(p => json(p.alert.extra)),
        col(p => p.alert.warnings.length === 0 ? null : JSON.stringify(p.alert.warnings)), col(p => p.sourceIp ?? null)
      ])).rows
      const fresh = new Map(inserted.map(r => [r.key, r]))
      const repeats = new Map<string, number>()
      for (const p of batch) repeats.set(p.alert.idempotencyKey, (repeats.get(p.alert.idempotencyKey) ?? 0) + 1)
      const dupKeys: string[] = []
      const dupCounts: number[] = []
      for (const [key, n] of repeats) {
        const extra = fresh.has(key) ? n - 1 : n
        if (extra > 0) { dupKeys.push(key); dupCounts.push(extra) }
      }
      const existing = dupKeys.length === 0
        ? new Map<string, { id: string, test: boolean }>()
        : new Map((await conn.query<{ id: string, key: string, test: boolean }>(SQL.duplicates, [dupKeys, dupCounts])).rows.map(r => [r.key, r]))
      const wake = inserted.some(r => !r.test)
      if (wake) await conn.query(`SELECT ${NOTIFY}`)
      await conn.query('COMMIT')
      options.onCommit?.(batch.length, Number(process.hrtime.bigint() - started) / 1e9)
      const answered = new Set<string>()
      for (const p of batch) {
        const key = p.alert.idempotencyKey
        const mine = fresh.get(key)
        if (mine !== undefined && !answered.has(key)) {
          answered.add(key)
          p.resolve({ id: mine.id, duplicate: false, test: mine.test })
          continue
        }
        const first = mine ?? existing.get(key)
        if (first === undefined) p.reject(new StoreUnavailableError(new Error('the stored alert for this key vanished; retry')))
        else p.resolve({ id: first.id, duplicate: true, test: first.test })
      }
      if (wake) emit()
    } catch (err) {
      // An error, or a COMMIT whose outcome is unknown: the sender is told to retry (a retry is a duplicate).
      broken = true
      if (conn !== undefined) await conn.query('ROLLBACK').catch(() => undefined)
      const e = unavailable(err, 'the alert store cannot commit')
      for (const p of batch) p.reject(e)
    } finally {
      conn?.off('error', onError)
      conn?.release(broken ? true : undefined)
    }
  }

  /** The worker's bookkeeping, on its own pool (see asyncWorkerCommits). */
  const wq = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> => q<R>(text, values, 'the alert store cannot commit', workPool)
  const wchanged = async (text: string, values: unknown[]): Promise<number> => changed(text, values, workPool)
  const one = async (text: string, values: unknown[]): Promise<boolean> =>
    ((await wq<{ n: number }>(text, values))[0]?.n ?? 0) > 0

  return {
    kind: 'postgres',
    location: redactUrl(options.url),
    alerts: {
      insert (alert, meta = {}) {
        if (closed) return Promise.reject(new StoreUnavailableError(new Error('store closed')))
        return new Promise((resolve, reject) => {
          pending.push({ alert, sourceIp: meta.sourceIp, resolve, reject })
          if (!scheduled) {
            scheduled = true
            setImmediate(flush)
          }
        })
      },
      async get (id) {
        const rows = await q<PgRow>(SQL.get, [id])
        return rows[0] === undefined ? undefined : mapper.record(rows[0])
      },
      async events (id) {
        const receipt = (await q<PgReceiptRow>(SQL.receipt, [id]))[0]
        if (receipt === undefined) return []
        return mapper.history(receipt, await q<PgEventRow>(SQL.events, [receipt.seq]))
      },
      async list (options: ListOptions = {}) {
        const params: unknown[] = []
        const param = (v: unknown): string => { params.push(v); return `$${params.length}` }
        const where = listFilter(options, param, ms => new Date(ms))
        const rows = await q<PgRow>(`SELECT * FROM alerts ${where} ORDER BY seq DESC LIMIT ${param(options.limit ?? 50)}`, params)
        return rows.map(mapper.record)
      },
      async countByState () {
        return countsByState(await q<{ state: AlertState, n: number }>(SQL.countState))
      },
      async countByOutcome () {
        return countsByOutcome(await q<{ outcome: string, n: number }>(SQL.countOutcome))
      },
      async summary (fromMs, toMs, first) {
        const [from, to] = [new Date(fromMs), new Date(toMs)]
        const byOutcome = await q<{ outcome: string, n: number }>(SQL.summaryCounts, [from, to])
        const alerts = (await q<PgRow>(SQL.summaryFirst, [from, to, first])).map(mapper.record)
        return summaryOf(byOutcome, alerts, (await q<{ dead: number, waiting: number }>(SQL.countWaitingDead))[0]!)
      },
      async purge ({ olderThanMs }) {
        return await purgeInSlices(async limit => (await q<{ n: number }>(SQL.purge, [olderThanMs, limit], 'the alert store cannot commit'))[0]?.n ?? 0)
      }
    },
    queue: {
      async claim (owner, limit, leaseMs) {
        const rows = await wq<PgClaimedRow>(SQL.claim, [owner, limit, leaseMs])
        return rows.map(row => mapper.claimed(row, row.planned))
      },
      renew: (owner, leaseMs) => wchanged(SQL.renew, [owner, leaseMs]),
      finish: (l, r) => one(T.finish, [l.alertId, l.token, r.outcome, JSON.stringify(r.users), JSON.stringify(r.actions), r.note ?? `outcome ${r.outcome}`]),
      retry: (l, delayMs, error, actions) => one(T.retry, [l.alertId, l.token, delayMs, truncate(error), JSON.stringify(actions), truncate(error)]),
      kill: (l, reason, actions, extra = {}) => one(T.kill, [l.alertId, l.token, truncate(reason), JSON.stringify(actions), truncate(reason),
        extra.outcome ?? 'failed', extra.users === undefined ? null : JSON.stringify(extra.users)]),
      release: (l, refund) => one(T.release, [l.alertId, l.token, refund ? 1 : 0, refund ? 'released (attempt not counted)' : 'released']),
      wait: (l, dueInMs, users, actions, note) => one(T.wait, [l.alertId, l.token, dueInMs, JSON.stringify(users), JSON.stringify(actions), truncate(note)]),
      async takeover (alertId, owner, leaseMs) {
        const row = (await q<PgRow>(SQL.takeover, [alertId, owner, leaseMs], 'the alert store cannot commit'))[0]
        if (row !== undefined) return mapper.claimed(row, true)
        return refusedTakeover((await q(SQL.exists, [alertId])).length > 0)
      },
      async releaseAll (owner, note, refund) {
        let n = 0
        for (const r of await q<{ id: string, lease_token: number }>(SQL.leasedBy, [owner])) {
          if (await one(T.release, [r.id, r.lease_token, refund ? 1 : 0, note])) n++
        }
        return n
      },
      async leaseOwners () {
        return (await q<{ owner: string }>(SQL.owners)).map(r => r.owner)
      },
      async replay (ids) {
        const rows = await q<{ id: string }>(SQL.replay, [ids === 'dead' ? null : [...ids]], 'the alert store cannot commit')
        return rows.map(r => r.id)
      },
      async oldestQueuedAge () {
        const v = (await q<{ s: number | null }>(SQL.oldestQueued))[0]?.s
        return v === null || v === undefined ? undefined : Math.max(0, v)
      },
      async expedite () {
        return (await q<{ n: number }>(SQL.expedite, [], 'the alert store cannot commit'))[0]?.n ?? 0
      },
      async nextDueIn () {
        const v = (await q<{ ms: number | null }>(SQL.nextDue))[0]?.ms
        return v === null || v === undefined ? undefined : v
      }
    },
    steps: {
      async plan (l, steps) {
        const col = <T>(f: (st: typeof steps[number]) => T): T[] => steps.map(f)
        const inserted = await wq<PgStepRow>(SQL.plan, [l.alertId, l.token, col(st => st.userId), col(st => st.tenantId ?? null),
          col(st => st.email ?? null), col(st => st.action), col(st => st.phase), col(st => st.dueInMs), col(st => st.skipped ?? null), col(st => st.verdict ?? null)])
        // The first plan inserts every step: one round trip. Otherwise some existed (or the lease is gone).
        if (inserted.length === steps.length) return inserted.map(mapper.step)
        if ((await q(SQL.leased, [l.alertId, l.token])).length === 0) return undefined
        return (await q<PgStepRow>(SQL.stepsOf, [l.alertId])).map(mapper.step)
      },
      async list (alertId) {
        return (await q<PgStepRow>(SQL.stepsOf, [alertId])).map(mapper.step)
      },
      async update (l, stepId, c) {
        return await wchanged(SQL.stepUpdate, [l.alertId, l.token, stepId, c.state, c.detail === undefined ? null : truncate(c.detail),
          c.httpStatus ?? null, c.result === undefined ? null : JSON.stringify(c.result), c.undo === undefined ? null : JSON.stringify(c.undo)]) === 1
      },
      async report ({ sinceMs, tenantId, limit = 1000 }) {
        const rows = await q<PgReportRow>(SQL.report, [new Date(sinceMs ?? 0), tenantId ?? null, limit * 20])
        return groupReport(rows, mapper.reportEntry, limit)
      }
    },
    changes: {
      subscribe (listener) {
        listeners.add(listener)
        listening ??= startListening({ config, onWake: emit, pollMs: options.pollMs ?? 15_000, onError: options.onConnectionError })
        return () => { listeners.delete(listener) }
      }
    },
    kv: {
      async get (key) {
        return (await q<{ value: string }>(SQL.getMeta, [key]))[0]?.value
      },
      async set (key, value) {
        if (value === undefined) await q(SQL.delMeta, [key], 'the alert store cannot commit')
        else await q(SQL.setMeta, [key, value], 'the alert store cannot commit')
      },
      putIfAbsent: async (key, value) => await changed(SQL.putIfAbsent, [key, value]) === 1
    },
    outbox: {
      add: async (key, kind, payload) => await changed(SQL.outboxAdd, [key, kind, JSON.stringify(payload)]) === 1, // a message: flushed
      async claim (owner, limit, leaseMs) {
        return (await wq<PgOutboxRow>(SQL.outboxClaim, [owner, limit, leaseMs])).map(mapper.outboxItem)
      },
      sent: async l => await wchanged(SQL.outboxSent, [l.alertId, l.token]) === 1,
      retry: async (l, delayMs, error) => await wchanged(SQL.outboxRetry, [l.alertId, l.token, delayMs, truncate(error)]) === 1
    },
    exposures: {
      async get (exposureId, maxAgeMs) {
        const row = (await q<{ details: unknown }>(SQL.getExposure, [exposureId, maxAgeMs]))[0]
        return row === undefined ? undefined : mapper.json<ExposureDetails>(row.details)
      },
      async put (exposureId, details) {
        await q(SQL.putExposure, [exposureId, JSON.stringify(details)], 'the alert store cannot commit')
      }
    },
    async ping () {
      await q(SQL.setMeta, [KV.ping, new Date().toISOString()], 'the alert store cannot commit')
    },
    async close () {
      if (closed) return
      closed = true
      listeners.clear()
      if (pending.length > 0 || batches > 0) {
        await new Promise<void>(resolve => { drained = resolve; if (!scheduled) flush() })
      }
      await listening?.close()
      await pool.end()
      if (workPool !== pool) await workPool.end()
    }
  }
}
