import type Database from 'better-sqlite3'
import type { InsertResult } from '../types.js'
import { fileIdentity } from './connection.js'
import { alertWrites } from './alerts.js'
import { queueWrites } from './queue.js'
import { stepWrites } from './steps.js'
import { kvWrites } from './kv.js'
import { outboxWrites } from './outbox.js'
import { exposureWrites } from './exposures.js'
import { tombstoneKeyer, type TombstoneKeyer } from '../shared/tombstone.js'

/**
 * Every write the SQLite store makes, by name. Each role's module (alerts.ts, queue.ts …) prepares its
 * statements on the writer's connection and returns its writes: `(op, at)` → result, run inside the batch's
 * transaction at the batch's instant `at`.
 */
function writeHandlers (db: Database.Database, keyer?: TombstoneKeyer) {
  return { ...alertWrites(db, keyer), ...queueWrites(db), ...stepWrites(db), ...kvWrites(db), ...outboxWrites(db), ...exposureWrites(db) }
}

type WriteHandlers = ReturnType<typeof writeHandlers>
export type WriteName = keyof WriteHandlers
/**
 * One write as plain data (`{ op: 'claim', owner, limit, leaseMs }`): the main thread gathers them into a
 * batch and the writer runs the batch in one immediate transaction (one fsync), each write in its own
 * savepoint so one failing write does not undo the others. Webhook inserts and the worker's transitions
 * share the group commit.
 */
export type WriteOf<K extends WriteName> = { op: K } & Parameters<WriteHandlers[K]>[0]
export type WriteOp = { [K in WriteName]: WriteOf<K> }[WriteName]
export type WriteResult<K extends WriteName> = ReturnType<WriteHandlers[K]>

/** `data`: the database refused the write for what it holds (StoreDataError), not for its own state. */
export type OpResult = { ok: true, value: unknown } | { ok: false, error: string, data?: boolean }

/**
 * SQLite's data errors: what the row holds is refused (too big, a type or NOT NULL / CHECK / trigger constraint),
 * so the write fails alone, and would fail again. Only inserts are told apart (a webhook answers 400 for them).
 */
const DATA_ERRORS = new Set(['SQLITE_TOOBIG', 'SQLITE_MISMATCH', 'SQLITE_CONSTRAINT_NOTNULL', 'SQLITE_CONSTRAINT_CHECK', 'SQLITE_CONSTRAINT_DATATYPE', 'SQLITE_CONSTRAINT_TRIGGER'])
const isDataError = (op: WriteOp, err: unknown): boolean => op.op === 'insert' && DATA_ERRORS.has((err as { code?: string }).code ?? '')

export interface BatchOutcome {
  results: OpResult[]
  /** New (non-duplicate, non-test) alerts or alerts made due now: the worker should look. */
  wake: boolean
  inserts: number
}

/** Does this op's success leave work due now? */
function wakes (op: WriteOp, value: unknown): boolean {
  switch (op.op) {
    case 'insert': { const r = value as InsertResult; return !r.duplicate && !r.test }
    case 'release': return value === true
    case 'releaseAll': return (value as number) > 0
    case 'replay': return (value as string[]).length > 0
    case 'expedite': return (value as number) > 0
    case 'takeover': return false
    default: return false
  }
}

/**
 * The worker's bookkeeping: what PostgreSQL commits without waiting for the WAL flush (its work pool, see
 * postgres/database.ts). A batch of nothing else commits without the fsync (synchronous=NORMAL in WAL mode): the
 * commit survives a crash of this process, not a power loss; a later fsync'd commit makes it durable with it. A
 * crash of the machine may then forget the last moments of it — the alert runs again, its actions idempotent and
 * their markers durable — never an acknowledged alert or a step's in-flight marker: a batch with a webhook insert,
 * a marker (`stepBegin`, `stepStart`), an operator's change or a key/value write waits for the fsync.
 */
const UNSYNCED: ReadonlySet<WriteName> = new Set<WriteName>([
  'claim', 'renew', 'finish', 'retry', 'kill', 'wait', 'release', 'releaseAll', 'plan', 'stepUpdate', 'stepUnbegin',
  'outboxClaim', 'outboxSent', 'outboxRetry', 'outboxReleaseAll'
])

/**
 * Bookkeeping that no caller waits on to go on with its work: the transitions that end an attempt (the worker frees
 * the attempt's slot once its transition is handed over: remediation/worker/executor.ts), the heartbeat, and a claim
 * made ahead of need (`ahead`: alerts claimed earlier still wait to run). The group commit holds them longest for
 * company (group-commit.ts).
 */
const IN_NO_HURRY: ReadonlySet<WriteName> = new Set<WriteName>(['finish', 'retry', 'kill', 'wait', 'release', 'renew'])

export function inNoHurry (op: WriteOp): boolean {
  return IN_NO_HURRY.has(op.op) || (op.op === 'claim' && op.ahead === true)
}

/** Whether a write needs its batch's commit to wait for the fsync. */
export function needsSync (op: WriteOp): boolean {
  return !UNSYNCED.has(op.op)
}

