import type { ExposureDetails } from '../../alerts/types.js'
import type { ExposureCache } from '../types.js'
import type { Database } from './database.js'
import { rows } from './rows.js'
import * as SQL from './sql.js'

/** The exposure-details cache on PostgreSQL; age by the database's clock. */
export function postgresExposures (db: Database): ExposureCache {
  return {
    async get (exposureId, maxAgeMs) {
      const row = (await db.query<{ details: unknown }>(SQL.GET_EXPOSURE, [exposureId, maxAgeMs]))[0]
      return row === undefined ? undefined : rows.json<ExposureDetails>(row.details)
    },
    async put (exposureId, details) {
      await db.write(SQL.PUT_EXPOSURE, [exposureId, JSON.stringify(details)])
    }
  }
}
