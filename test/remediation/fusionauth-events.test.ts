// What FusionAuth's own events do (docs/design.md §13), end to end: the receiver over real HTTP, the real worker and
// follower, the real FusionAuth client against the fake, the real Enzoic client against its fake.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { startEnzoicFake } from '../fakes/enzoic.js'
import { postEvent, userEvent } from '../fakes/fusionauth-events.js'
import { postAlert, startTestBridge, waitFor, type TestBridge } from '../helper.js'
import { usernameHash } from '../../src/alerts/normalise.js'
import type { AlertRecord } from '../../src/alerts/types.js'

const SECRET = 'Bearer fa-events-secret'
const auth = { authorization: SECRET }
const FAST = { BRIDGE_RETRY_SCHEDULE: '50ms,50ms,50ms,50ms', FUSIONAUTH_TIMEOUT_MS: '1000', FUSIONAUTH_WEBHOOK_SECRET: SECRET }
const OPTIONS = { worker: { random: () => 0.5, readinessCacheMs: 0, storeRetryMs: 100 }, pollMs: 50, follower: { pollMs: 100, backoffMs: [100] } }

async function fake (t: TestContext, tenants = 1): Promise<FusionAuthFake> {
  const fa = await startFusionAuthFake({ tenants })
  t.after(() => fa.close())
  return fa
}

async function bridgeOn (t: TestContext, fa: FusionAuthFake, env: Record<string, string> = {}): Promise<TestBridge> {
  return await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, ...FAST, ...env }, undefined, OPTIONS)
}

async function inState (bridge: TestBridge, id: string, states: string[], timeoutMs = 10_000): Promise<AlertRecord> {
  return await waitFor(async () => {
    const a = await bridge.store.alerts.get(id)
    return a !== undefined && states.includes(a.state) ? a : undefined
  }, `alert ${id} to be ${states.join('/')}`, timeoutMs)
}

const deactivations = (fa: FusionAuthFake): string[] => fa.mutatingCalls().filter(c => c.method === 'DELETE' && /^\/api\/user\/[0-9a-f-]{36}$/.test(c.path)).map(c => c.path.slice(10))

test('a login with a breached password (user.password.breach): that user is deactivated through the same policy, not others with the email', async t => {
  const fa = await fake(t, 2)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'gus@acme.io' })
  const twin = fa.addUser({ tenantId: fa.tenants[1]!.id, email: 'gus@acme.io' })
  const bridge = await bridgeOn(t, fa)
  const r = await postEvent(bridge.url, userEvent('user.password.breach', u), auth)
  assert.equal(r.status, 200, r.text)
  const done = await inState(bridge, r.body.alertId, ['done'])
  assert.equal(done.source, 'fusionauth')
  assert.equal(done.outcome, 'actioned')
  assert.deepEqual(done.users.map(x => x.userId), [u.id], 'the breached password is this user\'s: their twin in another tenant is another password')
  assert.equal(fa.user(u.id)!.active, false)
  assert.equal(fa.user(twin.id)!.active, true)
  assert.equal(fa.mutatingCalls().filter(c => c.path === '/api/user/search').length, 0)
})

test('a password change closes a waiting case at once: grace steps skipped (self-remediated), nothing done at the deadline', async t => {
  const fa = await fake(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'hal@acme.io' })
  const bridge = await bridgeOn(t, fa, { BRIDGE_ACTIONS: 'revoke-sessions', BRIDGE_GRACE_PERIOD: '3s', BRIDGE_GRACE_ACTIONS: 'deactivate' })
  const sent = await postAlert(bridge.url, { username: 'hal@acme.io', exposureID: 'exp-hal', date: '2026-11-20T00:00:00Z' })
  const id = sent.body.alertId as string
  await inState(bridge, id, ['waiting'])
  const changed = fa.changePassword(u.id)
  const event = userEvent('user.password.update', changed)
  assert.equal((await postEvent(bridge.url, event, auth)).status, 200)
  const done = await inState(bridge, id, ['done'], 5000)
  assert.equal(done.outcome, 'self-remediated')
  const grace = (await bridge.store.steps.list(id)).find(s => s.phase === 'grace')!
  assert.deepEqual([grace.state, grace.detail, grace.result?.closedBy], ['skipped', 'self-remediated', `fusionauth-event:${event.event.id as string}`])
  const history = await bridge.store.alerts.events(id)
  assert.ok(history.some(e => e.note?.includes(`event ${event.event.id as string}`) === true), 'the event is the actor in the history')
  assert.ok(bridge.logs.some(l => l.includes('"event":"case.closed"')))
  await sleep(3500)
  assert.deepEqual(deactivations(fa), [], 'no deactivation at the deadline')
  assert.equal(fa.user(u.id)!.active, true)
})

