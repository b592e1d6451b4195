// The SQLite store's writer thread: owns the connection that commits, so the fsync of a group commit
// blocks this thread and not the event loop that answers HTTP and runs the worker. One batch at a time;
// the main thread gathers the next batch while this one commits.
import { parentPort, workerData } from 'node:worker_threads'
import { openDatabase } from './connection.js'
import { createRequestRunner, type WriterInit, type WriterRequest } from './operations.js'

const init = workerData as WriterInit
// The main thread created the file and holds a connection: the writer must not open it outside SQLite.
const db = openDatabase(init.file, init.busyTimeoutMs, { create: false })
const run = createRequestRunner(db, init)

parentPort!.on('message', (req: WriterRequest | 'close') => {
  if (req === 'close') {
    db.close()
    parentPort!.close()
    return
  }
  parentPort!.postMessage(run(req))
})
