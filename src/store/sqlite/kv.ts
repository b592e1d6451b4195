import type Database from 'better-sqlite3'
import type { KeyValue } from '../types.js'
import { read, type SqliteContext } from './context.js'
import * as SQL from './sql.js'

/** The writes of small durable values (the `meta` table), run by the writer inside the group commit. */
export function kvWrites (db: Database.Database) {
  const s = {
    set: db.prepare(SQL.SET_META),
    delete: db.prepare(SQL.DELETE_META),
    putIfAbsent: db.prepare(SQL.PUT_META_IF_ABSENT)
  }
  return {
    kvSet (op: { key: string, value: string | undefined }): undefined {
      if (op.value === undefined) s.delete.run(op.key)
      else s.set.run(op.key, op.value)
      return undefined
    },
    kvPutIfAbsent (op: { key: string, value: string }): boolean {
      return s.putIfAbsent.run(op.key, op.value).changes === 1
    }
  }
}

/** Small durable values on SQLite. */
export function sqliteKeyValue ({ db, write }: SqliteContext): KeyValue {
  const get = db.prepare(SQL.GET_META)
  return {
    get: key => read(() => (get.get(key) as { value: string } | undefined)?.value),
    set: (key, value) => write({ op: 'kvSet', key, value }),
    putIfAbsent: (key, value) => write({ op: 'kvPutIfAbsent', key, value })
  }
}
