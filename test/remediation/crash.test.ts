import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, testEnv, tmpDir, waitFor } from '../helper.js'
import { spawnBridge } from '../fixtures/processes.js'
import { hostname } from 'node:os'
import { openStore } from '../../src/store/index.js'
import { shutdownGraceMs } from '../../src/server.js'
import type { Config } from '../../src/config/index.js'

test('kill -9 while an alert is leased: the restarted bridge processes it', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'crash@acme-corp.io', refreshTokens: 1 })
  const dir = tmpDir(t)
  const env = testEnv(dir, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, FUSIONAUTH_TIMEOUT_MS: '60000' })
  // The deactivation hangs: the alert stays leased by the first process when it dies.
  fa.hang({ match: (m, p) => m === 'DELETE' && p.startsWith('/api/user/') })

  const first = await spawnBridge(env)
  t.after(() => { first.child.kill('SIGKILL') })
  const r = await postAlert(first.url, { username: 'crash@acme-corp.io', exposureID: 'exp-crash' })
  assert.equal(r.status, 200)
  const id = r.body.alertId as string
  await waitFor(async () => fa.journal.some(j => j.method === 'DELETE'), 'the hung DELETE to reach FusionAuth')

  const reader = await openStore(join(dir, 'bridge.db'), { role: 'command' })
  t.after(() => reader.close())
  const leased = (await reader.alerts.get(id))!
  assert.equal(leased.state, 'processing')
  assert.ok(leased.leaseOwner?.startsWith(`${hostname()}/${first.child.pid}/`), leased.leaseOwner)

  first.child.kill('SIGKILL')
  await first.exited
  fa.clearFaults()

  const second = await spawnBridge(env)
  t.after(() => { second.child.kill('SIGTERM') })
  const a = await waitFor(async () => {
    const rec = await reader.alerts.get(id)
    return rec?.state === 'done' ? rec : undefined
  }, 'the alert to be processed after restart', 15_000)
  assert.equal(a.outcome, 'actioned')
  assert.equal(a.attempts, 2)
  assert.equal(fa.user(user.id)!.active, false)
  assert.equal(fa.user(user.id)!.refreshTokens.length, 0)
  assert.ok((await reader.alerts.events(id)).some(e => e.note?.includes('is gone')), 'history says the lease holder died')
  second.child.kill('SIGTERM')
  assert.equal(await second.exited, 0)
})

test('SIGTERM while a FusionAuth call hangs: the worker gives up waiting before the shutdown grace ends, releases its leases, exits 0', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'slow@acme-corp.io' })
  const dir = tmpDir(t)
  // The grace is derived from the time-out (the unit test below: a time-out longer than the old fixed 10 s grace);
  // here a hung call of a few seconds, which the process must outwait and still end cleanly.
  const env = testEnv(dir, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, FUSIONAUTH_TIMEOUT_MS: '3000' })
  fa.hang({ match: (m, p) => m === 'DELETE' && p.startsWith('/api/user/') })
  const bridge = await spawnBridge(env)
  t.after(() => { bridge.child.kill('SIGKILL') })
  const r = await postAlert(bridge.url, { username: 'slow@acme-corp.io', exposureID: 'exp-slow' })
  await waitFor(() => fa.journal.some(j => j.method === 'DELETE'), 'the hung DELETE')
  const started = Date.now()
  bridge.child.kill('SIGTERM')
  assert.equal(await bridge.exited, 0, 'a clean exit, not the grace timer\'s forced one')
  const took = Date.now() - started
  assert.ok(took >= 2500 && took < shutdownGraceMs({ fusionAuthTimeoutMs: 3000 } as Config), `stopped in ${took} ms: after the call's time-out, before the grace`)
  const reader = await openStore(join(dir, 'bridge.db'), { role: 'command' })
  t.after(() => reader.close())
  const a = (await reader.alerts.get(r.body.alertId as string))!
  // The hung call ended at its time-out inside the grace: recorded as a retry, the lease given back.
  assert.ok(['retrying', 'queued'].includes(a.state), a.state)
  assert.equal(a.leaseOwner, undefined)
})

test('the shutdown grace outlasts the FusionAuth time-out, however long it is (a fixed 10 s grace once cut a 12 s call short)', () => {
  for (const timeout of [400, 3000, 12_000, 60_000]) {
    assert.ok(shutdownGraceMs({ fusionAuthTimeoutMs: timeout } as Config) >= timeout + 5000, `${timeout} ms`)
  }
})
