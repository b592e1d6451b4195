import { KV, StoreUnavailableError, type Store } from '../types.js'
import { createListeners } from '../shared/listeners.js'
import { steadyClock } from './clock.js'
import { inlineCommitter, threadCommitter, type Committer } from './committers.js'
import { fileIdentity, migrate, openDatabase } from './connection.js'
import type { SqliteContext } from './context.js'
import { createGroupCommit } from './group-commit.js'
import { batchIsSynced } from './operations.js'
import { watchDataVersion } from './data-version.js'
import { sqliteAlerts } from './alerts.js'
import { sqliteQueue } from './queue.js'
import { sqliteSteps } from './steps.js'
import { sqliteKeyValue } from './kv.js'
import { sqliteOutbox } from './outbox.js'
import { sqliteExposures } from './exposures.js'

export interface SqliteStoreOptions {
  /** Path to the database file; its folder is created. */
  file: string
  /** Epoch-ms clock (tests move time). It is this store's "database clock", taken as it is. */
  now?: () => number
  /**
   * Without `now`: the wall clock and a monotonic one (tests simulate a jump). A jump of the wall clock
   * (NTP step, an operator's `date -s`) shifts every due time and lease expiry by as much, so retries keep
   * their distance and live leases stay live.
   */
  clock?: { wall: () => number, mono: () => number }
  /** How long a write waits for another connection's lock before failing (ms). */
  busyTimeoutMs?: number
  /**
   * `thread` (default): commits run on a writer thread, so no fsync blocks the event loop.
   * `inline`: on the calling thread — for short-lived commands, where nothing else waits on the loop.
   */
  writer?: 'thread' | 'inline'
  /** How often to look for commits made by other processes (ms). */
  pollMs?: number
  /** Called after each group commit with its number of inserts and duration (metrics). */
  onCommit?: (inserts: number, seconds: number) => void
  /** Called for each batch handed to the writer — one transaction — and whether it waits for the fsync (metrics). */
  onTransaction?: (synced: boolean) => void
  /** The file was removed or replaced and the store recovered by itself (recovering.ts): say so loudly. */
  onRecovered?: (event: FileRecovery) => void
  /** BRIDGE_TOMBSTONE_KEY: purged alerts' tombstones keyed under it (shared/tombstone.ts). */
  tombstoneKey?: Uint8Array
}

/** What the store did when its file was removed or replaced under it. */
export interface FileRecovery {
  what: 'recreated' | 'replaced'
  file: string
  /** `replaced`: where the data of the file this process had open was saved. */
  savedTo?: string
}

/** One opened file: the store, and what recovery needs of it. */
export interface OpenedSqliteStore extends Store {
  /** The device and inode this store writes (undefined for `:memory:`). */
  readonly identity?: string
  /** Writes everything this process's connection sees of its (possibly deleted) file into a new file. */
  salvage (to: string): void
}

/**
 * SQLite: WAL, synchronous=FULL (every commit fsync'd). Every write — webhook inserts and the worker's
 * transitions alike — joins a group commit (group-commit.ts): the writes that arrive while the previous batch
 * commits share the next transaction and fsync, and each caller is answered only after that commit. Reads
 * run on this thread's own connection (WAL readers never wait for the writer).
 *
 * The statements are in sql.ts; each role of the store is wired in its own module (alerts.ts, queue.ts …),
 * its writes run by operations.ts on the writer thread (writer.ts) or inline.
 */
export function openSqliteStore (options: SqliteStoreOptions): OpenedSqliteStore {
  const now = options.now ?? steadyClock(options.clock ?? { wall: Date.now, mono: () => performance.now() }, deltaMs => {
    // First in the next batch, before any claim could read the unshifted times.
    commits.writeFirst({ op: 'shiftDue', deltaMs })
  })
  const busyTimeoutMs = options.busyTimeoutMs ?? 2000
  const file = options.file
  const db = openDatabase(file, busyTimeoutMs)
  try {
    migrate(db)
  } catch (err) {
    db.close()
    throw err
  }
  const identity = file === ':memory:' ? undefined : fileIdentity(file)

  const listeners = createListeners()
  let closed = false

  const init = { file, busyTimeoutMs, identity, tombstoneKey: options.tombstoneKey }
  const commits = createGroupCommit({
    now,
    committer: events => counted(options.writer === 'inline' ? inlineCommitter(db, init, events) : threadCommitter(init, events), options.onTransaction),
    onCommit: options.onCommit,
    onWake: listeners.emit
  })

  const stopWatching = watchDataVersion(db, options.pollMs ?? 1000, () => listeners.size > 0 && !closed, listeners.emit)

  const context: SqliteContext = { db, write: commits.write, checkpoint: commits.checkpoint, now }
  return {
    kind: 'sqlite',
    location: file,
    identity,
    salvage (to) {
      db.prepare('VACUUM INTO ?').run(to)
    },
    alerts: sqliteAlerts(context),
    queue: sqliteQueue(context),
    steps: sqliteSteps(context),
    changes: { subscribe: listeners.add },
    kv: sqliteKeyValue(context),
    outbox: sqliteOutbox(context),
    exposures: sqliteExposures(context),
    async ping () {
      if (identity !== undefined && fileIdentity(file) !== identity) {
        throw new StoreUnavailableError(new Error(`the database file ${file} was removed or replaced`))
      }
      await commits.write({ op: 'kvSet', key: KV.ping, value: String(now()) })
    },
    async close () {
      if (closed) return
      closed = true
      stopWatching()
      listeners.clear()
      // Every write already accepted gets its commit (or its error) before the connections close.
      await commits.close()
      db.close()
    }
  }
}

/** Tells `onTransaction` about every batch sent to the committer (each is one transaction). */
function counted (committer: Committer, onTransaction?: (synced: boolean) => void): Committer {
  if (onTransaction === undefined) return committer
  return {
    send (req) {
      onTransaction(batchIsSynced(req.ops))
      committer.send(req)
    },
    close: () => committer.close()
  }
}
