import { Worker } from 'node:worker_threads'
import type Database from 'better-sqlite3'
import { createRequestRunner, type WriterInit, type WriterReply, type WriterRequest } from './operations.js'

/** Carries out a batch of writes, on the writer thread or inline, and reports back through `CommitterEvents`. */
export interface Committer {
  send (req: WriterRequest): void
  /** Closes the writer's connection (after the batch in flight). */
  close (): Promise<void>
}

export interface CommitterEvents {
  /** A batch's reply: committed (with each write's result) or refused. */
  settle (reply: WriterReply): void
  /** The committer itself failed: every write in flight or pending is refused. */
  fail (err: Error): void
  /** Whether a batch is in flight (a writer that exits then owes its answer). */
  inFlight (): boolean
}

/** On the calling thread — for short-lived commands, where nothing else waits on the event loop. */
export function inlineCommitter (db: Database.Database, init: WriterInit, events: CommitterEvents): Committer {
  const run = createRequestRunner(db, init)
  return {
    send (req) {
      const reply = run(req)
      queueMicrotask(() => events.settle(reply))
    },
    async close () {}
  }
}

/** On a writer thread (started on the first batch), so no fsync blocks the event loop. */
export function threadCommitter (init: WriterInit, events: CommitterEvents): Committer {
  let writer: Worker | undefined
  function start (): Worker {
    const w = spawnWriter(init)
    w.on('message', (reply: WriterReply) => events.settle(reply))
    w.on('error', err => events.fail(err))
    w.on('exit', code => {
      if (writer !== w) return
      writer = undefined
      if (code !== 0 || events.inFlight()) events.fail(new Error(`store writer exited (${code})`))
    })
    w.unref()
    return w
  }
  return {
    send (req) {
      writer ??= start()
      writer.ref() // keep the process up while a commit is owed
      writer.postMessage(req)
    },
    async close () {
      const w = writer
      writer = undefined
      if (w === undefined) return
      const exited = new Promise(resolve => w.once('exit', resolve))
      w.ref()
      w.postMessage('close')
      await exited
    }
  }
}

/** Starts the writer thread: compiled JavaScript in production; from the sources (tests) through tsx's loader. */
function spawnWriter (init: WriterInit): Worker {
  // The writer holds a batch at a time: a small heap keeps its isolate from growing like the main one.
  const resourceLimits = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 }
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./writer.js', import.meta.url), { workerData: init, resourceLimits })
  const tsx = import.meta.resolve('tsx/esm/api')
  const writer = new URL('./writer.ts', import.meta.url).href
  return new Worker(`import(${JSON.stringify(tsx)}).then(m => { m.register(); return import(${JSON.stringify(writer)}) })`, { eval: true, workerData: init, resourceLimits })
}
