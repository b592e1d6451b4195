import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { Finish } from '../../../src/alerts/types.js'
import type { Job } from '../../../src/remediation/worker/job.js'
import { createProducer, type Producer, type ProducerOptions } from '../../../src/remediation/worker/producer.js'
import { captureLogger, waitFor } from '../../helper.js'
import { holdWriteLock, linesWith, queued, sleep, tempStore, type TempStore } from './fixtures.js'

const OWNER = 'test-host/1/producer'
const done: Finish = { outcome: 'no-user', users: [], actions: [] }

/** One execution: it holds its slot until `free` or `end` (or `finish`, which first records the alert done), its alert until `end`. */
interface Run { job: Job, at: number, free (): void, end (): void, finish (): Promise<void> }

interface World extends TempStore {
  producer: Producer
  lines: string[]
  runs: Run[]
  storeErrors: string[]
  /** When the store answered a claim. */
  storeAnswers: number[]
}

function world (t: TestContext, options: Partial<ProducerOptions> = {}, at: TempStore = tempStore(t)): World {
  const { logger, lines } = captureLogger()
  const runs: Run[] = []
  const storeErrors: string[] = []
  const storeAnswers: number[] = []
  const producer = createProducer({
    owner: OWNER,
    concurrency: 2,
    leaseMs: 60_000,
    queue: at.store.queue,
    changes: at.store.changes,
    log: logger,
    execute: (job, free) => new Promise<void>(resolve => {
      runs.push({
        job,
        at: Date.now(),
        free,
        end: resolve,
        finish: async () => {
          assert.equal(await at.store.queue.finish(job.lease, done), true)
          resolve()
        }
      })
    }),
    isPaused: () => false,
    onStoreError: (_err, what) => storeErrors.push(what),
    onStoreAnswers: () => storeAnswers.push(Date.now()),
    ...options
  })
  t.after(async () => {
    producer.stop()
    for (const r of runs) r.end()
    await producer.drain(1000)
  })
  return { ...at, producer, lines, runs, storeErrors, storeAnswers }
}

test('claims up to the concurrency bound, and the next alert as soon as one finishes', async t => {
  const w = world(t)
  const ids = [await queued(w.store, 'a@acme-corp.io'), await queued(w.store, 'b@acme-corp.io'), await queued(w.store, 'c@acme-corp.io')]
  w.producer.start()
  w.producer.pump()
  await waitFor(() => w.runs.length === 2, 'two alerts running')
  w.producer.pump()
  await sleep(200)
  assert.equal(w.runs.length, 2, 'never more than the bound')
  assert.equal(w.producer.inFlight, 2)
  assert.equal((await w.store.alerts.get(ids[2]!))!.state, 'queued')
  assert.deepEqual(w.runs.map(r => r.job.lease.owner), [OWNER, OWNER])
  await w.runs[0]!.finish()
  await waitFor(() => w.runs.length === 3, 'the third alert to be claimed')
  assert.deepEqual(w.runs.map(r => r.job.alert.id).sort(), [...ids].sort())
  assert.equal(w.runs[2]!.job.planned, false, 'a first attempt: nothing planned yet')
})

test('nothing is claimed before start, and new work wakes it through the store\'s change feed once it listens', async t => {
  const w = world(t)
  await queued(w.store, 'early@acme-corp.io')
  w.producer.pump()
  await sleep(100)
  assert.equal(w.runs.length, 0, 'not started')
  w.producer.start()
  await queued(w.store, 'second@acme-corp.io')
  await sleep(300)
  assert.equal(w.runs.length, 0, 'not listening: nothing noticed the insert')
  w.producer.listen()
  await queued(w.store, 'late@acme-corp.io')
  await waitFor(() => w.runs.length === 2, 'two alerts claimed (the bound) after the change')
})

