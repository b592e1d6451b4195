import type pg from 'pg'
import { SchemaVersionError } from '../types.js'
import { MIGRATIONS } from './migrations/index.js'

export const SCHEMA_VERSION = MIGRATIONS.length
/** pg_advisory_lock key: replicas that start together migrate one at a time. */
const MIGRATION_LOCK = 0x45_6e_7a_42 // "EnzB"

async function currentVersion (client: pg.ClientBase): Promise<number> {
  const exists = await client.query<{ t: string | null }>('SELECT to_regclass(\'bridge_schema_migrations\')::text AS t')
  if (exists.rows[0]?.t === null) return 0
  const r = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM bridge_schema_migrations')
  return r.rows[0]?.v ?? 0
}

/** The schema version this database is at (0: never migrated). */
export async function schemaVersion (client: pg.ClientBase): Promise<number> {
  return currentVersion(client)
}

/**
 * Applies the migrations this database has not run, each in its own transaction, under an advisory lock
 * held on this connection. Returns the versions applied.
 */
export async function migrate (client: pg.ClientBase): Promise<number[]> {
  const applied: number[] = []
  // A migration may take long (an index on a big table), and replicas wait their turn on the advisory lock:
  // not bounded by the connections' statement and lock time-outs (restored after, from the connection's settings).
  await client.query('SET statement_timeout = 0; SET lock_timeout = 0')
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS bridge_schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    const version = await currentVersion(client)
    if (version > SCHEMA_VERSION) throw new SchemaVersionError(version, SCHEMA_VERSION, 'upgrade the bridge')
    for (const m of MIGRATIONS.slice(version)) {
      await client.query('BEGIN')
      try {
        await client.query(m.sql)
        await client.query('INSERT INTO bridge_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw err
      }
      applied.push(m.version)
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined)
    await client.query('RESET statement_timeout; RESET lock_timeout').catch(() => undefined)
  }
  return applied
}
