import { remediationSettings } from '../../../src/config/parts.js'
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { SqliteStoreOptions } from '../../../src/store/sqlite/index.js'
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js'
import { createCompleter } from '../../../src/remediation/worker/completer.js'
import { createExecutor, type Executor } from '../../../src/remediation/worker/executor.js'
import { createHealth, type Health } from '../../../src/remediation/worker/health/index.js'
import type { Job } from '../../../src/remediation/worker/job.js'
import type { FusionAuthFake } from '../../fakes/fusionauth.js'
import { captureLogger, testConfig, waitFor } from '../../helper.js'
import { claimOne, fusionAuth, holdWriteLock, linesWith, queued, sleep, tempStore, type TempStore } from './fixtures.js'

interface World extends TempStore {
  fa: FusionAuthFake
  executor: Executor
  health: Health
  metrics: Metrics
  lines: string[]
  /** The store back-off's requests to look for work later. */
  wakes: number[]
  /** A FusionAuth user with this email, in the fake's tenant. */
  user (email: string): string
  /** Stores an alert for `email` and claims it, as the producer would. */
  claim (email: string): Promise<Job>
}

interface WorldOptions { env?: Record<string, string>, store?: Partial<SqliteStoreOptions>, leaseMs?: number }

/** The real executor with the real completer and health, over a real store and the real gateway to the FusionAuth fake. */
async function world (t: TestContext, options: WorldOptions = {}): Promise<World> {
  const at = tempStore(t, options.store)
  const { fa, gateway } = await fusionAuth(t)
  const config = testConfig(at.dir, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_RETRY_SCHEDULE: '50ms', ...options.env })
  const { logger, lines } = captureLogger()
  const metrics = createMetrics({ defaults: false })
  const wakes: number[] = []
  // Probes far apart: only what the executor reports moves health in these tests.
  const health = createHealth({
    gateway,
    queue: at.store.queue,
    log: logger,
    metrics,
    probeIntervalMs: 60_000,
    pausedLogIntervalMs: 60_000,
    readinessCacheMs: 0,
    storeRetryMs: 50,
    recoveryProbeMs: 60_000,
    onPaused: () => undefined,
    wakeIn: ms => wakes.push(ms),
    resume: () => undefined
  })
  t.after(() => health.stop())
  const completer = createCompleter({
    queue: at.store.queue,
    log: logger,
    metrics,
    leaseMs: options.leaseMs ?? 5000,
    storeRetryMs: 50,
    storeHealth: { failed: health.storeFailed, recovered: health.storeRecovered },
    isStopping: () => false,
    onDead: () => undefined
  })
  const remediation = { settings: remediationSettings(config), gateway, store: at.store }
  const executor = createExecutor({ remediation, retrySchedule: config.retrySchedule, random: () => 0.5, log: logger, metrics, completer, health })
  return {
    ...at,
    fa,
    executor,
    health,
    metrics,
    lines,
    wakes,
    user: email => fa.addUser({ tenantId: fa.tenants[0]!.id, email }).id,
    async claim (email) {
      await queued(at.store, email)
      return claimOne(at.store)
    }
  }
}

const isDeactivation = (m: string, p: string): boolean => m === 'DELETE' && p.startsWith('/api/user/')
const isLookup = (m: string, p: string): boolean => m === 'GET' && p === '/api/user'

test('a user found: the actions run, the alert is finished, each step counted', async t => {
  const w = await world(t)
  const userId = w.user('ann@acme-corp.io')
  const job = await w.claim('ann@acme-corp.io')
  await w.executor.execute(job)
  assert.equal(w.fa.user(userId)!.active, false)
  const a = (await w.store.alerts.get(job.alert.id))!
  assert.deepEqual([a.state, a.outcome, a.attempts], ['done', 'actioned', 1])
  const [line] = linesWith(w.lines, 'alert finished')
  assert.deepEqual([line?.alertId, line?.attempt, line?.outcome], [job.alert.id, 1, 'actioned'])
  const text = await w.metrics.registry.metrics()
  assert.match(text, /^enzoic_bridge_remediation_steps_total\{action="deactivate",result="done"\} 1$/m)
  assert.match(text, /^enzoic_bridge_remediation_steps_total\{action="revoke-sessions",result="done"\} 1$/m)
})

