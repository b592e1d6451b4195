import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { randomUUID } from 'node:crypto'
import Database from 'better-sqlite3'
import type { BreachAlert } from '../intake/alert.js'
import type { AlertState, InsertResult } from './types.js'

/** Schema migrations; index + 1 = PRAGMA user_version after it ran. Append only once released. */
export const MIGRATIONS = [
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
   -- Partial indexes: only the rows the worker looks for, so finished alerts cost them nothing.
   CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE state IN ('queued', 'retrying');
   CREATE INDEX alerts_lease ON alerts (lease_until) WHERE state = 'processing';
   CREATE INDEX alerts_state ON alerts (state);
   -- Transitions after receipt (receipt itself is the row's received_at: one write less per alert).
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

/** Opens a connection with the bridge's durability settings: WAL, every commit fsync'd. */
export function openDatabase (file: string, busyTimeoutMs: number): Database.Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.pragma('foreign_keys = ON')
  db.pragma(`busy_timeout = ${busyTimeoutMs}`)
  return db
}

export function migrate (db: Database.Database): void {
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

/** Time-ordered ids (UUIDv7 layout): sortable in listings, unguessable. randomUUID draws from a pool. */
export function newId (now: number): string {
  const r = randomUUID()
  const t = now.toString(16).padStart(12, '0')
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(15)}`
}

export interface PendingInsert { alert: BreachAlert, sourceIp?: string }

/**
 * Returns the group-commit function: one transaction (one fsync) for the whole batch. A repeated
 * idempotency key counts a delivery on the existing row and returns its id.
 */
export function createBatchInsert (db: Database.Database): (batch: readonly PendingInsert[], at: number) => InsertResult[] {
  const insert = db.prepare(`INSERT INTO alerts (id, idempotency_key, test, state, received_at, updated_at, exposure_id, email,
      username_hash, custom_data, exposure_date, had_password, password_type, password_type_name, exposure_details, extra,
      warnings, source_ip, last_delivery_at, next_attempt_at, outcome, completed_at)
    VALUES (@id, @key, @test, @state, @now, @now, @exposureId, @email, @usernameHash, @customData, @exposureDate, @hadPassword,
      @passwordType, @passwordTypeName, @exposureDetails, @extra, @warnings, @sourceIp, @now, @nextAttemptAt, @outcome, @completedAt)
    ON CONFLICT (idempotency_key) DO NOTHING`)
  const duplicate = db.prepare(`UPDATE alerts SET deliveries = deliveries + 1, last_delivery_at = ?
    WHERE idempotency_key = ? RETURNING id, test`)
  return db.transaction((batch: readonly PendingInsert[], at: number): InsertResult[] => batch.map(({ alert, sourceIp }) => {
    const id = newId(at)
    // Test alerts need no remediation: they are stored already finished with outcome `test`.
    const state: AlertState = alert.test ? 'done' : 'queued'
    const info = insert.run({
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
    if (info.changes === 1) return { id, duplicate: false, test: alert.test }
    const dup = duplicate.get(at, alert.idempotencyKey) as { id: string, test: number }
    return { id: dup.id, duplicate: true, test: dup.test === 1 }
  }))
}
