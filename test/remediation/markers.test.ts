// The in-flight markers of an attempt with the default actions (issue 19): one durable write before the first
// FusionAuth call that changes anything carries the plan and the markers of both calls (the revocation's is set
// ahead: its confirm judges by the effect alone); the results ride with the alert's transition; a marker set ahead
// for a call that never came is cleared when the attempt ends. Through the bridge, on SQLite and the fake over HTTP.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, startTestBridge, waitFor, type TestBridge } from '../helper.js'

async function world (t: TestContext): Promise<{ fa: FusionAuthFake, bridge: TestBridge }> {
  const fa = await startFusionAuthFake()
  const bridge = await startTestBridge(t, {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    FUSIONAUTH_TIMEOUT_MS: '3000',
    BRIDGE_RETRY_SCHEDULE: '1h'
  }, undefined, { worker: { readinessCacheMs: 0, random: () => 0.5 }, pollMs: 100 })
  t.after(() => fa.close())
  return { fa, bridge }
}

const markers = async (bridge: TestBridge, id: string): Promise<Array<[string, string, boolean]>> =>
  (await bridge.store.steps.list(id)).map(s => [s.action, s.state, s.startedAt !== undefined])

test('while the deactivation is under way, the plan and both markers are durable; the results are written with the finish', async t => {
  const { fa, bridge } = await world(t)
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'ahead@acme-corp.io', refreshTokens: 1 })
  fa.setLatency(400)
  const id = (await postAlert(bridge.url, { username: user.email, exposureID: 'exp-ahead' })).body.alertId as string
  await waitFor(() => fa.journal.find(j => j.method === 'DELETE' && j.path === `/api/user/${user.id}` && j.status === 0), 'the deactivation in flight', 10_000, 5)
  assert.deepEqual(await markers(bridge, id), [['deactivate', 'pending', true], ['revoke-sessions', 'pending', true]])
  fa.setLatency(0)
  await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alert done')
  assert.deepEqual(await markers(bridge, id), [['deactivate', 'done', false], ['revoke-sessions', 'done', false]])
  assert.deepEqual((await bridge.store.steps.list(id))[0]!.undo, { wasActive: true })
  assert.equal(fa.mutatingCalls().length, 2)
})

test('an attempt that ends before the revocation clears the marker set ahead for it; an ambiguous failure keeps its own', async t => {
  const { fa, bridge } = await world(t)
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'ends-early@acme-corp.io', refreshTokens: 1 })
  // A 502 after the request left: FusionAuth may have acted, so the deactivation keeps its marker.
  fa.fail(502, { times: 1, match: (m, p) => m === 'DELETE' && p === `/api/user/${user.id}` })
  const id = (await postAlert(bridge.url, { username: user.email, exposureID: 'exp-ends' })).body.alertId as string
  await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'retrying', 'the retry')
  assert.deepEqual(await markers(bridge, id), [['deactivate', 'pending', true], ['revoke-sessions', 'pending', false]])
  assert.equal(fa.journal.filter(j => j.method === 'DELETE' && j.path === '/api/jwt/refresh').length, 0, 'no revocation was sent')

  // A refusal that certainly did not act (503 with Retry-After): no marker is left at all.
  const other = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'refused@acme-corp.io', refreshTokens: 1 })
  fa.fail(503, { times: 1, retryAfter: 3600, match: (m, p) => m === 'DELETE' && p === `/api/user/${other.id}` })
  const second = (await postAlert(bridge.url, { username: other.email, exposureID: 'exp-ends' })).body.alertId as string
  await waitFor(async () => (await bridge.store.alerts.get(second))?.state === 'retrying', 'the second retry')
  assert.deepEqual(await markers(bridge, second), [['deactivate', 'pending', false], ['revoke-sessions', 'pending', false]])
})
