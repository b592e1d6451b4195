import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { threadId, Worker } from 'node:worker_threads'
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

/** Starts the writer thread: compiled JavaScript in production; from the sources, one bundle of them. */
function spawnWriter (init: WriterInit): Worker {
  // The writer holds a batch at a time: a small heap keeps its isolate from growing like the main one.
  const resourceLimits = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 }
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./writer.js', import.meta.url), { workerData: init, resourceLimits })
  return new Worker(writerFromSources(), { workerData: init, resourceLimits, execArgv: [] })
}

let writerBundle: { code: Uint8Array, file: string } | undefined
/**
 * The writer and the modules it imports, from the sources (tests, `npm run dev`), bundled once per process with
 * esbuild (the compiler tsx runs). Through tsx's loader a new thread cost ~390 ms of CPU (a loader thread of its
 * own, every module a round trip to it); the bundle starts in ~70 ms, and the test suite opens a few hundred
 * SQLite stores. The file is named by its content's hash, written whole then renamed into place, in
 * node_modules/.cache (packages resolve from there as from the sources; nothing of it goes into git; `npm test`
 * empties the folder), and written again if it went away. Where it cannot be built or written, the thread runs
 * the sources through tsx as before. esbuild is a development dependency, as tsx is: only a clone runs the sources.
 */
function writerFromSources (): URL {
  try {
    writerBundle ??= bundleWriter()
    const { code, file } = writerBundle
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true })
      const partial = `${file}.${process.pid}.${threadId}.tmp`
      writeFileSync(partial, code)
      renameSync(partial, file)
    }
    return pathToFileURL(file)
  } catch {
    const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'))
    const writer = JSON.stringify(new URL('./writer.ts', import.meta.url).href)
    return new URL(`data:text/javascript,${encodeURIComponent(`import(${tsx}).then(m => { m.register(); return import(${writer}) })`)}`)
  }
}

function bundleWriter (): { code: Uint8Array, file: string } {
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild')
  const { outputFiles } = esbuild.buildSync({
    entryPoints: [fileURLToPath(new URL('./writer.ts', import.meta.url))],
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node}`,
    sourcemap: 'inline',
    write: false
  })
  const code = outputFiles[0]!.contents
  const dir = fileURLToPath(new URL('../../../node_modules/.cache/enzoic-fusionauth-bridge/', import.meta.url))
  return { code, file: join(dir, `sqlite-writer-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`) }
}
