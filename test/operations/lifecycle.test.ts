// Cancel and restore as the CLI calls them (src/operations/lifecycle.ts, after resolveAlertId): on a real
// bridge's SQLite file opened as a command opens it, and FusionAuth (the fake) over HTTP. The worker's side
// of the lifecycle (grace periods, policies) is test/remediation/lifecycle.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { resolveAlertId } from '../../src/operations/alerts.js'
import { cancelAlert, restoreAlert } from '../../src/operations/lifecycle.js'
import { AlertNotFoundError } from '../../src/operations/alerts.js'
import { createFusionAuthGateway } from '../../src/fusionauth/index.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { startTestBridge, waitFor } from '../helper.js'
import { bridgeWithAlerts, commandStore, send } from './support.js'

test('cancelAlert: an alert not processed yet will not be (outcome cancelled, who and why in its history); twice changes nothing', async t => {
  const { bridge, store, queued } = await bridgeWithAlerts(t)
  const id = await resolveAlertId(store, queued.slice(0, 24))
  const r = await cancelAlert({ store, config: bridge.config }, id, { operator: 'alice', reason: 'false positive: shared test mailbox' })
  assert.equal(r.stoppedBeforeProcessing, true)
  assert.equal(r.nothingToDo, false)
  assert.deepEqual(r.cancelled, [])
  assert.equal(r.alert.state, 'done')
  assert.equal(r.alert.outcome, 'cancelled')
  const history = await store.alerts.events(id)
  assert.match(history.at(-1)?.note ?? '', /^cancelled by alice: false positive: shared test mailbox$/)

  const again = await cancelAlert({ store, config: bridge.config }, id, { operator: 'alice', reason: 'again' })
  assert.equal(again.nothingToDo, true)
  assert.equal((await store.alerts.events(id)).length, history.length, 'nothing written')
})

test('cancelAlert and restoreAlert: an alert that is not there is an AlertNotFoundError; restore needs the gateway', async t => {
  const { bridge, store, queued } = await bridgeWithAlerts(t)
  const missing = randomUUID()
  await assert.rejects(cancelAlert({ store, config: bridge.config }, missing, { operator: 'alice', reason: 'x' }),
    (e: unknown) => e instanceof AlertNotFoundError && e.code === 'BRIDGE_ALERT_NOT_FOUND')
  await assert.rejects(restoreAlert({ store, config: bridge.config }, queued, { operator: 'alice', reason: 'x' }), /restore needs the FusionAuth gateway/)
})

test('restoreAlert: undoes what the bridge did (the user is active again), keeps what cannot be undone; twice changes nothing', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'erik@acme-corp.io', refreshTokens: 1 })
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  const id = await send(bridge, { username: 'erik@acme-corp.io', exposureID: 'exp-restore' })
  await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alert to finish')
  assert.equal(fa.user(user.id)!.active, false)
  const store = await commandStore(t, bridge)
  const config = bridge.config
  const gateway = createFusionAuthGateway({ url: config.fusionAuthUrl!, apiKey: config.fusionAuthApiKey!, timeoutMs: config.fusionAuthTimeoutMs })
  t.after(() => gateway.close())

  const r = await restoreAlert({ store, config, gateway }, id, { operator: 'bob', reason: 'confirmed not breached' })
  assert.equal(r.nothingToDo, false)
  assert.deepEqual(r.undone.map(u => u.step.action), ['deactivate'])
  assert.deepEqual(r.kept.map(k => k.step.action), ['revoke-sessions'])
  assert.equal(r.alert.outcome, 'restored')
  assert.equal(fa.user(user.id)!.active, true, 'reactivated')
  assert.match((await store.alerts.events(id)).at(-1)?.note ?? '', /^restored by bob: confirmed not breached$/)

  const twice = await restoreAlert({ store, config, gateway }, id, { operator: 'bob', reason: 'again' })
  assert.equal(twice.nothingToDo, true)
  assert.deepEqual(twice.undone, [])
})
