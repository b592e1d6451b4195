import type Database from 'better-sqlite3'
import { StoreUnavailableError } from '../types.js'
import type { WriteName, WriteOf, WriteResult } from './operations.js'

/** A write through the group commit: resolves with its result after its batch committed (fsync'd). */
export type Write = <K extends WriteName>(op: WriteOf<K>) => Promise<WriteResult<K>>

/** What each role of the SQLite store is built from (alerts.ts, queue.ts …). */
export interface SqliteContext {
  /** This thread's connection, for reads (WAL readers never wait for the writer). */
  db: Database.Database
  write: Write
  /** After the next commit, the WAL copied into the database and truncated (group-commit.ts): true when it was. */
  checkpoint: () => Promise<boolean>
  /** The store's clock (epoch ms): its "database clock". */
  now: () => number
}

/** A read on this thread's connection; any failure is the store being unavailable. */
export function read<T> (fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn())
  } catch (err) {
    return Promise.reject(new StoreUnavailableError(err, 'the alert store cannot be read'))
  }
}
