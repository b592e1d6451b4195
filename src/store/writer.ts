// The store's writer thread: owns the connection that commits webhook inserts, so the fsync of a group
// commit blocks this thread and not the event loop that answers HTTP. One batch at a time; the main
// thread gathers the next batch while this one commits.
import { parentPort, workerData } from 'node:worker_threads'
import { createBatchInsert, openDatabase, type PendingInsert } from './schema.js'

export interface WriterInit { file: string, busyTimeoutMs: number }
export interface WriterRequest { seq: number, at: number, batch: PendingInsert[] }
export type WriterReply =
  | { seq: number, results: Array<{ id: string, duplicate: boolean, test: boolean }>, seconds: number }
  | { seq: number, error: string }

const { file, busyTimeoutMs } = workerData as WriterInit
const db = openDatabase(file, busyTimeoutMs)
const insertBatch = createBatchInsert(db)

parentPort!.on('message', (req: WriterRequest | 'close') => {
  if (req === 'close') {
    db.close()
    parentPort!.close()
    return
  }
  const started = process.hrtime.bigint()
  let reply: WriterReply
  try {
    const results = insertBatch(req.batch, req.at)
    reply = { seq: req.seq, results, seconds: Number(process.hrtime.bigint() - started) / 1e9 }
  } catch (err) {
    reply = { seq: req.seq, error: (err as Error).message }
  }
  parentPort!.postMessage(reply)
})
