import { test, type TestContext } from 'node:test'
import type { Logger } from 'pino'
import assert from 'node:assert/strict'
import type { ActionLogEntry, UserOutcome } from '../../../src/alerts/types.js'
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js'
import { createCompleter, type Completer, type CompleterOptions, type Transition } from '../../../src/remediation/worker/completer.js'
import type { Store } from '../../../src/store/types.js'
import { captureLogger, waitFor } from '../../helper.js'
import { claimOne, holdWriteLock, linesWith, queued, tempStore, type TempStore } from './fixtures.js'

interface World extends TempStore {
  completer: Completer
  /** The completer's log, also handed to it as the alert's own log. */
  log: Logger
  lines: string[]
  metrics: Metrics
  /** What the completer told the store back-off and the digest. */
  failed: string[]
  recovered: number[]
  dead: Array<[string, string]>
}

function world (t: TestContext, options: Partial<CompleterOptions> = {}, at: TempStore = tempStore(t)): World {
  const { logger, lines } = captureLogger()
  const metrics = createMetrics({ defaults: false })
  const failed: string[] = []
  const recovered: number[] = []
  const dead: Array<[string, string]> = []
  const completer = createCompleter({
    queue: at.store.queue,
    log: logger,
    metrics,
    leaseMs: 5000,
    storeRetryMs: 50,
    storeHealth: { failed: (_err, what) => failed.push(what), recovered: () => recovered.push(Date.now()) },
    isStopping: () => false,
    onDead: (alertId, reason) => dead.push([alertId, reason]),
    ...options
  })
  return { ...at, completer, log: logger, lines, metrics, failed, recovered, dead }
}

const users: UserOutcome[] = [{ userId: 'u1', tenantId: 't1', email: 'ann@acme-corp.io', outcome: 'actioned' }]
const actions: ActionLogEntry[] = [{ at: '2026-01-01T00:00:00.000Z', action: 'deactivate', status: 'ok' }]
const metric = async (m: Metrics, line: RegExp): Promise<boolean> => line.test(await m.registry.metrics())

async function claimed (store: Store, email = 'ann@acme-corp.io'): Promise<ReturnType<typeof claimOne>> {
  await queued(store, email)
  return claimOne(store)
}

test('finished: recorded under the lease, then counted and logged once as alert.finished, users without their email', async t => {
  const w = world(t)
  const job = await claimed(w.store)
  assert.equal(await w.completer.complete(job, { kind: 'finished', outcome: 'actioned', users, actions }, w.log), true)
  const a = (await w.store.alerts.get(job.alert.id))!
  assert.deepEqual([a.state, a.outcome, a.users, a.leaseOwner], ['done', 'actioned', users, undefined])
  const [line, ...more] = linesWith(w.lines, 'alert finished')
  assert.equal(more.length, 0)
  assert.equal(line!.event, 'alert.finished')
  assert.deepEqual(line!.users, [{ userId: 'u1', tenantId: 't1', outcome: 'actioned' }])
  assert.equal(line!.attempts, 1)
  assert.ok(await metric(w.metrics, /^enzoic_bridge_alerts_finished_total\{outcome="actioned"\} 1$/m))
  assert.ok(await metric(w.metrics, /^enzoic_bridge_alert_completion_seconds_count\{outcome="actioned"\} 1$/m))
  assert.deepEqual(w.dead, [])
})

