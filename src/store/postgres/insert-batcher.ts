import type pg from 'pg'
import type { BreachAlert } from '../../alerts/types.js'
import { newId } from '../ids.js'
import { StoreDataError, StoreUnavailableError, type InsertResult } from '../types.js'
import type { Database } from './database.js'
import * as SQL from './sql.js'
import type { TombstoneKeyer } from '../shared/tombstone.js'

export interface InsertBatcherOptions {
  /** Batches committing at once, each on its own connection. */
  batchesInFlight: number
  onCommit?: (inserts: number, seconds: number) => void
  /** After a commit that stored alerts due now (the replicas were notified in it). */
  onWake: () => void
  /**
   * An insert not answered by then is refused (StoreUnavailableError: the sender gets 503 and retries) while
   * its batch may still be waiting for a lock, a connection or a stalled server; should that batch commit
   * later, the retry is a duplicate of it.
   */
  deadlineMs?: number
  /** BRIDGE_TOMBSTONE_KEY: a purged alert's tombstone holds its key's keyed form (shared/tombstone.ts). */
  keyer?: TombstoneKeyer
}

export interface InsertBatcher {
  /** Resolves after COMMIT; rejects with StoreUnavailableError when the commit failed or its outcome is unknown. */
  insert (alert: BreachAlert, sourceIp: string | undefined): Promise<InsertResult>
  /** Refuses new inserts and waits until every one accepted is committed or refused. */
  close (): Promise<void>
}

interface Pending {
  alert: BreachAlert
  sourceIp?: string
  resolve: (r: InsertResult) => void
  reject: (e: Error) => void
}

/** Default: well under the 30 s after which an idle connection is closed (app.ts), so the sender hears 503 first. */
export const INSERT_DEADLINE_MS = 10_000

/** A batch holds at most this many inserts. */
const BATCH_MAX = 1000

type KeyRow = { id: string, key: string, test: boolean }

/**
 * Group commit of webhook inserts: the inserts that arrive before the event loop's check phase (and while
 * `batchesInFlight` batches commit) share one transaction — at most 3 round trips besides BEGIN and COMMIT
 * (the batch insert, the duplicates' update when there are any, one NOTIFY when anything is due) — and
 * each is answered after COMMIT.
 */
export function createInsertBatcher (db: Database, options: InsertBatcherOptions): InsertBatcher {
  const deadlineMs = options.deadlineMs ?? INSERT_DEADLINE_MS
  const pending: Pending[] = []
  let batches = 0
  let scheduled = false
  let closed = false
  let drained: (() => void) | undefined

  function flush (): void {
    scheduled = false
    while (batches < options.batchesInFlight && pending.length > 0) {
      const batch = pending.splice(0, BATCH_MAX)
      batches++
      commit(db, batch, options).finally(() => {
        batches--
        if (pending.length > 0) flush()
        else if (batches === 0) drained?.()
      })
    }
  }

  return {
    insert (alert, sourceIp) {
      if (closed) return Promise.reject(new StoreUnavailableError(new Error('store closed')))
      return new Promise((resolve, reject) => {
        const entry: Pending = { alert, sourceIp, resolve, reject }
        const timer = setTimeout(() => {
          // Still queued: it will never be sent. Already sent: answered now, its batch ends when the server says.
          const queued = pending.indexOf(entry)
          if (queued >= 0) pending.splice(queued, 1)
          reject(new StoreUnavailableError(new Error(`no commit within ${deadlineMs} ms`), 'the alert store did not commit in time'))
        }, deadlineMs)
        timer.unref()
        entry.resolve = r => { clearTimeout(timer); resolve(r) }
        entry.reject = e => { clearTimeout(timer); reject(e) }
        pending.push(entry)
        if (!scheduled) {
          scheduled = true
          setImmediate(flush)
        }
      })
    },
    async close () {
      closed = true
      if (pending.length > 0 || batches > 0) {
        await new Promise<void>(resolve => { drained = resolve; if (!scheduled) flush() })
      }
    }
  }
}

/** One batch, one transaction; every insert of it answered (or refused) when it ends. */
async function commit (db: Database, batch: Pending[], options: InsertBatcherOptions): Promise<void> {
  const started = process.hrtime.bigint()
  let conn: pg.PoolClient | undefined
  let broken = false
  // A checked-out connection that dies between two statements emits 'error': unheard, it would end the process.
  const onError = (): void => { broken = true }
  try {
    conn = await db.pool.connect()
    conn.on('error', onError)
    let stored: Stored
    try {
      stored = await insertTogether(conn, batch, options.keyer)
    } catch (err) {
      if (dataError(err) === undefined) throw err
      // One row's data failed the statement, and with it the batch: each row again on its own, so it fails alone.
      await conn.query('ROLLBACK')
      stored = await insertOneByOne(conn, batch, options.keyer)
    }
    options.onCommit?.(batch.length, Number(process.hrtime.bigint() - started) / 1e9)
    for (const [p, e] of stored.refused) p.reject(e)
    answer(batch.filter(p => !stored.refused.has(p)), stored.fresh, stored.existing)
    if (stored.wake) options.onWake()
  } catch (err) {
    // An error, or a COMMIT whose outcome is unknown: the sender is told to retry (a retry is a duplicate).
    broken = true
    if (conn !== undefined) await conn.query('ROLLBACK').catch(() => undefined)
    const e = db.unavailable(err, 'the alert store cannot commit')
    for (const p of batch) p.reject(e)
  } finally {
    conn?.off('error', onError)
    conn?.release(broken ? true : undefined)
  }
}

/** What a committed batch holds: its new rows by key, the first rows of keys delivered again, the inserts refused for their data. */
interface Stored { fresh: Map<string, KeyRow>, existing: Map<string, KeyRow>, refused: Map<Pending, StoreDataError>, wake: boolean }

