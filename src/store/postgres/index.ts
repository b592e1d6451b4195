import { KV, type Store } from '../types.js'
import { createListeners } from '../shared/listeners.js'
import { clientConfig, redactUrl, type PostgresOptions } from './connection.js'
import { connectDatabase } from './database.js'
import { createInsertBatcher } from './insert-batcher.js'
import { startListening } from './listen.js'
import { postgresAlerts } from './alerts.js'
import { postgresQueue } from './queue.js'
import { postgresSteps } from './steps.js'
import { postgresKeyValue } from './kv.js'
import { postgresOutbox } from './outbox.js'
import { postgresExposures } from './exposures.js'
import * as SQL from './sql.js'
import { tombstoneKeyer } from '../shared/tombstone.js'

export interface PostgresStoreOptions extends PostgresOptions {
  /** `apply` (serve, migrate): bring the schema up to date. `require`: refuse a schema that is not current. */
  migrations?: 'apply' | 'require'
  /** Backstop poll of the change feed (ms). */
  pollMs?: number
  /** Insert batches committing at once (each on its own connection). */
  batchesInFlight?: number
  onCommit?: (inserts: number, seconds: number) => void
  /** Errors of idle or listening connections (a restart of PostgreSQL): logged, never fatal. */
  onConnectionError?: (err: Error) => void
  /**
   * The worker's bookkeeping (claims, steps, transitions, the outbox) commits without waiting for the WAL
   * flush (`synchronous_commit = off`). A crash of PostgreSQL may then forget the last few milliseconds of
   * it — the alert is processed again, and its actions are idempotent — but never an acknowledged alert:
   * webhook inserts always wait for the flush. Saves one disk flush per step on the hot path.
   */
  asyncWorkerCommits?: boolean
  /** Webhook inserts not committed within this are answered "unavailable" (default 10 s): see insert-batcher.ts. */
  insertDeadlineMs?: number
  /** BRIDGE_TOMBSTONE_KEY: purged alerts' tombstones keyed under it (shared/tombstone.ts). */
  tombstoneKey?: Uint8Array
}

/**
 * PostgreSQL: one database shared by any number of `serve` replicas (docs/design.md §9). Inserts that arrive
 * together share one transaction (group commit) and are answered after COMMIT; claims lock with SKIP
 * LOCKED and no transaction stays open across a FusionAuth call; every due time and lease expiry is the
 * database's now() plus a duration; one NOTIFY per committed batch wakes the replicas.
 *
 * The statements are in sql.ts; each role of the store is wired in its own module (alerts.ts, queue.ts …).
 */
export async function createPostgresStore (options: PostgresStoreOptions): Promise<Store> {
  const db = await connectDatabase(options)
  const listenConfig = clientConfig(options)

  const listeners = createListeners()
  let listening: { close (): Promise<void> } | undefined
  let closed = false

  const keyer = tombstoneKeyer(options.tombstoneKey)
  const inserts = createInsertBatcher(db, {
    batchesInFlight: options.batchesInFlight ?? 2, onCommit: options.onCommit, onWake: listeners.emit, deadlineMs: options.insertDeadlineMs, keyer
  })

  return {
    kind: 'postgres',
    location: redactUrl(options.url),
    alerts: postgresAlerts(db, inserts, keyer),
    queue: postgresQueue(db),
    steps: postgresSteps(db),
    changes: {
      subscribe (listener) {
        const unsubscribe = listeners.add(listener)
        listening ??= startListening({ config: listenConfig, onWake: listeners.emit, pollMs: options.pollMs ?? 15_000, onError: options.onConnectionError })
        return unsubscribe
      }
    },
    kv: postgresKeyValue(db),
    outbox: postgresOutbox(db),
    exposures: postgresExposures(db),
    async ping () {
      await db.write(SQL.SET_META, [KV.ping, new Date().toISOString()])
    },
    async close () {
      if (closed) return
      closed = true
      listeners.clear()
      await inserts.close()
      await listening?.close()
      await db.end()
    }
  }
}
