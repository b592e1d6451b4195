import type Database from 'better-sqlite3'
import type { AlertState, BreachAlert } from '../../alerts/types.js'
import { newId } from '../ids.js'
import type { AlertRecords, InsertResult, ListOptions, Summary } from '../types.js'
import { countsByOutcome, countsByState, purgeInSlices, summaryOf } from '../shared/alerts.js'
import { listFilter } from '../shared/list-filter.js'
import { read, type SqliteContext } from './context.js'
import { rows, type SqliteEventRow, type SqliteReceiptRow, type SqliteRow } from './rows.js'
import * as SQL from './sql.js'
import { REKEY_SLICE, TOMBSTONES_KEYED, type TombstoneKeyer } from '../shared/tombstone.js'

/**
 * An alert as the columns of its row, flattened on the calling thread: a flat object of strings and numbers
 * crosses to the writer thread faster than the nested alert would.
 */
export interface InsertRow {
  key: string
  test: 0 | 1
  exposureId: string | null
  email: string | null
  usernameHash: string | null
  customData: string | null
  exposureDate: string | null
  hadPassword: 0 | 1
  passwordType: number | null
  passwordTypeName: string | null
  exposureDetails: string | null
  extra: string | null
  warnings: string | null
  sourceIp: string | null
  source: string
}

export function insertRow (alert: BreachAlert, sourceIp: string | undefined): InsertRow {
  return {
    key: alert.idempotencyKey,
    test: alert.test ? 1 : 0,
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
    source: alert.source ?? 'enzoic'
  }
}

/** How far apart the digest's builder and the store may keep time (PURGE_OUTBOX). */
const DIGEST_SKEW_MS = 60_000

/**
 * The writes of alert records, run by the writer inside the group commit (operations.ts). `keyer`: tombstones
 * keyed under BRIDGE_TOMBSTONE_KEY (shared/tombstone.ts).
 */
export function alertWrites (db: Database.Database, keyer: TombstoneKeyer | undefined) {
  const s = {
    insert: db.prepare(SQL.INSERT_ALERT),
    duplicate: db.prepare(SQL.COUNT_DUPLICATE_DELIVERY),
    unkeyed: db.prepare(SQL.UNKEYED_TOMBSTONES),
    keyTombstone: db.prepare(SQL.KEY_TOMBSTONE),
    keyedMark: db.prepare(SQL.GET_META),
    mark: db.prepare(SQL.SET_META),
    unmark: db.prepare(SQL.DELETE_META),
    purgeable: db.prepare(SQL.PURGEABLE),
    purgeEvents: db.prepare(SQL.PURGE_EVENTS),
    purgeLedger: db.prepare(SQL.PURGE_LEDGER),
    purgeSteps: db.prepare(SQL.PURGE_STEPS),
    purgeOutbox: db.prepare(SQL.PURGE_OUTBOX),
    purgeRow: db.prepare(SQL.PURGE_ROW)
  }
  return {
    insert ({ row }: { row: InsertRow }, at: number): InsertResult {
      // A purged alert delivered again: its tombstone holds the keyed form of the key.
      const tomb = keyer === undefined ? undefined : s.duplicate.get(at, keyer(row.key)) as { id: string, test: number } | undefined
      if (tomb !== undefined) return { id: tomb.id, duplicate: true, test: tomb.test === 1 }
      const id = newId(at)
      const test = row.test === 1
      // Test alerts need no remediation: they are stored already finished with outcome `test`.
      const info = s.insert.run({
        id,
        key: row.key,
        test: row.test,
        state: test ? 'done' : 'queued',
        now: at,
        exposureId: row.exposureId,
        email: row.email,
        usernameHash: row.usernameHash,
        customData: row.customData,
        exposureDate: row.exposureDate,
        hadPassword: row.hadPassword,
        passwordType: row.passwordType,
        passwordTypeName: row.passwordTypeName,
        exposureDetails: row.exposureDetails,
        extra: row.extra,
        warnings: row.warnings,
        sourceIp: row.sourceIp,
        source: row.source,
        dueAt: test ? null : at,
        outcome: test ? 'test' : null,
        completedAt: test ? at : null
      })
      if (info.changes === 1) return { id, duplicate: false, test }
      const dup = s.duplicate.get(at, row.key) as { id: string, test: number }
      return { id: dup.id, duplicate: true, test: dup.test === 1 }
    },
    /** One slice of `alerts.purge` (the slicing is shared/alerts.ts). */
    purge (op: { olderThanMs: number, limit: number }, at: number): number {
      const cutoff = at - op.olderThanMs
      const slice = s.purgeable.all(cutoff, op.limit) as Array<{ seq: number, id: string, idempotency_key: string, completed_at: number }>
      for (const { seq, idempotency_key: key } of slice) {
        s.purgeEvents.run(seq)
        s.purgeLedger.run({ seq })
        s.purgeSteps.run(seq)
        s.purgeRow.run({ seq, now: at, key: keyer?.(key) ?? key })
      }
      if (keyer === undefined && slice.length > 0) s.unmark.run(TOMBSTONES_KEYED)
      const completed = slice.map(r => r.completed_at)
      const some = completed.length > 0
      s.purgeOutbox.run({
        cutoff,
        ids: JSON.stringify(slice.map(r => r.id)),
        first: some ? Math.min(...completed) - DIGEST_SKEW_MS : null,
        last: some ? Math.max(...completed) + DIGEST_SKEW_MS : null
      })
      return slice.length
    },
    /** Keys up to REKEY_SLICE tombstones made before BRIDGE_TOMBSTONE_KEY was set; how many (none left: marked). */
    rekeyTombstones (_op: object): number {
      if (keyer === undefined || s.keyedMark.get(TOMBSTONES_KEYED) !== undefined) return 0
      const rows = s.unkeyed.all(REKEY_SLICE) as Array<{ seq: number, key: string }>
      for (const r of rows) s.keyTombstone.run({ seq: r.seq, key: keyer(r.key) })
      if (rows.length < REKEY_SLICE) s.mark.run(TOMBSTONES_KEYED, '1')
      return rows.length
    }
  }
}

