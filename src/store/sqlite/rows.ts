import { rowMapper, type AlertRow, type ClaimedRow, type ColumnAdapter, type EventRow, type OutboxRow, type ReceiptRow, type ReportRow, type StepRow } from '../shared/rows.js'

/** SQLite's column types: instants in epoch ms, JSON as text, flags as 0/1, rowids as numbers. */
export interface SqliteColumns {
  instant: number
  json: string
  flag: number
  seq: number
}

export const SQLITE_COLUMNS: ColumnAdapter<SqliteColumns> = {
  instant: ms => new Date(ms).toISOString(),
  json: text => JSON.parse(text),
  flag: value => value === 1,
  seq: value => value
}

export const rows = rowMapper(SQLITE_COLUMNS)

export type SqliteRow = AlertRow<SqliteColumns>
export type SqliteClaimedRow = ClaimedRow<SqliteColumns>
export type SqliteStepRow = StepRow<SqliteColumns>
export type SqliteReportRow = ReportRow<SqliteColumns>
export type SqliteReceiptRow = ReceiptRow<SqliteColumns>
export type SqliteEventRow = EventRow<SqliteColumns>
export type SqliteOutboxRow = OutboxRow<SqliteColumns>