test('the slot is freed once the FusionAuth work is over and the transition handed to the store, before it commits', async t => {
  const w = await world(t)
  w.user('fay@acme-corp.io')
  const job = await w.claim('fay@acme-corp.io')
  let seen: Promise<string | undefined> | undefined
  let deactivations = 0
  await w.executor.execute(job, () => {
    deactivations = w.fa.journal.filter(r => isDeactivation(r.method, r.path)).length
    seen = w.store.alerts.get(job.alert.id).then(a => a?.state)
  })
  assert.equal(deactivations, 1, 'freed after the FusionAuth calls')
  assert.equal(await seen, 'processing', 'freed before the transition committed')
  assert.equal((await w.store.alerts.get(job.alert.id))!.state, 'done', 'execute settles once it committed')
})

test('FusionAuth failing (503): the alert waits out the schedule\'s step; the next alert FusionAuth answers makes it due at once', async t => {
  const w = await world(t, { env: { BRIDGE_RETRY_SCHEDULE: '10m' } })
  w.user('bea@acme-corp.io')
  w.user('cy@acme-corp.io')
  w.fa.fail(503)
  const failing = await w.claim('bea@acme-corp.io')
  await w.executor.execute(failing)
  const waiting = (await w.store.alerts.get(failing.alert.id))!
  assert.equal(waiting.state, 'retrying')
  assert.ok(Date.parse(waiting.nextAttemptAt!) - Date.now() > 9 * 60_000, 'ten minutes away (random pinned to the middle)')
  assert.deepEqual(linesWith(w.lines, 'FusionAuth call failed, will retry').map(l => l.retryInSeconds), [600])

  w.fa.clearFaults()
  await w.executor.execute(await w.claim('cy@acme-corp.io'))
  const [back] = await waitFor(() => { const l = linesWith(w.lines, /^FusionAuth answers again/); return l.length > 0 ? l : undefined }, 'FusionAuth back')
  assert.equal(back!.alerts, 1)
  assert.ok(Date.parse((await w.store.alerts.get(failing.alert.id))!.nextAttemptAt!) <= Date.now(), 'due now')
})

test('429 with Retry-After: the wait is what FusionAuth asked, and a busy FusionAuth is not taken for a down one', async t => {
  const w = await world(t)
  w.user('dee@acme-corp.io')
  w.user('eve@acme-corp.io')
  w.fa.fail(429, { times: 1, retryAfter: 30, match: isDeactivation })
  const job = await w.claim('dee@acme-corp.io')
  await w.executor.execute(job)
  const a = (await w.store.alerts.get(job.alert.id))!
  assert.equal(a.state, 'retrying')
  assert.ok(Date.parse(a.nextAttemptAt!) - Date.now() > 25_000, 'the schedule said 50 ms, FusionAuth 30 s')
  assert.deepEqual(linesWith(w.lines, 'FusionAuth call failed, will retry').map(l => l.retryInSeconds), [30])
  await w.executor.execute(await w.claim('eve@acme-corp.io'))
  await sleep(50) // time for an expedite, had there been an outage
  assert.deepEqual(linesWith(w.lines, /^FusionAuth answers again/), [])
  assert.ok(Date.parse((await w.store.alerts.get(job.alert.id))!.nextAttemptAt!) - Date.now() > 25_000, 'not brought forward')
})

test('401: the worker pauses and the alert is given back unattempted', async t => {
  const w = await world(t)
  const userId = w.user('fay@acme-corp.io')
  w.fa.revokeKey()
  const job = await w.claim('fay@acme-corp.io')
  await w.executor.execute(job)
  assert.equal(w.health.paused, true)
  const a = (await w.store.alerts.get(job.alert.id))!
  assert.deepEqual([a.state, a.attempts, a.leaseOwner], ['queued', 0, undefined])
  assert.deepEqual(await w.store.steps.list(job.alert.id), [])
  assert.equal(linesWith(w.lines, /^FusionAuth refused the API key: worker paused/)[0]?.event, 'worker.paused')
  assert.equal(w.fa.user(userId)!.active, true)
})

