import type Database from 'better-sqlite3'
import type { ExposureDetails } from '../../alerts/types.js'
import type { ExposureCache } from '../types.js'
import { read, type SqliteContext } from './context.js'
import { rows } from './rows.js'
import * as SQL from './sql.js'

/** The write of the exposure cache, run by the writer inside the group commit. */
export function exposureWrites (db: Database.Database) {
  const put = db.prepare(SQL.PUT_EXPOSURE)
  return {
    exposurePut (op: { exposureId: string, details: ExposureDetails }, at: number): undefined {
      put.run(op.exposureId, JSON.stringify(op.details), at)
      return undefined
    }
  }
}

/** The exposure-details cache on SQLite; age by this store's clock. */
export function sqliteExposures ({ db, write, now }: SqliteContext): ExposureCache {
  const get = db.prepare(SQL.GET_EXPOSURE)
  return {
    get: (exposureId, maxAgeMs) => read(() => {
      const row = get.get(exposureId, now() - maxAgeMs) as { details: string } | undefined
      return row === undefined ? undefined : rows.json<ExposureDetails>(row.details)
    }),
    put: (exposureId, details) => write({ op: 'exposurePut', exposureId, details })
  }
}
