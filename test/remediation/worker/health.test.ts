import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js'
import { FusionAuthError } from '../../../src/fusionauth/index.js'
import { createHealth, type Health, type HealthOptions } from '../../../src/remediation/worker/health/index.js'
import { MAX_STORE_BACKOFF_MS } from '../../../src/remediation/worker/health/store-backoff.js'
import type { FusionAuthFake } from '../../fakes/fusionauth.js'
import { captureLogger, waitFor } from '../../helper.js'
import { claimOne, fusionAuth, linesWith, queued, sleep, tempStore, type TempStore } from './fixtures.js'

interface World extends TempStore {
  fa: FusionAuthFake
  health: Health
  metrics: Metrics
  lines: string[]
  /** What health asked of the producer and told the digest. */
  wakes: number[]
  resumed: number[]
  paused: string[]
  /** FusionAuth's probes (GET /api/user/{random id}) so far. */
  probes (): number
}

async function world (t: TestContext, options: Partial<HealthOptions> = {}): Promise<World> {
  const at = tempStore(t)
  const { fa, gateway } = await fusionAuth(t, 500)
  const { logger, lines } = captureLogger()
  const metrics = createMetrics({ defaults: false })
  const wakes: number[] = []
  const resumed: number[] = []
  const paused: string[] = []
  const health = createHealth({
    gateway,
    queue: at.store.queue,
    log: logger,
    metrics,
    probeIntervalMs: 60_000,
    pausedLogIntervalMs: 60_000,
    readinessCacheMs: 0,
    storeRetryMs: 100,
    recoveryProbeMs: 60_000,
    onPaused: reason => paused.push(reason),
    wakeIn: ms => wakes.push(ms),
    resume: () => resumed.push(Date.now()),
    ...options
  })
  t.after(() => health.stop())
  const probes = (): number => fa.journal.filter(j => j.method === 'GET' && j.path.startsWith('/api/user/')).length
  return { ...at, fa, health, metrics, lines, wakes, resumed, paused, probes }
}

const sample = async (m: Metrics, name: string): Promise<string | undefined> =>
  new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(await m.registry.metrics())?.[1]

test('a refused key pauses once: one worker.paused event, the digest told, readiness fails; the probe resumes it when the key works', async t => {
  const w = await world(t, { probeIntervalMs: 40 })
  w.fa.revokeKey()
  const failure = new FusionAuthError('user.get', 401, 'auth', undefined, 'FusionAuth answered 401')
  w.health.pause(failure)
  w.health.pause(failure)
  assert.equal(w.health.paused, true)
  assert.deepEqual(w.paused, ['FusionAuth answered 401'])
  assert.deepEqual(linesWith(w.lines, /^FusionAuth refused the API key: worker paused/).map(l => [l.event, l.reason, l.level]), [['worker.paused', 'FusionAuth answered 401', 50]])
  assert.equal(await sample(w.metrics, 'enzoic_bridge_worker_paused'), '1')
  await assert.rejects(w.health.readiness(), /^Error: paused: FusionAuth refused the API key$/)

  await waitFor(() => w.probes() >= 2, 'the key to be probed while paused')
  assert.deepEqual(w.resumed, [], 'still refused')
  w.fa.restoreKey()
  await waitFor(() => w.resumed.length === 1, 'the worker to resume')
  assert.equal(w.health.paused, false)
  assert.equal(linesWith(w.lines, 'FusionAuth accepts the API key again: worker resumed')[0]?.event, 'worker.resumed')
  assert.equal(await sample(w.metrics, 'enzoic_bridge_worker_paused'), '0')
  await w.health.readiness()
  const probes = w.probes()
  await sleep(150)
  assert.equal(w.probes(), probes, 'no probe once resumed')
})

test('a FusionAuth slower than the probe interval gets one probe at a time, and the resume is not queued behind a pile of them', async t => {
  const w = await world(t, { probeIntervalMs: 10 })
  w.fa.revokeKey()
  w.fa.setLatency(200)
  w.health.pause(new FusionAuthError('user.get', 401, 'auth', undefined, 'FusionAuth answered 401'))
  await sleep(1000)
  // One at a time: about 1000 / 200 probes answered, not 1000 / 10.
  assert.ok(w.probes() <= 6, `${w.probes()} probes answered in a second at 200 ms each`)
  w.fa.setLatency(0)
  w.fa.restoreKey()
  const restored = Date.now()
  await waitFor(() => w.resumed.length === 1, 'the worker to resume')
  assert.ok(Date.now() - restored < 1000, `resumed ${Date.now() - restored} ms after the key works again`)
})

