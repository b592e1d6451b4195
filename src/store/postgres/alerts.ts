import type { AlertState } from '../../alerts/types.js'
import type { AlertRecords, ListOptions } from '../types.js'
import { countsByOutcome, countsByState, purgeInSlices, summaryOf } from '../shared/alerts.js'
import { listFilter } from '../shared/list-filter.js'
import type { Database } from './database.js'
import type { InsertBatcher } from './insert-batcher.js'
import { rows, type PgEventRow, type PgReceiptRow, type PgRow } from './rows.js'
import * as SQL from './sql.js'
import { REKEY_SLICE, TOMBSTONES_KEYED, type TombstoneKeyer } from '../shared/tombstone.js'

/**
 * Alert records on PostgreSQL: inserts through the group commit, everything else one statement at a time.
 * `keyer`: tombstones keyed under BRIDGE_TOMBSTONE_KEY (shared/tombstone.ts).
 */
export function postgresAlerts (db: Database, inserts: InsertBatcher, keyer: TombstoneKeyer | undefined): AlertRecords {
  /** One purge slice, then its tombstones keyed (a crash between the two leaves them for rekeyTombstones). */
  async function purgeSlice (olderThanMs: number, limit: number): Promise<number> {
    const rows = await db.write<{ seq: string, key: string }>(SQL.PURGE_SLICE, [olderThanMs, limit])
    if (keyer !== undefined) await keyTombstones(rows)
    else if (rows.length > 0) await db.write(SQL.DELETE_META, [TOMBSTONES_KEYED])
    return rows.length
  }
  async function keyTombstones (rows: ReadonlyArray<{ seq: string, key: string }>): Promise<void> {
    if (rows.length === 0) return
    await db.write(SQL.KEY_TOMBSTONES, [rows.map(r => r.seq), rows.map(r => r.key), rows.map(r => keyer!(r.key))])
  }
  /** Tombstones made before the key was set, keyed in slices (once: then marked, until a purge without the key). */
  async function rekeyTombstones (): Promise<void> {
    if (keyer === undefined || (await db.query(SQL.GET_META, [TOMBSTONES_KEYED])).length > 0) return
    for (;;) {
      const rows = await db.query<{ seq: string, key: string }>(SQL.UNKEYED_TOMBSTONES, [REKEY_SLICE])
      await keyTombstones(rows)
      if (rows.length < REKEY_SLICE) break
    }
    await db.write(SQL.SET_META, [TOMBSTONES_KEYED, '1'])
  }

  return {
    insert: (alert, meta = {}) => inserts.insert(alert, meta.sourceIp),
    async get (id) {
      const row = (await db.query<PgRow>(SQL.GET_ALERT, [id]))[0]
      return row === undefined ? undefined : rows.record(row)
    },
    async events (id) {
      const receipt = (await db.query<PgReceiptRow>(SQL.ALERT_RECEIPT, [id]))[0]
      if (receipt === undefined) return []
      return rows.history(receipt, await db.query<PgEventRow>(SQL.ALERT_EVENTS, [receipt.seq]))
    },
    async list (options: ListOptions = {}) {
      const params: unknown[] = []
      const param = (v: unknown): string => { params.push(v); return `$${params.length}` }
      const where = listFilter(options, param, ms => new Date(ms))
      return (await db.query<PgRow>(SQL.listAlerts(where, param(options.limit ?? 50)), params)).map(rows.record)
    },
    async countByState () {
      return countsByState(await db.query<{ state: AlertState, n: number }>(SQL.COUNT_BY_STATE))
    },
    async countByOutcome () {
      return countsByOutcome(await db.query<{ outcome: string, n: number }>(SQL.COUNT_BY_OUTCOME))
    },
    async summary (fromMs, toMs, first) {
      const [from, to] = [new Date(fromMs), new Date(toMs)]
      const byOutcome = await db.query<{ outcome: string, n: number }>(SQL.SUMMARY_COUNTS, [from, to])
      const alerts = (await db.query<PgRow>(SQL.SUMMARY_FIRST, [from, to, first])).map(rows.record)
      return summaryOf(byOutcome, alerts, (await db.query<{ dead: number, waiting: number }>(SQL.COUNT_DEAD_AND_WAITING))[0]!)
    },
    async purge ({ olderThanMs }) {
      const result = await purgeInSlices(async limit => await purgeSlice(olderThanMs, limit))
      await rekeyTombstones()
      return result
    }
  }
}
