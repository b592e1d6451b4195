import pg from 'pg'
import { SchemaVersionError, StoreUnavailableError } from '../types.js'
import { clientConfig, connectProblem, redactUrl, safeMessage } from './connection.js'
import { migrate, schemaVersion, SCHEMA_VERSION } from './migrate.js'
import type { PostgresStoreOptions } from './index.js'
import type { Prepared } from './sql.js'

/** A statement's text, or a prepared statement's name and text (sql.ts). */
export type Statement = string | Prepared

const CANNOT_COMMIT = 'the alert store cannot commit'
const CANNOT_REACH = 'the alert store cannot be reached'

/**
 * The store's connections and the only way its modules run a statement. Every failure becomes a
 * StoreUnavailableError whose message carries no password.
 *
 * Two pools: `pool` commits with the WAL flush (webhook inserts, operators' commands, key/value, exposures);
 * `workPool` carries the worker's bookkeeping, which may skip it (`asyncWorkerCommits`) — a statement there that
 * must not (a step's marker, sql.ts START_STEP) turns the flush back on for its own transaction. They are one pool
 * when it may not.
 */
export interface Database {
  readonly pool: pg.Pool
  readonly workPool: pg.Pool
  /** A read: its rows. */
  query<R extends pg.QueryResultRow> (text: Statement, values?: unknown[]): Promise<R[]>
  /** A change that must be flushed before it is answered: its rows. */
  write<R extends pg.QueryResultRow> (text: Statement, values?: unknown[]): Promise<R[]>
  /** A change that must be flushed before it is answered: how many rows it changed. */
  rowsChanged (text: Statement, values: unknown[]): Promise<number>
  /** The worker's bookkeeping: its rows. */
  workQuery<R extends pg.QueryResultRow> (text: Statement, values: unknown[]): Promise<R[]>
  /** The worker's bookkeeping: how many rows it changed. */
  workRowsChanged (text: Statement, values: unknown[]): Promise<number>
  /** A lease-guarded transition (sql.ts): true when it changed the alert, false when the lease was lost. */
  transitioned (text: Statement, values: unknown[]): Promise<boolean>
  /** An error of a statement run outside these helpers (the insert batch), as the store reports it. */
  unavailable (err: unknown, what: string): StoreUnavailableError
  end (): Promise<void>
}

/** Opens the pools and checks (`require`) or brings up to date (`apply`) the schema. */
export async function connectDatabase (options: PostgresStoreOptions): Promise<Database> {
  const { pool, workPool } = createPools(options)
  const end = async (): Promise<void> => {
    await pool.end()
    if (workPool !== pool) await workPool.end()
  }
  try {
    await prepareSchema(pool, options)
  } catch (err) {
    await pool.end().catch(() => undefined)
    if (workPool !== pool) await workPool.end().catch(() => undefined)
    throw err
  }
  return { pool, workPool, end, ...statements(pool, workPool) }
}

function createPools (options: PostgresStoreOptions): { pool: pg.Pool, workPool: pg.Pool } {
  const pool = new pg.Pool({ ...clientConfig(options), max: options.max ?? 10, idleTimeoutMillis: 30_000 })
  // An idle connection dropped by a restarting server must not take the process down.
  pool.on('error', err => options.onConnectionError?.(err))
  if (options.asyncWorkerCommits !== true) return { pool, workPool: pool }
  // plan_cache_mode stays auto: forcing generic plans was measured (bench:drain) to cost 2.2–2.5× the server CPU
  // per alert — the claim's generic plan (LIMIT $2 unknown) costs 2–2.5 ms of backend CPU against 0.8–0.9 custom.
  const work = clientConfig({ ...options, settings: { ...options.settings, synchronous_commit: 'off' } })
  const workPool = new pg.Pool({ ...work, max: options.max ?? 10, idleTimeoutMillis: 30_000 })
  workPool.on('error', err => options.onConnectionError?.(err))
  return { pool, workPool }
}

async function prepareSchema (pool: pg.Pool, options: PostgresStoreOptions): Promise<void> {
  // Through a promise: node-postgres may throw before it connects (a certificate file it cannot read).
  const client = await Promise.resolve().then(async () => await pool.connect()).catch(err => {
    throw connectProblem(err, options.url) ?? new StoreUnavailableError(err, `cannot connect to ${redactUrl(options.url)}: ${safeMessage(err)}`)
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
    throw err
  }
}

function statements (pool: pg.Pool, workPool: pg.Pool): Omit<Database, 'pool' | 'workPool' | 'end'> {
  const unavailable = (err: unknown, what: string): StoreUnavailableError =>
    err instanceof StoreUnavailableError ? err : new StoreUnavailableError(err, `${what}: ${safeMessage(err)}`)
  const run = <R extends pg.QueryResultRow>(on: pg.Pool, statement: Statement, values: unknown[]): Promise<pg.QueryResult<R>> =>
    typeof statement === 'string' ? on.query<R>(statement, values) : on.query<R>({ name: statement.name, text: statement.text, values })
  async function rowsOf<R extends pg.QueryResultRow> (on: pg.Pool, what: string, text: Statement, values: unknown[]): Promise<R[]> {
    try {
      return (await run<R>(on, text, values)).rows
    } catch (err) {
      throw unavailable(err, what)
    }
  }
  async function countOf (on: pg.Pool, text: Statement, values: unknown[]): Promise<number> {
    try {
      return (await run(on, text, values)).rowCount ?? 0
    } catch (err) {
      throw unavailable(err, CANNOT_COMMIT)
    }
  }
  return {
    query: (text, values = []) => rowsOf(pool, CANNOT_REACH, text, values),
    write: (text, values = []) => rowsOf(pool, CANNOT_COMMIT, text, values),
    rowsChanged: (text, values) => countOf(pool, text, values),
    workQuery: (text, values) => rowsOf(workPool, CANNOT_COMMIT, text, values),
    workRowsChanged: (text, values) => countOf(workPool, text, values),
    transitioned: async (text, values) => ((await rowsOf<{ n: number }>(workPool, CANNOT_COMMIT, text, values))[0]?.n ?? 0) > 0,
    unavailable
  }
}