test('an alert due later is claimed when it is due, by the wake-up timer alone', async t => {
  const w = world(t)
  await queued(w.store, 'later@acme-corp.io')
  w.producer.start() // not listening: no change wakes it
  w.producer.pump()
  await waitFor(() => w.runs.length === 1, 'the first attempt')
  const first = w.runs[0]!
  assert.equal(await w.store.queue.retry(first.job.lease, 500, 'HTTP 503', []), true)
  const retried = Date.now()
  // The attempt ends: the producer looks once, finds nothing due, and sets its timer to the due time.
  first.end()
  await waitFor(() => w.runs.length === 2, 'the retry', 5000)
  const after = w.runs[1]!.at - retried
  assert.ok(after >= 400, `claimed again after ${after} ms, not before it was due`)
  assert.equal(w.runs[1]!.job.alert.attempts, 2)
  assert.equal(w.runs[1]!.job.planned, false)
})

test('paused: nothing is claimed; a pump after the pause claims', async t => {
  let paused = true
  const w = world(t, { isPaused: () => paused })
  const id = await queued(w.store, 'held@acme-corp.io')
  w.producer.start()
  w.producer.listen()
  w.producer.pump()
  await sleep(200)
  assert.equal(w.runs.length, 0)
  assert.equal((await w.store.alerts.get(id))!.state, 'queued')
  paused = false
  w.producer.pump()
  await waitFor(() => w.runs.length === 1, 'the alert claimed')
})

test('a claim the store refuses is reported to the back-off; the first claim that succeeds reports the store back', async t => {
  const w = world(t)
  await queued(w.store, 'locked@acme-corp.io')
  const lock = holdWriteLock(t, w.file)
  w.producer.start()
  w.producer.pump()
  await waitFor(() => w.storeErrors.length === 1, 'the failed claim')
  assert.deepEqual(w.storeErrors, ['claiming alerts'])
  assert.deepEqual(w.storeAnswers, [])
  lock.release()
  w.producer.pump() // the back-off's wake-up, in the worker
  await waitFor(() => w.runs.length === 1, 'the alert claimed')
  assert.ok(w.storeAnswers.length >= 1)
})

test('its own alert claimed again under a new lease (the clock jumped): carried on under the new token, not run twice', async t => {
  let clock = Date.now()
  const w = world(t, { leaseMs: 1000 }, tempStore(t, { now: () => clock }))
  await queued(w.store, 'jump@acme-corp.io')
  w.producer.start()
  w.producer.pump()
  await waitFor(() => w.runs.length === 1, 'the alert running')
  const token = w.runs[0]!.job.lease.token
  clock += 5000 // its lease expired while it ran
  w.producer.pump()
  await waitFor(() => w.runs[0]!.job.lease.token > token, 'the new lease handed to the running job')
  await sleep(100)
  assert.equal(w.runs.length, 1, 'not run twice')
  assert.equal(w.producer.inFlight, 1)
  await w.runs[0]!.finish() // under the new token: recorded
})

test('stop: nothing more is claimed; drain waits for the alerts in flight, at most its limit', async t => {
  // The producer's timers do not keep a process alive (in the bridge, its HTTP server does): this test does.
  const alive = setInterval(() => undefined, 1000)
  t.after(() => clearInterval(alive))
  const w = world(t)
  await queued(w.store, 'slow@acme-corp.io')
  w.producer.start()
  w.producer.listen()
  w.producer.pump()
  await waitFor(() => w.runs.length === 1, 'the alert running')
  w.producer.stop()
  assert.equal(w.producer.stopping, true)
  await queued(w.store, 'after@acme-corp.io')
  w.producer.pump()
  let started = Date.now()
  await w.producer.drain(200)
  assert.ok(Date.now() - started >= 190, 'waited for its limit')
  assert.equal(w.runs.length, 1, 'nothing claimed after stop')
  setTimeout(() => { w.runs[0]!.finish().catch(() => undefined) }, 100)
  started = Date.now()
  await w.producer.drain(10_000)
  assert.ok(Date.now() - started < 5000, 'ended when the alert did')
  assert.equal(w.producer.inFlight, 0)
})

