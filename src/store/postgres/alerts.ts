import type { AlertState } from '../../alerts/types.js'
import type { AlertRecords, ListOptions } from '../types.js'
import { countsByOutcome, countsByState, purgeInSlices, summaryOf } from '../shared/alerts.js'
import { listFilter } from '../shared/list-filter.js'
import type { Database } from './database.js'
import type { InsertBatcher } from './insert-batcher.js'
import { rows, type PgEventRow, type PgReceiptRow, type PgRow } from './rows.js'
import * as SQL from './sql.js'

/** Alert records on PostgreSQL: inserts through the group commit, everything else one statement at a time. */
export function postgresAlerts (db: Database, inserts: InsertBatcher): AlertRecords {
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
    purge: ({ olderThanMs }) => purgeInSlices(async limit => (await db.write<{ n: number }>(SQL.PURGE_SLICE, [olderThanMs, limit]))[0]?.n ?? 0)
  }
}