/** Whether a batch's commit waits for the fsync. */
export function batchIsSynced (ops: readonly WriteOp[]): boolean {
  return ops.some(needsSync)
}

/**
 * Writes that change the database by one statement at most (an insert: the tombstone's or the duplicate's counting
 * UPDATE, or the INSERT — never two of them). SQLite undoes a failing statement by itself and keeps the
 * transaction, so such a write needs no savepoint of its own: two statements fewer per webhook insert.
 */
const ONE_STATEMENT: ReadonlySet<WriteName> = new Set<WriteName>(['insert'])

/** Runs batches of writes on `db` (the writer's connection), each batch one immediate transaction. */
export function createOperations (db: Database.Database, keyer?: TombstoneKeyer): (ops: readonly WriteOp[], at: number) => BatchOutcome {
  const handlers = writeHandlers(db, keyer) as Record<WriteName, (op: WriteOp, at: number) => unknown>
  // Built once: inside the batch's transaction it runs as a savepoint.
  const one = db.transaction((op: WriteOp, at: number): unknown => handlers[op.op](op, at))
  const batch = db.transaction((ops: readonly WriteOp[], at: number): BatchOutcome => {
    const out: BatchOutcome = { results: [], wake: false, inserts: 0 }
    for (const op of ops) {
      try {
        // A savepoint, so its failure leaves the rest of the batch intact; a write of one statement needs none.
        const value = ONE_STATEMENT.has(op.op) ? handlers[op.op](op, at) : one(op, at)
        out.results.push({ ok: true, value })
        if (wakes(op, value)) out.wake = true
      } catch (err) {
        // An error that ended the transaction itself (SQLite rolls back on a full disk, I/O, memory) fails the batch.
        if (!db.inTransaction) throw err
        out.results.push({ ok: false, error: (err as Error).message, data: isDataError(op, err) })
      }
      if (op.op === 'insert') out.inserts++
    }
    return out
  })
  // The connection's level, set by openDatabase (FULL) and changed only here. `db.pragma` prepares and runs the pragma
  // each time: SQLite applies `PRAGMA synchronous = …` while it prepares the statement and running it again does
  // nothing, so two statements prepared once would leave the level at whichever was prepared last (NORMAL: no fsync,
  // acknowledged alerts included — test/store/sqlite-fsync.test.ts counts the fsync calls).
  let synced = db.pragma('synchronous', { simple: true }) === 2
  // IMMEDIATE: take the write lock before reading, so a busy database makes us wait our turn (busy_timeout)
  // instead of failing when a read transaction cannot be upgraded.
  return (ops, at) => {
    const sync = batchIsSynced(ops)
    if (sync !== synced) {
      db.pragma(sync ? 'synchronous = FULL' : 'synchronous = NORMAL')
      synced = sync
    }
    return batch.immediate(ops, at)
  }
}

/** `tombstoneKey`: BRIDGE_TOMBSTONE_KEY (the writer keys tombstones with it: shared/tombstone.ts). */
export interface WriterInit { file: string, busyTimeoutMs: number, identity?: string, tombstoneKey?: Uint8Array }
/**
 * A batch as the main thread hands it to the committer: `at` is its instant by the store's clock. `checkpoint`:
 * after its commit, copy the whole WAL into the database and truncate it (a purge's bytes must not stay there).
 */
export interface WriterRequest { seq: number, at: number, ops: WriteOp[], checkpoint?: boolean }
export type WriterReply =
  | { seq: number, outcome: BatchOutcome, seconds: number, truncated?: boolean }
  | { seq: number, error: string }

/**
 * Commits requests on `db` (writer thread or inline), refusing them when the file at `file` is no longer
 * the one opened (`identity`): a deleted or replaced file would take every commit with it.
 */
export function createRequestRunner (db: Database.Database, { file, identity, tombstoneKey }: WriterInit): (req: WriterRequest) => WriterReply {
  const run = createOperations(db, tombstoneKeyer(tombstoneKey))
  return req => {
    const started = process.hrtime.bigint()
    try {
      if (identity !== undefined && fileIdentity(file) !== identity) throw new Error(`the database file ${file} was removed or replaced`)
      const outcome = run(req.ops, req.at)
      const truncated = req.checkpoint === true ? checkpoint(db) : undefined
      return { seq: req.seq, outcome, seconds: Number(process.hrtime.bigint() - started) / 1e9, truncated }
    } catch (err) {
      return { seq: req.seq, error: (err as Error).message }
    }
  }
}

/**
 * `wal_checkpoint(TRUNCATE)`: every frame of the WAL copied into the database file and the WAL truncated to zero
 * bytes. False when it could not finish (a reader of another process held an older snapshot past busy_timeout,
 * an I/O error): the next purge tries again.
 */
function checkpoint (db: Database.Database): boolean {
  try {
    const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number, log: number, checkpointed: number }>
    return r !== undefined && r.busy === 0
  } catch {
    return false // the batch before it committed all the same: its writes are answered as committed
  }
}
