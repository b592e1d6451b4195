// Nothing is done without the lease, and a call that may have happened is checked before it is repeated
// (issue: "nothing acknowledged is lost, nothing is done without the lease"). Real processes on one SQLite file,
// SIGKILL and SIGSTOP/SIGCONT, the FusionAuth fake with faults that strike after the call took effect.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { startFusionAuthFake, type FusionAuthFake, type JournalEntry } from '../fakes/fusionauth.js'
import { postAlert, testEnv, tmpDir, waitFor } from '../helper.js'
import { spawnBridge, type BridgeProcess } from '../fixtures/processes.js'
import { openStore } from '../../src/store/index.js'
import type { Store } from '../../src/store/types.js'
import { restoreAlert } from '../../src/operations/lifecycle.js'
import { createFusionAuthGateway } from '../../src/fusionauth/index.js'

async function fake (t: TestContext): Promise<FusionAuthFake> {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  return fa
}

async function bridge (t: TestContext, env: NodeJS.ProcessEnv): Promise<BridgeProcess> {
  const b = await spawnBridge(env)
  t.after(async () => {
    if (b.child.exitCode === null && b.child.signalCode === null) {
      b.child.kill('SIGCONT')
      b.child.kill('SIGKILL')
    }
    await b.exited
  })
  return b
}

async function reader (t: TestContext, file: string): Promise<Store> {
  const store = await openStore(file, { role: 'command' })
  t.after(() => store.close())
  return store
}

const calls = (fa: FusionAuthFake, method: string, path: string, userId?: string): JournalEntry[] =>
  fa.journal.filter(j => j.method === method && j.path === path && (userId === undefined || j.query.userId === userId))

const done = async (store: Store, id: string): Promise<void> => {
  await waitFor(async () => (await store.alerts.get(id))?.state === 'done', `alert ${id} done`, 20_000, 50)
}

test('a call that took effect but was never recorded (SIGKILL in flight) is confirmed in FusionAuth, not repeated; its undo is kept', async t => {
  const fa = await fake(t)
  const tenantId = fa.tenants[0]!.id
  const deactivated = fa.addUser({ tenantId, email: 'kill-during-deactivate@acme-corp.io', refreshTokens: 1 })
  const revoked = fa.addUser({ tenantId, email: 'kill-during-revoke@acme-corp.io', refreshTokens: 2 })
  const dir = tmpDir(t)
  const env = testEnv(dir, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_ACTIONS: 'deactivate,revoke-sessions', FUSIONAUTH_TIMEOUT_MS: '60000' })
  // The calls reach FusionAuth and take effect; the answers never come back.
  fa.hang({ afterEffect: true, times: 1, match: (m, p) => m === 'DELETE' && p === `/api/user/${deactivated.id}` })
  fa.hang({ afterEffect: true, times: 1, match: (m, p) => m === 'DELETE' && p === '/api/jwt/refresh' })

  const first = await bridge(t, env)
  const a1 = (await postAlert(first.url, { username: deactivated.email, exposureID: 'exp-kill' })).body.alertId as string
  const a2 = (await postAlert(first.url, { username: revoked.email, exposureID: 'exp-kill' })).body.alertId as string
  await waitFor(() => fa.user(deactivated.id)!.active === false && fa.user(revoked.id)!.refreshTokens.length === 0, 'both calls to take effect')
  first.child.kill('SIGKILL')
  await first.exited

  const second = await bridge(t, env)
  const store = await reader(t, join(dir, 'bridge.db'))
  await done(store, a1)
  await done(store, a2)
  assert.equal(calls(fa, 'DELETE', `/api/user/${deactivated.id}`).length, 1, 'the deactivation was not sent again')
  assert.equal(calls(fa, 'DELETE', '/api/jwt/refresh', revoked.id).length, 1, 'the revocation was not sent again')
  const [deactivateStep] = await store.steps.list(a1)
  assert.deepEqual([deactivateStep!.action, deactivateStep!.state, deactivateStep!.undo], ['deactivate', 'done', { wasActive: true }])
  assert.match(deactivateStep!.detail ?? '', /done by an earlier attempt/)
  const revokeStep = (await store.steps.list(a2)).find(s => s.action === 'revoke-sessions')!
  assert.deepEqual([revokeStep.state, revokeStep.startedAt], ['done', undefined])
  assert.match(revokeStep.detail ?? '', /done by an earlier attempt/)
  assert.equal((await store.alerts.get(a1))!.outcome, 'actioned')

  // What the earlier attempt did is undoable: the confirmed step kept what undo needs.
  const gateway = createFusionAuthGateway({ url: fa.url, apiKey: fa.apiKey, timeoutMs: 5000 })
  t.after(() => gateway.close())
  second.child.kill('SIGTERM')
  await second.exited
  const writable = await openStore(join(dir, 'bridge.db'), { role: 'command' })
  t.after(() => writable.close())
  const r = await restoreAlert({ store: writable, config: { actorUserId: undefined } as never, gateway }, a1, { operator: 'test', reason: 'false positive' })
  assert.deepEqual(r.undone.map(u => u.step.action), ['deactivate'])
  assert.equal(fa.user(deactivated.id)!.active, true)
})