test('an execution that throws is logged with its alert and frees its slot', async t => {
  const w = world(t, { execute: async () => { throw new Error('a bug') } })
  const id = await queued(w.store, 'bug@acme-corp.io')
  w.producer.start()
  w.producer.pump()
  const [line] = await waitFor(() => { const l = linesWith(w.lines, 'unexpected error in the worker'); return l.length > 0 ? l : undefined }, 'the error line')
  assert.deepEqual([line!.level, line!.alertId, line!.err?.message], [50, id, 'a bug'])
  await waitFor(() => w.producer.inFlight === 0, 'the slot freed')
})

test('prefetch: alerts claimed ahead, several per claim, while some still wait; a freed slot starts the next at once; they are held until they run, and not started after stop', async t => {
  const alive = setInterval(() => undefined, 1000)
  t.after(() => clearInterval(alive))
  const claims: boolean[] = []
  const at = tempStore(t)
  const claim = async (...args: Parameters<typeof at.store.queue.claim>): ReturnType<typeof at.store.queue.claim> => {
    claims.push(args[3] === true)
    return await at.store.queue.claim(...args)
  }
  const queue = { ...at.store.queue, claim }
  const w = world(t, { prefetch: 2, queue }, at)
  for (let i = 0; i < 10; i++) await queued(w.store, `ahead-${i}@acme-corp.io`)
  w.producer.start()
  w.producer.pump()
  await waitFor(() => w.runs.length === 2, 'two alerts running')
  await waitFor(async () => (await w.store.alerts.countByState()).processing === 6, 'twice two more claimed ahead')
  assert.deepEqual(claims, [false], 'one claim, for idle slots, for the running and the prefetched alerts')
  assert.equal(w.producer.inFlight, 2, 'never more running than the bound')
  assert.equal(w.producer.held().length, 6, 'the heartbeat keeps the alerts claimed ahead')
  await w.runs[0]!.finish()
  await waitFor(() => w.runs.length === 3, 'the next alert started')
  assert.equal(claims.length, 1, 'started from those claimed ahead, without a claim')
  await w.runs[1]!.finish()
  await waitFor(() => w.runs.length === 4, 'the fourth started')
  await waitFor(() => claims.length === 2, 'a claim once a batch of two is missing')
  assert.equal(claims[1], true, 'made ahead: two alerts still wait to run')
  await waitFor(async () => (await w.store.alerts.countByState()).queued === 2, 'two more claimed ahead')
  w.producer.stop()
  await w.runs[2]!.finish()
  await sleep(200)
  assert.equal(w.runs.length, 4, 'nothing started after stop: what was claimed ahead waits for the release at shutdown')
})

test('a slot freed while its alert is still being recorded runs the next alert; at most twice `concurrency` alerts are in flight, each held', async t => {
  const w = world(t)
  for (let i = 0; i < 6; i++) await queued(w.store, `free-${i}@acme-corp.io`)
  w.producer.start()
  w.producer.pump()
  await waitFor(() => w.runs.length === 2, 'two alerts running')
  w.runs[0]!.free()
  await waitFor(() => w.runs.length === 3, 'the freed slot runs the next alert')
  assert.equal(w.producer.inFlight, 3, 'the first is still in flight: its transition is not recorded yet')
  assert.ok(w.producer.held().some(l => l.alertId === w.runs[0]!.job.alert.id), 'and its lease still renewed')
  w.runs[1]!.free()
  await waitFor(() => w.runs.length === 4, 'and the next')
  w.runs[2]!.free()
  await sleep(100)
  assert.equal(w.runs.length, 4, 'four in flight, three of them waiting to be recorded: no fifth starts, though a slot is free')
  assert.equal(w.producer.inFlight, 4)
  w.runs[0]!.end()
  await waitFor(() => w.runs.length === 5, 'one recorded: the next starts')
  assert.equal(w.producer.held().some(l => l.alertId === w.runs[0]!.job.alert.id), false, 'the recorded alert is no longer held')
})
