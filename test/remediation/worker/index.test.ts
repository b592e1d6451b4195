import { remediationSettings } from '../../../src/config/parts.js'
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { AlertRecord, ExposureDetails } from '../../../src/alerts/types.js'
import { createMetrics } from '../../../src/observability/metrics.js'
import { createWorker, type Worker } from '../../../src/remediation/worker/index.js'
import type { FusionAuthFake } from '../../fakes/fusionauth.js'
import { captureLogger, testConfig, waitFor } from '../../helper.js'
import { fusionAuth, linesWith, queued, tempStore, type TempStore } from './fixtures.js'

interface World extends TempStore {
  fa: FusionAuthFake
  worker: Worker
  lines: string[]
  /** The alerts the exposure lookup was asked about. */
  looked: string[]
  /** Stops the worker (once; also after the test, should it fail before). */
  stop (): Promise<void>
}

/**
 * createWorker on the options server.ts builds, the remediation part included: the policy skips users whose
 * password changed after the exposure, so each alert without exposure details asks `lookup` for them.
 */
async function world (t: TestContext, lookup: (alert: AlertRecord) => Promise<ExposureDetails | undefined>, fusionAuthTimeoutMs = 1000): Promise<World> {
  const at = tempStore(t)
  const { fa, gateway } = await fusionAuth(t)
  const config = testConfig(at.dir, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_SKIP_IF_PASSWORD_CHANGED_AFTER_EXPOSURE: 'true' })
  const { logger, lines } = captureLogger()
  const looked: string[] = []
  const worker = createWorker({
    store: at.store,
    gateway,
    logger,
    metrics: createMetrics({ defaults: false }),
    concurrency: 3,
    leaseMs: 30_000,
    retrySchedule: [50],
    fusionAuthTimeoutMs,
    describe: { actions: config.actions.map(a => a.label), dryRun: config.dryRun },
    remediation: { settings: remediationSettings(config), gateway, store: at.store, exposureDetails: alert => { looked.push(alert.id); return lookup(alert) } },
    random: () => 0.5
  })
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => (stopping ??= worker.stop())
  // After hooks run in the order registered, so this one runs after the store closed: each test stops the
  // worker itself, and this only ends what a failed assertion left running.
  t.after(stop)
  return { ...at, fa, worker, lines, looked, stop }
}

test('createWorker: the started line, an alert through every part, and remediate() given the remediation options as they came', async t => {
  const w = await world(t, async () => ({ title: 'Looked-up Forum', date: '2026-10-01T00:00:00Z' }))
  const userId = w.fa.addUser({ tenantId: w.fa.tenants[0]!.id, email: 'mo@acme-corp.io' }).id
  await w.worker.start()
  const [started] = linesWith(w.lines, 'worker started')
  const { component, owner, concurrency, leaseSeconds, actions, dryRun } = started ?? {}
  assert.deepEqual({ component, owner, concurrency, leaseSeconds, actions, dryRun },
    { component: 'worker', owner: w.worker.owner, concurrency: 3, leaseSeconds: 30, actions: ['deactivate', 'revoke-sessions'], dryRun: false })
  const id = await queued(w.store, 'mo@acme-corp.io', { exposureDetails: undefined })
  const a = await waitFor(async () => { const r = await w.store.alerts.get(id); return r?.state === 'done' ? r : undefined }, 'the alert done (woken by the change feed)')
  assert.equal(a.outcome, 'actioned')
  assert.equal(w.fa.user(userId)!.active, false)
  assert.deepEqual(w.looked, [id], 'the exposure lookup passed through to remediate()')
  assert.equal(w.worker.inFlight, 0)
  await w.worker.readiness()
  await w.stop()
})

test('stop: waits for an alert in flight at most the FusionAuth time-out plus 2 s, gives its lease back, and its late end records nothing', async t => {
  let answer: (d: ExposureDetails | undefined) => void = () => undefined
  const w = await world(t, () => new Promise(resolve => { answer = resolve }), 300)
  t.after(() => answer(undefined))
  w.fa.addUser({ tenantId: w.fa.tenants[0]!.id, email: 'ned@acme-corp.io' })
  await w.worker.start()
  const id = await queued(w.store, 'ned@acme-corp.io', { exposureDetails: undefined })
  await waitFor(() => w.looked.length === 1, 'the alert to wait for its exposure details')
  const started = Date.now()
  await w.stop()
  const took = Date.now() - started
  assert.ok(took >= 2250 && took < 6000, `stop took ${took} ms (bound: 300 + 2000)`)
  assert.equal(w.worker.inFlight, 1, 'it gave up waiting')
  const released = (await w.store.alerts.get(id))!
  assert.deepEqual([released.state, released.attempts, released.leaseOwner], ['queued', 0, undefined])
  assert.deepEqual(linesWith(w.lines, 'leases released').map(l => l.released), [1])

  answer({ title: 'Late', date: '2026-10-01T00:00:00Z' })
  await waitFor(() => w.worker.inFlight === 0, 'the late attempt to end')
  assert.equal(linesWith(w.lines, 'alert lease lost while it ran; its holder carries on (recorded steps are not repeated)').length, 1)
  assert.deepEqual(w.fa.mutatingCalls(), [], 'nothing done in FusionAuth after the lease was given back')
  const after = (await w.store.alerts.get(id))!
  assert.deepEqual([after.state, after.attempts], ['queued', 0], 'the released alert untouched')
})