test('a replica paused past its lease (SIGSTOP) starts no FusionAuth call when it resumes: the new holder acted', async t => {
  const fa = await fake(t)
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'paused-replica@acme-corp.io', refreshTokens: 1 })
  const dir = tmpDir(t)
  const env = testEnv(dir, {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    BRIDGE_ACTIONS: 'revoke-sessions',
    BRIDGE_GRACE_PERIOD: '2s',
    BRIDGE_GRACE_ACTIONS: 'deactivate',
    BRIDGE_LEASE_TTL: '1s',
    FUSIONAUTH_TIMEOUT_MS: '20000'
  })
  const a = await bridge(t, env)
  const store = await reader(t, join(dir, 'bridge.db'))
  const id = (await postAlert(a.url, { username: user.email, exposureID: 'exp-pause' })).body.alertId as string
  await waitFor(async () => (await store.alerts.get(id))?.state === 'waiting', 'the grace period')
  // At the deadline the holder reads the user again, then deactivates: pause it while that read is answered slowly.
  fa.setLatency(1500)
  const read = await waitFor(() => fa.journal.find(j => j.method === 'GET' && j.path === `/api/user/${user.id}`), 'the deadline\'s fresh read', 10_000, 5)
  a.child.kill('SIGSTOP')
  fa.setLatency(0)
  assert.equal(read.status, 0, 'paused while the read was unanswered')

  const b = await bridge(t, env)
  await done(store, id)
  assert.equal(fa.user(user.id)!.active, false)
  assert.equal(calls(fa, 'DELETE', `/api/user/${user.id}`).length, 1, 'the new holder deactivated')
  assert.ok(((await store.alerts.get(id))!.leaseOwner ?? '') === '' && (await store.alerts.events(id)).some(e => e.note?.includes(String(b.child.pid))))

  // Paused well past its lease, the old holder resumes with the read's answer in hand: it must not act.
  a.child.kill('SIGCONT')
  await waitFor(() => a.logs.some(l => l.includes('lease lost')), 'the old holder to notice it lost the lease', 10_000, 20)
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.equal(calls(fa, 'DELETE', `/api/user/${user.id}`).length, 1, 'no second deactivation after SIGCONT')
  assert.equal((await store.alerts.get(id))!.state, 'done')
})

test('SIGKILL while FusionAuth sends the user\'s email: the resumed step is uncertain (one email, never a silent skip)', async t => {
  const fa = await fake(t)
  const template = fa.addEmailTemplate('Breach notice')
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'kill-during-email@acme-corp.io' })
  const dir = tmpDir(t)
  const env = testEnv(dir, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_ACTIONS: `notify-user:${template}`, FUSIONAUTH_TIMEOUT_MS: '60000' })
  fa.hang({ afterEffect: true, times: 1, match: (m, p) => m === 'POST' && p.startsWith('/api/email/send/') })
  const first = await bridge(t, env)
  const id = (await postAlert(first.url, { username: user.email, exposureID: 'exp-email' })).body.alertId as string
  await waitFor(() => fa.sentEmails().length === 1, 'FusionAuth to send the email')
  first.child.kill('SIGKILL')
  await first.exited

  await bridge(t, env)
  const store = await reader(t, join(dir, 'bridge.db'))
  await done(store, id)
  const [step] = await store.steps.list(id)
  assert.equal(step!.state, 'uncertain')
  assert.match(step!.detail ?? '', /the bridge stopped while sending it.*alerts resend-notice/)
  assert.equal((await store.alerts.get(id))!.outcome, 'uncertain')
  assert.equal(fa.sentEmails().length, 1, 'not sent twice')
})