test('the three ways to die: each recorded dead with its reason, one alert.dead line, the digest told, the alert finished', async t => {
  const cases: Array<{ transition: Transition, lastError: string, outcome: string, msg: string, event: Record<string, unknown>, notice: string }> = [
    {
      transition: { kind: 'step-refused', reason: 'FusionAuth refused deactivate (400)', outcome: 'partial', users, actions },
      lastError: 'FusionAuth refused deactivate (400)',
      outcome: 'partial',
      msg: 'alert dead: FusionAuth refused a step (alerts replay retries it)',
      event: { reason: 'FusionAuth refused deactivate (400)', outcome: 'partial' },
      notice: 'FusionAuth refused deactivate (400)'
    },
    {
      transition: { kind: 'lookup-refused', reason: 'user.search: 400', actions },
      lastError: 'user.search: 400',
      outcome: 'failed',
      msg: 'alert dead: FusionAuth refused the lookup',
      event: { reason: 'user.search: 400', outcome: 'failed' },
      notice: 'user.search: 400'
    },
    {
      transition: { kind: 'retries-exhausted', reason: 'HTTP 503', actions },
      lastError: 'retry schedule exhausted after 1 attempts: HTTP 503',
      outcome: 'failed',
      msg: 'alert dead: retry schedule exhausted',
      event: { reason: 'HTTP 503', attempts: 1, outcome: 'failed' },
      notice: 'retry schedule exhausted: HTTP 503'
    }
  ]
  for (const c of cases) {
    await t.test(c.transition.kind, async st => {
      const w = world(st)
      const job = await claimed(w.store)
      assert.equal(await w.completer.complete(job, c.transition, w.log), true)
      const a = (await w.store.alerts.get(job.alert.id))!
      assert.deepEqual([a.state, a.outcome, a.lastError], ['dead', c.outcome, c.lastError])
      const [dead, ...more] = linesWith(w.lines, c.msg)
      assert.equal(more.length, 0)
      assert.deepEqual({ event: dead!.event, level: dead!.level, ...Object.fromEntries(Object.keys(c.event).map(k => [k, dead![k]])) }, { event: 'alert.dead', level: 50, ...c.event })
      assert.deepEqual(w.dead, [[job.alert.id, c.notice]])
      assert.equal(linesWith(w.lines, 'alert finished')[0]?.outcome, c.outcome)
      assert.ok(await metric(w.metrics, new RegExp(`^enzoic_bridge_alerts_finished_total\\{outcome="${c.outcome}"\\} 1$`, 'm')))
    })
  }
})

test('retrying: due again after the delay, one alert.retrying line; waiting: due at the grace deadline, one alert.waiting line', async t => {
  const w = world(t)
  const retried = await claimed(w.store, 'bea@acme-corp.io')
  const before = Date.now()
  assert.equal(await w.completer.complete(retried, { kind: 'retrying', delayMs: 120_000, reason: 'HTTP 503', actions }, w.log), true)
  const r = (await w.store.alerts.get(retried.alert.id))!
  assert.deepEqual([r.state, r.lastError, r.attempts], ['retrying', 'HTTP 503', 1])
  const due = Date.parse(r.nextAttemptAt!) - before
  assert.ok(due >= 119_000 && due <= 121_000, `due in ${due} ms`)
  assert.deepEqual(linesWith(w.lines, 'FusionAuth call failed, will retry').map(l => [l.event, l.reason, l.retryInSeconds]), [['alert.retrying', 'HTTP 503', 120]])

  const waiting = await claimed(w.store, 'cy@acme-corp.io')
  const note = 'grace period: 1 step(s) due later'
  assert.equal(await w.completer.complete(waiting, { kind: 'waiting', dueInMs: 3_600_000, users, actions, note }, w.log), true)
  assert.equal((await w.store.alerts.get(waiting.alert.id))!.state, 'waiting')
  const [line] = linesWith(w.lines, note)
  assert.equal(line?.event, 'alert.waiting')
  assert.ok(Math.abs(Date.parse(line.dueAt) - (Date.now() + 3_600_000)) < 5000, line.dueAt)
  assert.deepEqual(linesWith(w.lines, 'alert finished'), [], 'neither finished the alert')
})

test('released: due now, the attempt not counted, and nothing said about the alert', async t => {
  const w = world(t)
  const job = await claimed(w.store)
  assert.equal(await w.completer.complete(job, { kind: 'released' }, w.log), true)
  const a = (await w.store.alerts.get(job.alert.id))!
  assert.deepEqual([a.state, a.attempts, a.leaseOwner], ['queued', 0, undefined])
  assert.deepEqual(w.lines, [])
})

