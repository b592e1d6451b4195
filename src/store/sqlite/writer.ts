// The SQLite store's writer thread: owns the connection that commits, so the fsync of a group commit
// blocks this thread and not the event loop that answers HTTP and runs the worker. One batch at a time;
// the main thread gathers the next batch while this one commits.
import { parentPort, workerData } from 'node:worker_threads'
import { fileIdentity, openDatabase } from './connection.js'
import { createOperations, type BatchOutcome, type WriteOp } from './operations.js'

export interface WriterInit { file: string, busyTimeoutMs: number, identity?: string }
export interface WriterRequest { seq: number, at: number, ops: WriteOp[] }
export type WriterReply =
  | { seq: number, outcome: BatchOutcome, seconds: number }
  | { seq: number, error: string }

const { file, busyTimeoutMs, identity } = workerData as WriterInit
// The main thread created the file and holds a connection: the writer must not open it outside SQLite.
const db = openDatabase(file, busyTimeoutMs, { create: false })
const run = createOperations(db)

parentPort!.on('message', (req: WriterRequest | 'close') => {
  if (req === 'close') {
    db.close()
    parentPort!.close()
    return
  }
  const started = process.hrtime.bigint()
  let reply: WriterReply
  try {
    // A deleted or replaced file would take every commit with it: refuse rather than acknowledge.
    if (identity !== undefined && fileIdentity(file) !== identity) throw new Error(`the database file ${file} was removed or replaced`)
    const outcome = run(req.ops, req.at)
    reply = { seq: req.seq, outcome, seconds: Number(process.hrtime.bigint() - started) / 1e9 }
  } catch (err) {
    reply = { seq: req.seq, error: (err as Error).message }
  }
  parentPort!.postMessage(reply)
})