/** The batch in one statement (the usual case): BEGIN, the insert, the duplicates' update, one NOTIFY, COMMIT. */
async function insertTogether (conn: pg.PoolClient, batch: readonly Pending[], keyer: TombstoneKeyer | undefined): Promise<Stored> {
  await conn.query('BEGIN')
  const inserted = (await conn.query<KeyRow>(SQL.INSERT_ALERTS, insertColumns(batch, keyer))).rows
  return await finish(conn, batch, inserted, new Map(), keyer)
}

/**
 * After a data error: each insert in its own savepoint, in arrival order, so a row the database refuses is refused
 * alone (StoreDataError) and every other one is stored — still one transaction and one commit.
 */
async function insertOneByOne (conn: pg.PoolClient, batch: readonly Pending[], keyer: TombstoneKeyer | undefined): Promise<Stored> {
  const refused = new Map<Pending, StoreDataError>()
  const inserted: KeyRow[] = []
  await conn.query('BEGIN')
  for (const p of batch) {
    await conn.query('SAVEPOINT one_row')
    try {
      inserted.push(...(await conn.query<KeyRow>(SQL.INSERT_ALERTS, insertColumns([p], keyer))).rows)
      await conn.query('RELEASE SAVEPOINT one_row')
    } catch (err) {
      const refusal = dataError(err)
      if (refusal === undefined) throw err
      refused.set(p, refusal)
      await conn.query('ROLLBACK TO SAVEPOINT one_row')
    }
  }
  return await finish(conn, batch.filter(p => !refused.has(p)), inserted, refused, keyer)
}

/** The rest of a batch's transaction once its rows are in: count the repeated deliveries, notify, COMMIT. */
async function finish (
  conn: pg.PoolClient, batch: readonly Pending[], inserted: KeyRow[], refused: Map<Pending, StoreDataError>, keyer: TombstoneKeyer | undefined
): Promise<Stored> {
  const fresh = new Map(inserted.map(r => [r.key, r]))
  const repeats = repeatedDeliveries(batch, fresh)
  const tombs = repeats.keys.map(k => keyer?.(k) ?? null)
  const existing = repeats.keys.length === 0
    ? new Map<string, KeyRow>()
    : new Map((await conn.query<KeyRow>(SQL.COUNT_DUPLICATE_DELIVERIES, [repeats.keys, repeats.counts, tombs])).rows.map(r => [r.key, r]))
  const wake = inserted.some(r => !r.test)
  if (wake) await conn.query(SQL.NOTIFY_REPLICAS)
  await conn.query('COMMIT')
  return { fresh, existing, refused, wake }
}

/**
 * A data error: what the row holds is refused (SQLSTATE class 22, a NOT NULL or CHECK violation), so the row
 * would fail again. Its reason names no value of the row (PostgreSQL quotes a value after `: "`).
 */
function dataError (err: unknown): StoreDataError | undefined {
  const code = (err as { code?: unknown }).code
  if (typeof code !== 'string' || !(code.startsWith('22') || code === '23502' || code === '23514')) return undefined
  const message = (err as Error).message.replace(/: ".*$/s, '').slice(0, 200)
  return new StoreDataError(`${message} (SQLSTATE ${code})`, err)
}

/** INSERT_ALERTS' parameters: one array per column, one row per distinct key (a key repeated inside the batch is a duplicate of its first occurrence). */
function insertColumns (batch: readonly Pending[], keyer: TombstoneKeyer | undefined): unknown[] {
  const firstOf = new Map<string, Pending>()
  for (const p of batch) if (!firstOf.has(p.alert.idempotencyKey)) firstOf.set(p.alert.idempotencyKey, p)
  const rows = [...firstOf.values()]
  const ids = rows.map(() => newId(Date.now()))
  const col = <T>(f: (p: Pending) => T): T[] => rows.map(f)
  const json = (v: unknown): string | null => v === undefined ? null : JSON.stringify(v)
  return [
    ids, col(p => p.alert.idempotencyKey), col(p => p.alert.test), col(p => p.alert.exposureId ?? null),
    col(p => p.alert.email ?? null), col(p => p.alert.usernameHash ?? null), col(p => p.alert.customData ?? null),
    col(p => p.alert.exposureDate ?? null), col(p => p.alert.hadPassword), col(p => p.alert.passwordType ?? null),
    col(p => p.alert.passwordTypeName ?? null), col(p => json(p.alert.exposureDetails)), col(p => json(p.alert.extra)),
    col(p => p.alert.warnings.length === 0 ? null : JSON.stringify(p.alert.warnings)), col(p => p.sourceIp ?? null),
    col(p => p.alert.source ?? 'enzoic'), col(p => keyer?.(p.alert.idempotencyKey) ?? null)
  ]
}

/** COUNT_DUPLICATE_DELIVERIES' parameters: each key delivered again, and how many times beyond its first row. */
function repeatedDeliveries (batch: readonly Pending[], fresh: ReadonlyMap<string, KeyRow>): { keys: string[], counts: number[] } {
  const repeats = new Map<string, number>()
  for (const p of batch) repeats.set(p.alert.idempotencyKey, (repeats.get(p.alert.idempotencyKey) ?? 0) + 1)
  const keys: string[] = []
  const counts: number[] = []
  for (const [key, n] of repeats) {
    const extra = fresh.has(key) ? n - 1 : n
    if (extra > 0) { keys.push(key); counts.push(extra) }
  }
  return { keys, counts }
}

/** The first insert of a new key gets its row; every other one is a duplicate of the key's first row. */
function answer (batch: readonly Pending[], fresh: ReadonlyMap<string, KeyRow>, existing: ReadonlyMap<string, KeyRow>): void {
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
}