test('a lease lost to a new holder: nothing recorded over it, a warning, false', async t => {
  let clock = Date.now()
  const w = world(t, {}, tempStore(t, { now: () => clock }))
  await queued(w.store, 'dee@acme-corp.io')
  const stale = await claimOne(w.store, 'test-host/1/old', 1000)
  clock += 5000 // the lease expired: another holder claims the alert
  const current = await claimOne(w.store, 'test-host/2/new', 60_000)
  assert.equal(await w.completer.complete(stale, { kind: 'finished', outcome: 'actioned', users, actions }, w.log), false)
  const a = (await w.store.alerts.get(stale.alert.id))!
  assert.deepEqual([a.state, a.leaseOwner], ['processing', current.lease.owner])
  assert.deepEqual(linesWith(w.lines, 'lease lost before the alert could be finished; its new holder carries on').map(l => [l.level, l.alertId]), [[40, stale.alert.id]])
  assert.deepEqual(linesWith(w.lines, 'alert finished'), [])
})

test('a store that fails for a while: the record is retried until it answers, and the back-off is told both', async t => {
  const w = world(t)
  const job = await claimed(w.store)
  const lock = holdWriteLock(t, w.file)
  const recording = w.completer.complete(job, { kind: 'finished', outcome: 'actioned', users, actions }, w.log)
  await waitFor(() => w.failed.length >= 2, 'two failed tries')
  lock.release()
  assert.equal(await recording, true)
  assert.ok(w.failed.every(what => what === 'recording an alert as finished'), w.failed.join())
  assert.equal(w.recovered.length, 1)
  assert.equal((await w.store.alerts.get(job.alert.id))!.state, 'done')
  assert.equal(linesWith(w.lines, 'alert finished').length, 1)
})

test('a store that stays down past a lease: the completer gives up, says so, and leaves the alert to its lease', async t => {
  const w = world(t, { leaseMs: 400 })
  const job = await claimed(w.store)
  const lock = holdWriteLock(t, w.file)
  const started = Date.now()
  assert.equal(await w.completer.complete(job, { kind: 'retrying', delayMs: 1000, reason: 'HTTP 503', actions }, w.log), false)
  const took = Date.now() - started
  assert.ok(took < 400 + 1000, `gave up after ${took} ms`)
  assert.ok(w.failed.length >= 2, `tried ${w.failed.length} times`)
  const [line] = linesWith(w.lines, 'could not record the alert as retrying; it will run again when its lease expires')
  assert.deepEqual([line?.level, line?.alertId], [50, job.alert.id])
  lock.release()
  assert.equal((await w.store.alerts.get(job.alert.id))!.state, 'processing', 'still under the lease')
})

test('while the worker stops, a failing record is not retried', async t => {
  const w = world(t, { isStopping: () => true })
  const job = await claimed(w.store)
  holdWriteLock(t, w.file)
  assert.equal(await w.completer.complete(job, { kind: 'released' }, w.log), false)
  assert.deepEqual(w.failed, ['recording an alert as released'])
  assert.equal(linesWith(w.lines, 'could not record the alert as released; it will run again when its lease expires').length, 1)
})

test('storeCall (what remediate() records steps through) answers the call\'s value and rethrows once past the lease', async t => {
  const w = world(t, { leaseMs: 200 })
  assert.equal(await w.completer.storeCall('reading', async () => 42), 42)
  let calls = 0
  await assert.rejects(w.completer.storeCall('planning steps', async () => { calls++; throw new Error('disk gone') }), /disk gone/)
  assert.ok(calls >= 2 && calls <= 4, `tried ${calls} times`)
  assert.ok(w.failed.every(what => what === 'planning steps'))
})