test('user.login.success closes a case only when the password changed after the alert arrived', async t => {
  const fa = await fake(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'ida@acme.io' })
  const bridge = await bridgeOn(t, fa, { BRIDGE_ACTIONS: 'revoke-sessions', BRIDGE_GRACE_PERIOD: '1h', BRIDGE_GRACE_ACTIONS: 'deactivate' })
  const id = (await postAlert(bridge.url, { username: 'ida@acme.io', exposureID: 'exp-ida' })).body.alertId as string
  const waiting = await inState(bridge, id, ['waiting'])
  // A login with the old password: the case stays open.
  fa.changePassword(u.id, Date.parse(waiting.receivedAt) - 60_000)
  assert.deepEqual((await postEvent(bridge.url, userEvent('user.login.success', fa.user(u.id)!), auth)).body, { status: 'accepted' })
  await sleep(400)
  assert.equal((await bridge.store.alerts.get(id))!.state, 'waiting')
  // A login after a password change FusionAuth did not announce: closed.
  assert.equal((await postEvent(bridge.url, userEvent('user.login.success', fa.changePassword(u.id)), auth)).status, 200)
  assert.equal((await inState(bridge, id, ['done'])).outcome, 'self-remediated')
})

test('a required password change, then done by the user: the case is resolved', async t => {
  const fa = await fake(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'jon@acme.io' })
  const bridge = await bridgeOn(t, fa, { BRIDGE_ACTIONS: 'require-password-change' })
  const id = (await postAlert(bridge.url, { username: 'jon@acme.io', exposureID: 'exp-jon' })).body.alertId as string
  assert.equal((await inState(bridge, id, ['done'])).outcome, 'actioned')
  assert.equal(fa.user(u.id)!.passwordChangeRequired, true)
  assert.equal((await postEvent(bridge.url, userEvent('user.password.reset.success', fa.changePassword(u.id)), auth)).status, 200)
  const resolved = await waitFor(async () => {
    const a = await bridge.store.alerts.get(id)
    return a?.outcome === 'resolved' ? a : undefined
  }, 'the case resolved')
  assert.equal(resolved.users[0]!.outcome, 'resolved')
  assert.ok(bridge.logs.some(l => l.includes('"event":"case.resolved"')))
})

test('enrolment follows FusionAuth: Enzoic down delays it (FusionAuth still gets 200), then it is applied; an email change and a delete', async t => {
  const fa = await fake(t)
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const bridge = await bridgeOn(t, fa, ez.env)
  ez.fail(503)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'kim@acme.io' })
  const created = await postEvent(bridge.url, userEvent('user.create', u), auth)
  assert.deepEqual([created.status, created.body], [200, { status: 'accepted' }], 'an Enzoic outage never fails FusionAuth')
  await waitFor(() => bridge.logs.some(l => l.includes('"event":"enrolment.failed"')), 'the failure logged')
  assert.equal(ez.monitored.size, 0)
  ez.clearFaults()
  const kim = usernameHash('kim@acme.io')
  await waitFor(() => ez.monitored.get(kim), 'enrolled once Enzoic answers', 15_000)
  assert.equal(ez.monitored.get(kim)!.customData, `fusionauth:${u.tenantId}:${u.id}`)
  // Logged once FusionAuth has been read again after the change: a moment after Enzoic has it.
  await waitFor(() => bridge.logs.some(l => l.includes('"event":"enrolment.followed"')), 'enrolment.followed logged')

  // The email changes: the new address is enrolled, the old one (no one has it now) removed.
  const patched = await fetch(`${fa.url}/api/user/${u.id}`, {
    method: 'PATCH', headers: { authorization: fa.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ user: { email: 'kim.new@acme.io' } })
  })
  assert.equal(patched.status, 200)
  assert.equal((await postEvent(bridge.url, userEvent('user.email.update', fa.user(u.id)!, { previousEmail: 'kim@acme.io' }), auth)).status, 200)
  await waitFor(() => ez.monitored.has(usernameHash('kim.new@acme.io')) && !ez.monitored.has(kim) ? true : undefined, 'the new address enrolled, the old removed')
  assert.equal(ez.monitored.get(usernameHash('kim.new@acme.io'))!.customData, `fusionauth:${u.tenantId}:${u.id}`)
  // A delete of a user whose email another user still has: kept.
  const shared = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'team@acme.io' })
  assert.equal((await postEvent(bridge.url, userEvent('user.create', shared), auth)).status, 200)
  await waitFor(() => ez.monitored.get(usernameHash('team@acme.io')), 'team enrolled')
  assert.equal((await postEvent(bridge.url, userEvent('user.delete', { ...shared, id: '00000000-0000-4000-8000-000000000001' }), auth)).status, 200)
  await sleep(500)
  assert.ok(ez.monitored.has(usernameHash('team@acme.io')), 'another user still has the address')
})
