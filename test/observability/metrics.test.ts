import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, startTestBridge, waitFor, type TestBridge } from '../helper.js'
import { dashboardExpressions, metricNames, ruleExpressions, sample, sampleNames } from './shipped.js'

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

async function bridgeWithFusionAuth (t: TestContext, env: Record<string, string> = {}): Promise<{ fa: FusionAuthFake, bridge: TestBridge }> {
  const fa = await startFusionAuthFake()
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, FUSIONAUTH_TIMEOUT_MS: '2000', ...env }, undefined,
    { worker: { probeIntervalMs: 50, readinessCacheMs: 0 }, pollMs: 100 })
  t.after(() => fa.close())
  return { fa, bridge }
}

const scrape = async (bridge: TestBridge): Promise<string> => (await fetch(`${bridge.url}/metrics`)).text()
const stateOf = async (bridge: TestBridge, id: string): Promise<string | undefined> => (await bridge.store.alerts.get(id))?.state

test('every metric the dashboard and the alert rules read is exported by a running bridge', async t => {
  const { fa, bridge } = await bridgeWithFusionAuth(t)
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'dash@acme-corp.io' })
  const r = await postAlert(bridge.url, { username: 'dash@acme-corp.io', exposureID: 'dash-1' })
  assert.equal(r.status, 200)
  await waitFor(async () => await stateOf(bridge, r.body.alertId as string) === 'done', 'the alert to be remediated')
  const text = await scrape(bridge)
  const exported = sampleNames(text)

  const used = [...dashboardExpressions(), ...ruleExpressions()]
  const wanted = new Map<string, string>()
  for (const { where, expr } of used) for (const name of metricNames(expr)) if (!wanted.has(name)) wanted.set(name, where)
  // The parse found what the files are about (a format change must not make this test pass vacuously).
  for (const name of ['up', 'enzoic_bridge_worker_paused', 'enzoic_bridge_stored_alerts', 'enzoic_bridge_oldest_queued_alert_age_seconds',
    'enzoic_bridge_ready', 'enzoic_bridge_webhook_requests_total', 'process_cpu_seconds_total', 'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'enzoic_bridge_fusionauth_request_duration_seconds_bucket',
    'enzoic_bridge_store_commit_batch_alerts_count', 'enzoic_bridge_remediation_steps_total', 'enzoic_bridge_alerts_finished_total']) {
    assert.ok(wanted.has(name), `the dashboard or the rules read ${name}`)
  }
  // `up` is Prometheus's own (one per scrape target); every other name must be in the scrape.
  const missing = [...wanted].filter(([name]) => name !== 'up' && !exported.has(name)).map(([name, where]) => `${name} (${where})`)
  assert.deepEqual(missing, [], 'names read by deploy/observability/ but not exported')
})

test('metric names: the product prefix, _total on counters, Node\'s process metrics under their standard names, build info', async t => {
  const { bridge } = await bridgeWithFusionAuth(t)
  // A scrape waits at most a second for readiness (on a loaded machine the first run, with its FusionAuth call
  // and fsync'd commit, can take longer: that scrape keeps the gauge's last value); nothing else evaluates it here.
  const text = await waitFor(async () => { const s = await scrape(bridge); return sample(s, 'enzoic_bridge_ready') === 1 ? s : undefined }, 'a scrape to evaluate readiness', 15_000, 100)
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    assert.ok(/^(enzoic_bridge_|process_|nodejs_)/.test(name!), `${name}: every metric of the bridge's own starts with enzoic_bridge_`)
    if (type === 'counter') assert.match(name!, /_total$/, `${name}: a counter ends in _total`)
  }
  assert.ok(!/^bridge_/m.test(text), 'nothing under the old bridge_ prefix')
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
    assert.ok((sample(text, name) ?? -1) >= 0, `${name} is exported`)
  }
  assert.equal(sample(text, 'enzoic_bridge_build_info', { version: PACKAGE_VERSION, nodejs_version: process.version, store: 'sqlite' }), 1)
  assert.equal(sample(text, 'enzoic_bridge_worker_paused'), 0)
  assert.equal(sample(text, 'enzoic_bridge_oldest_queued_alert_age_seconds'), 0, 'nothing queued')
})

test('a paused worker: enzoic_bridge_ready 0, worker_paused 1, and the queued alert\'s age grows', async t => {
  const { fa, bridge } = await bridgeWithFusionAuth(t)
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'old@acme-corp.io' })
  fa.revokeKey()
  const r = await postAlert(bridge.url, { username: 'old@acme-corp.io', exposureID: 'old-1' })
  const sent = Date.now()
  await waitFor(() => bridge.worker!.paused, 'the worker to pause')
  await waitFor(async () => await stateOf(bridge, r.body.alertId as string) === 'queued', 'the alert to be given back')
  await new Promise(resolve => setTimeout(resolve, 1100))
  const text = await scrape(bridge)
  assert.equal(sample(text, 'enzoic_bridge_worker_paused'), 1)
  assert.equal(sample(text, 'enzoic_bridge_ready'), 0)
  assert.equal(sample(text, 'enzoic_bridge_stored_alerts', { state: 'queued' }), 1)
  const age = sample(text, 'enzoic_bridge_oldest_queued_alert_age_seconds')!
  assert.ok(age >= 1 && age <= (Date.now() - sent) / 1000 + 1, `oldest queued alert age ${age} s`)
  // The readiness answer and the gauge agree.
  assert.equal((await fetch(`${bridge.url}/readyz`)).status, 503)

  fa.restoreKey()
  await waitFor(async () => await stateOf(bridge, r.body.alertId as string) === 'done', 'the alert to be remediated after the key works again')
  const after = await scrape(bridge)
  assert.equal(sample(after, 'enzoic_bridge_worker_paused'), 0)
  assert.equal(sample(after, 'enzoic_bridge_ready'), 1)
  assert.equal(sample(after, 'enzoic_bridge_oldest_queued_alert_age_seconds'), 0)
  assert.equal(sample(after, 'enzoic_bridge_alert_completion_seconds_count', { outcome: 'actioned' }), 1, 'receipt to completion, observed once')
})

test('alerts in a grace period are counted under state="waiting", and are not "queued"', async t => {
  const { fa, bridge } = await bridgeWithFusionAuth(t, { BRIDGE_ACTIONS: 'revoke-sessions', BRIDGE_GRACE_PERIOD: '1h', BRIDGE_GRACE_ACTIONS: 'deactivate' })
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'grace@acme-corp.io' })
  const r = await postAlert(bridge.url, { username: 'grace@acme-corp.io', exposureID: 'grace-1' })
  await waitFor(async () => await stateOf(bridge, r.body.alertId as string) === 'waiting', 'the alert to wait out its grace period')
  const text = await scrape(bridge)
  assert.equal(sample(text, 'enzoic_bridge_stored_alerts', { state: 'waiting' }), 1)
  assert.equal(sample(text, 'enzoic_bridge_stored_alerts', { state: 'queued' }), 0)
  assert.equal(sample(text, 'enzoic_bridge_oldest_queued_alert_age_seconds'), 0, 'a grace period is not a backlog')
})