test('a lookup FusionAuth refuses for good (400): dead at once, not retried', async t => {
  const w = await world(t)
  w.user('gus@acme-corp.io')
  w.fa.fail(400, { match: isLookup })
  const job = await w.claim('gus@acme-corp.io')
  await w.executor.execute(job)
  const a = (await w.store.alerts.get(job.alert.id))!
  assert.deepEqual([a.state, a.outcome, a.attempts], ['dead', 'failed', 1])
  assert.match(a.lastError ?? '', /400/)
  assert.equal(linesWith(w.lines, 'alert dead: FusionAuth refused the lookup').length, 1)
  assert.deepEqual(w.fa.mutatingCalls(), [])
})

test('a step FusionAuth refuses for good (400): the other steps still run, the alert is dead with its users', async t => {
  const w = await world(t)
  const userId = w.user('hal@acme-corp.io')
  w.fa.fail(400, { match: isDeactivation })
  const job = await w.claim('hal@acme-corp.io')
  await w.executor.execute(job)
  const a = (await w.store.alerts.get(job.alert.id))!
  assert.equal(a.state, 'dead')
  assert.match(a.lastError ?? '', /FusionAuth refused deactivate/)
  assert.deepEqual(a.users.map(u => u.userId), [userId])
  assert.deepEqual((await w.store.steps.list(job.alert.id)).map(s => [s.action, s.state]), [['deactivate', 'failed'], ['revoke-sessions', 'done']])
  assert.equal(linesWith(w.lines, 'alert dead: FusionAuth refused a step (alerts replay retries it)').length, 1)
})

test('the retry schedule exhausted: dead, with the attempts made and the last cause', async t => {
  const w = await world(t)
  w.user('ida@acme-corp.io')
  w.fa.fail(500)
  const first = await w.claim('ida@acme-corp.io')
  await w.executor.execute(first)
  assert.equal((await w.store.alerts.get(first.alert.id))!.state, 'retrying')
  const second = await waitFor(async () => (await w.store.queue.claim('test-host/1/claimer', 1, 60_000))[0], 'the retry to be due')
  await w.executor.execute({ alert: second.alert, lease: second.lease, planned: second.planned, validUntil: Infinity })
  const a = (await w.store.alerts.get(first.alert.id))!
  assert.deepEqual([a.state, a.attempts], ['dead', 2])
  assert.match(a.lastError ?? '', /^retry schedule exhausted after 2 attempts: .*500/)
  assert.equal(linesWith(w.lines, 'alert dead: retry schedule exhausted')[0]?.attempts, 2)
})

test('a lease lost while the alert ran: nothing is recorded over the new holder, and nothing is changed in FusionAuth', async t => {
  let clock = Date.now()
  const w = await world(t, { store: { now: () => clock } })
  w.user('jo@acme-corp.io')
  await queued(w.store, 'jo@acme-corp.io')
  const stale = await claimOne(w.store, 'test-host/1/old', 1000)
  clock += 5000
  const current = await claimOne(w.store, 'test-host/2/new', 60_000)
  await w.executor.execute(stale)
  assert.equal(linesWith(w.lines, 'alert lease lost while it ran; its holder carries on (recorded steps are not repeated)').length, 1)
  const a = (await w.store.alerts.get(stale.alert.id))!
  assert.deepEqual([a.state, a.leaseOwner], ['processing', current.lease.owner])
  assert.deepEqual(w.fa.mutatingCalls(), [])
})

test('a store that cannot record the plan: the error is loud, FusionAuth is not changed, the alert is left to its lease', async t => {
  const w = await world(t, { leaseMs: 300 })
  w.user('kai@acme-corp.io')
  const job = await w.claim('kai@acme-corp.io')
  const lock = holdWriteLock(t, w.file)
  await w.executor.execute(job)
  const [unexpected] = linesWith(w.lines, 'unexpected error while remediating; will retry')
  assert.equal(unexpected?.level, 50)
  assert.match(unexpected.err.message, /cannot commit|locked|busy/i)
  assert.equal(linesWith(w.lines, 'could not record the alert as retrying; it will run again when its lease expires').length, 1)
  assert.deepEqual(w.fa.mutatingCalls(), [])
  await assert.rejects(w.health.readiness(), /worker: store failing/)
  assert.ok(w.wakes.length > 0, 'the back-off asked to look again later')
  lock.release()
  const a = (await w.store.alerts.get(job.alert.id))!
  assert.deepEqual([a.state, a.attempts], ['processing', 1])
})