/** Alert records on SQLite: inserts and purges through the group commit, reads on this thread's connection. */
export function sqliteAlerts ({ db, write, checkpoint }: SqliteContext): AlertRecords {
  const r = {
    get: db.prepare(SQL.GET_ALERT),
    receipt: db.prepare(SQL.ALERT_RECEIPT),
    events: db.prepare(SQL.ALERT_EVENTS),
    countState: db.prepare(SQL.COUNT_BY_STATE),
    countOutcome: db.prepare(SQL.COUNT_BY_OUTCOME),
    summaryCounts: db.prepare(SQL.SUMMARY_COUNTS),
    summaryFirst: db.prepare(SQL.SUMMARY_FIRST),
    countOf: db.prepare(SQL.COUNT_IN_STATE)
  }
  return {
    insert: (alert, meta = {}) => write({ op: 'insert', row: insertRow(alert, meta.sourceIp) }),
    get: id => read(() => {
      const row = r.get.get(id) as SqliteRow | undefined
      return row === undefined ? undefined : rows.record(row)
    }),
    events: id => read(() => {
      const receipt = r.receipt.get(id) as SqliteReceiptRow | undefined
      if (receipt === undefined) return []
      return rows.history(receipt, r.events.all(receipt.seq) as SqliteEventRow[])
    }),
    list: (options: ListOptions = {}) => read(() => {
      const params: unknown[] = []
      const where = listFilter(options, v => { params.push(v); return '?' }, ms => ms)
      params.push(options.limit ?? 50)
      return (db.prepare(SQL.listAlerts(where)).all(...params) as SqliteRow[]).map(rows.record)
    }),
    countByState: () => read(() => countsByState(r.countState.all() as Array<{ state: AlertState, n: number }>)),
    countByOutcome: () => read(() => countsByOutcome(r.countOutcome.all() as Array<{ outcome: string, n: number }>)),
    summary: (fromMs, toMs, first) => read((): Summary => {
      const byOutcome = r.summaryCounts.all(fromMs, toMs) as Array<{ outcome: string | null, n: number }>
      const alerts = (r.summaryFirst.all(fromMs, toMs, first) as SqliteRow[]).map(rows.record)
      const count = (state: string): number => (r.countOf.get(state) as { n: number }).n
      return summaryOf(byOutcome, alerts, { dead: count('dead'), waiting: count('waiting') })
    }),
    // secure_delete zeroed what the purge freed in the database; the WAL still holds the pages as they were.
    purge: async ({ olderThanMs }) => {
      const result = await purgeInSlices(limit => write({ op: 'purge', olderThanMs, limit }))
      while (await write({ op: 'rekeyTombstones' }) === REKEY_SLICE);
      return { ...result, walTruncated: await checkpoint() }
    }
  }
}
