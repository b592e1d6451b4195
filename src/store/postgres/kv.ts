import type { KeyValue } from '../types.js'
import type { Database } from './database.js'
import * as SQL from './sql.js'

/** Small durable values on PostgreSQL (the `meta` table). */
export function postgresKeyValue (db: Database): KeyValue {
  return {
    async get (key) {
      return (await db.query<{ value: string }>(SQL.GET_META, [key]))[0]?.value
    },
    async set (key, value) {
      if (value === undefined) await db.write(SQL.DELETE_META, [key])
      else await db.write(SQL.SET_META, [key, value])
    },
    putIfAbsent: async (key, value) => await db.rowsChanged(SQL.PUT_META_IF_ABSENT, [key, value]) === 1
  }
}
