// Only FusionAuth's answers are believed: a proxy's HTML page with a 200 on a deactivation, or with a 404 on a
// lookup, is retried — never recorded as "deactivated" or "no such user" (a metric and a log line name it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, startTestBridge, tmpDir, waitFor } from '../helper.js'

const PORTAL = '<!doctype html><html><body><h1>Welcome to the corporate network</h1></body></html>'

test('an HTML 200 on DELETE /api/user and an HTML 404 on the lookup are not FusionAuth\'s: retried, then done for real', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const tenantId = fa.tenants[0]!.id
  const users = Array.from({ length: 4 }, (_, i) => fa.addUser({ tenantId, email: `foreign-${i}@acme-corp.io`, refreshTokens: 1 }))
  // Two HTML answers per user for the deactivation, then two for every lookup: a misrouted load balancer.
  fa.fail(200, { html: PORTAL, times: 8, match: (m, p) => m === 'DELETE' && p.startsWith('/api/user/') })
  const bridge = await startTestBridge(t, {
    FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_RETRY_SCHEDULE: '50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms'
  }, tmpDir(t), { worker: { random: () => 0.5 }, pollMs: 50 })
  const ids: string[] = []
  for (const u of users.slice(0, 2)) ids.push((await postAlert(bridge.url, { username: u.email, exposureID: 'exp-foreign' })).body.alertId as string)
  for (const id of ids) await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', `alert ${id} done`, 15_000)
  fa.fail(404, { html: PORTAL, times: 4, match: (m, p) => m === 'GET' && p === '/api/user' })
  for (const u of users.slice(2)) ids.push((await postAlert(bridge.url, { username: u.email, exposureID: 'exp-foreign' })).body.alertId as string)
  for (const id of ids.slice(2)) await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', `alert ${id} done`, 15_000)

  for (const [i, id] of ids.entries()) {
    const a = (await bridge.store.alerts.get(id))!
    assert.equal(a.outcome, 'actioned', `alert ${i}: not "no-user", not a deactivation that never happened`)
    assert.ok(a.attempts >= 2, 'the foreign answers cost attempts, not results')
    assert.equal(fa.user(users[i]!.id)!.active, false, 'FusionAuth really deactivated the user')
  }
  const retrying = bridge.logs.filter(l => l.includes('"event":"alert.retrying"'))
  assert.ok(retrying.some(l => /is not FusionAuth's answer \(FusionAuth answers this call with an empty body\)/.test(l)), 'the retry says why')
  assert.ok(retrying.some(l => /HTTP 404 \(text\/html, \d+ bytes\) is not FusionAuth's answer/.test(l)))
  assert.ok(bridge.logs.some(l => l.includes('an answer that is not FusionAuth')), 'a warning names it')
  const metrics = await (await fetch(`${bridge.url}/metrics`)).text()
  assert.match(metrics, /enzoic_bridge_fusionauth_foreign_answers_total\{operation="user\.deactivate",status="200"\} 8/)
  assert.match(metrics, /enzoic_bridge_fusionauth_foreign_answers_total\{operation="user\.lookup",status="404"\} 4/)
})