test('while paused, "still paused" is said at its interval, with the reason and no stack', async t => {
  // The log interval is far above the probe's: on a loaded machine (a probe answered in 150 ms) there are still
  // several probes per line.
  const w = await world(t, { probeIntervalMs: 20, pausedLogIntervalMs: 400 })
  w.fa.revokeKey()
  w.health.pause(new FusionAuthError('user.get', 401, 'auth', undefined, 'FusionAuth answered 401'))
  const still = await waitFor(() => { const l = linesWith(w.lines, 'still paused: FusionAuth refuses the API key'); return l.length >= 2 ? l : undefined }, 'two "still paused" lines')
  assert.ok(w.probes() > still.length, `${w.probes()} probes, ${still.length} lines: the log says it less often than the probe tries`)
  for (const l of still) {
    assert.equal(l.level, 50)
    assert.equal(l.httpStatus, 401)
    assert.equal(typeof l.reason, 'string')
    assert.equal(l.err, undefined, 'no stack')
  }
  for (let i = 1; i < still.length; i++) assert.ok(still[i]!.time - still[i - 1]!.time >= 400, 'at most once per interval')
})

test('FusionAuth down: the recovery probe notices its return and makes the alerts waiting for a retry due now, then stops', async t => {
  const w = await world(t, { recoveryProbeMs: 40 })
  await queued(w.store, 'lea@acme-corp.io')
  const job = await claimOne(w.store)
  assert.equal(await w.store.queue.retry(job.lease, 600_000, 'HTTP 503', []), true)
  w.fa.fail(503)
  w.health.fusionAuthFails()
  w.health.fusionAuthFails() // once down, down: one probe timer
  await waitFor(() => w.probes() >= 3, 'probes while FusionAuth fails')
  assert.ok(Date.parse((await w.store.alerts.get(job.alert.id))!.nextAttemptAt!) - Date.now() > 500_000, 'still waiting while FusionAuth fails')
  w.fa.clearFaults()
  const [back] = await waitFor(() => { const l = linesWith(w.lines, 'FusionAuth answers again: alerts waiting for a retry are due now'); return l.length > 0 ? l : undefined }, 'FusionAuth back')
  assert.equal(back!.alerts, 1)
  assert.ok(Date.parse((await w.store.alerts.get(job.alert.id))!.nextAttemptAt!) <= Date.now(), 'due now')
  const probes = w.probes()
  await sleep(150)
  assert.equal(w.probes(), probes, 'the probe stopped')
  assert.equal(linesWith(w.lines, 'FusionAuth answers again: alerts waiting for a retry are due now').length, 1)
})

test('store errors: counted once per outage, the wait doubles up to 30 s, readiness fails until the store answers', async t => {
  const w = await world(t)
  for (let i = 0; i < 11; i++) w.health.storeFailed(new Error('SQLITE_BUSY'), 'claiming alerts')
  assert.deepEqual(w.wakes, [100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, MAX_STORE_BACKOFF_MS, MAX_STORE_BACKOFF_MS])
  assert.equal(await sample(w.metrics, 'enzoic_bridge_worker_store_errors_total'), '1')
  const errors = linesWith(w.lines, /^store (error|still failing)/)
  assert.deepEqual(errors.map(l => l.msg), ['store error while claiming alerts: worker backs off and retries; readiness fails meanwhile'], 'said once, not eleven times')
  await assert.rejects(w.health.readiness(), /^Error: worker: store failing for 0 s$/)
  w.health.storeRecovered()
  w.health.storeRecovered()
  assert.equal(linesWith(w.lines, 'store answers again: worker resumed').length, 1)
  await w.health.readiness()
  w.health.storeFailed(new Error('SQLITE_BUSY'), 'renewing leases')
  assert.equal(w.wakes.at(-1), 100, 'a new outage starts from the first wait')
  assert.equal(await sample(w.metrics, 'enzoic_bridge_worker_store_errors_total'), '2')
})

test('readiness asks FusionAuth at most once per cache period, and says why it is not ready', async t => {
  const cached = await world(t, { readinessCacheMs: 60_000 })
  await cached.health.readiness()
  await cached.health.readiness()
  assert.equal(cached.probes(), 1)

  const w = await world(t)
  w.fa.revokeKey()
  await assert.rejects(w.health.readiness(), /^Error: FusionAuth refused the API key$/)
  assert.equal(w.health.paused, false, 'readiness alone does not pause the worker')
  w.fa.restoreKey()
  await w.fa.stopListening()
  await assert.rejects(w.health.readiness(), /^Error: FusionAuth unreachable: /)
  await w.fa.resumeListening()
  await w.health.readiness()
})

test('a readiness probe that finds FusionAuth answering ends an outage', async t => {
  const w = await world(t)
  w.health.fusionAuthFails()
  await w.health.readiness()
  await waitFor(() => linesWith(w.lines, 'FusionAuth answers again: alerts waiting for a retry are due now').length === 1, 'the outage to end')
})

test('stop ends the key probe and the recovery probe', async t => {
  const w = await world(t, { probeIntervalMs: 20, recoveryProbeMs: 20 })
  w.fa.fail(503)
  w.health.fusionAuthFails()
  w.health.pause(new FusionAuthError('user.get', 401, 'auth', undefined, 'FusionAuth answered 401'))
  await waitFor(() => w.probes() >= 2, 'probes')
  w.health.stop()
  await sleep(600) // a probe already sent (one of each kind at most) may still arrive, within the gateway's 500 ms time-out
  const probes = w.probes()
  await sleep(150)
  assert.equal(w.probes(), probes)
})
