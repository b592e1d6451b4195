import type Database from 'better-sqlite3'
import pg from 'pg'
import { migrate as migrateSqlite, openDatabase, schemaVersion as sqliteVersion, SCHEMA_VERSION as SQLITE_VERSION } from './sqlite/connection.js'
import { createSqliteStore, type FileRecovery } from './sqlite/index.js'
import { clientConfig, connectProblem, isPostgresUrl, redactUrl } from './postgres/connection.js'
import { createPostgresStore } from './postgres/index.js'
import { migrate as migratePostgres, schemaVersion as postgresVersion, SCHEMA_VERSION as POSTGRES_VERSION } from './postgres/migrate.js'
import type { Store } from './types.js'

export { isPostgresUrl, redactUrl }

export interface OpenStoreOptions {
  /**
   * `serve`: the bridge itself (SQLite commits on a writer thread; migrations applied).
   * `command`: a short-lived CLI command (SQLite commits inline; PostgreSQL must already be migrated).
   */
  role: 'serve' | 'command'
  onCommit?: (inserts: number, seconds: number) => void
  /** SQLite: each transaction of the writer, and whether it waited for the fsync. */
  onTransaction?: (synced: boolean) => void
  onConnectionError?: (err: Error) => void
  /** SQLite: how long a write waits for another process's lock (ms). */
  busyTimeoutMs?: number
  /** How often the change feed looks for other processes' commits (SQLite), or polls as a backstop (PostgreSQL). */
  pollMs?: number
  /** SQLite: its file was removed or replaced and the store recovered by itself (log it loudly). */
  onRecovered?: (event: FileRecovery) => void
  /** PostgreSQL: a webhook insert not committed within this is answered "unavailable" (default 10 s). */
  insertDeadlineMs?: number
  /** PostgreSQL: the server ends a statement past this, or a lock wait past `lockTimeoutMs` (defaults 10 s, 5 s). */
  statementTimeoutMs?: number
  lockTimeoutMs?: number
  /** BRIDGE_TOMBSTONE_KEY: a purge keys its tombstones under it, inserts recognise them (`serve`, `alerts purge`). */
  tombstoneKey?: Uint8Array
}

/** `BRIDGE_DATABASE` → the store: a file path is SQLite, a postgres:// URL is PostgreSQL. */
export async function openStore (database: string, options: OpenStoreOptions): Promise<Store> {
  if (isPostgresUrl(database)) {
    return createPostgresStore({
      url: database,
      migrations: options.role === 'serve' ? 'apply' : 'require',
      pollMs: options.pollMs,
      insertDeadlineMs: options.insertDeadlineMs,
      statementTimeoutMs: options.statementTimeoutMs,
      lockTimeoutMs: options.lockTimeoutMs,
      tombstoneKey: options.tombstoneKey,
      onCommit: options.onCommit,
      onConnectionError: options.onConnectionError,
      max: options.role === 'serve' ? 10 : 2,
      // The worker's bookkeeping may skip the WAL flush; an operator's command (cancel, restore) does not.
      asyncWorkerCommits: options.role === 'serve'
    })
  }
  return createSqliteStore({
    file: database,
    writer: options.role === 'serve' ? 'thread' : 'inline',
    busyTimeoutMs: options.busyTimeoutMs ?? (options.role === 'serve' ? 2000 : 15_000),
    pollMs: options.pollMs,
    onCommit: options.onCommit,
    onTransaction: options.onTransaction,
    onRecovered: options.onRecovered,
    tombstoneKey: options.tombstoneKey
  })
}

/** Where the store lives, safe to print. */
export function describeDatabase (database: string): string {
  return isPostgresUrl(database) ? redactUrl(database) : database
}

export interface MigrationReport { kind: 'sqlite' | 'postgres', location: string, from: number, to: number }

/** `breach-bridge migrate`: brings the schema up to date (under an advisory lock on PostgreSQL). */
export async function migrateDatabase (database: string): Promise<MigrationReport> {
  if (isPostgresUrl(database)) {
    let client: pg.Client
    try {
      client = new pg.Client(clientConfig({ url: database }))
    } catch (err) {
      throw connectProblem(err, database) ?? err // node-postgres reads the certificate files here
    }
    client.on('error', () => {}) // a dropped connection fails the query in progress instead
    await client.connect().catch(err => { throw connectProblem(err, database) ?? err })
    try {
      const from = await postgresVersion(client)
      await migratePostgres(client)
      return { kind: 'postgres', location: redactUrl(database), from, to: POSTGRES_VERSION }
    } finally {
      await client.end()
    }
  }
  const db: Database.Database = openDatabase(database, 15_000)
  try {
    const from = sqliteVersion(db)
    migrateSqlite(db)
    return { kind: 'sqlite', location: database, from, to: SQLITE_VERSION }
  } finally {
    db.close()
  }
}
