import { rowMapper, type AlertRow, type ClaimedRow, type ColumnAdapter, type EventRow, type OutboxRow, type ReceiptRow, type ReportRow, type StepRow } from '../shared/rows.js'

/** PostgreSQL's column types as node-postgres returns them: timestamptz → Date, jsonb → value, bigint → string. */
export interface PostgresColumns {
  instant: Date
  json: unknown
  flag: boolean
  seq: string
}

export const POSTGRES_COLUMNS: ColumnAdapter<PostgresColumns> = {
  instant: date => date.toISOString(),
  json: value => value,
  flag: value => value,
  seq: value => Number(value)
}

export const rows = rowMapper(POSTGRES_COLUMNS)

export type PgRow = AlertRow<PostgresColumns>
export type PgClaimedRow = ClaimedRow<PostgresColumns>
export type PgStepRow = StepRow<PostgresColumns>
export type PgReportRow = ReportRow<PostgresColumns>
export type PgReceiptRow = ReceiptRow<PostgresColumns>
export type PgEventRow = EventRow<PostgresColumns>
export type PgOutboxRow = OutboxRow<PostgresColumns>
