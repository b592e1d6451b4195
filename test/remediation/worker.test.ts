import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, startTestBridge, tmpDir, waitFor, type TestBridge } from '../helper.js'
import { runCli } from '../fixtures/processes.js'
import { join } from 'node:path'
import { hostname } from 'node:os'
import Database from 'better-sqlite3'
import type { AlertRecord, BreachAlert } from '../../src/alerts/types.js'
import { classify } from '../../src/intake/alert.js'
import { usernameHash } from '../../src/alerts/normalise.js'
import { openStore } from '../../src/store/index.js'

interface World { fa: FusionAuthFake, bridge: TestBridge }

async function world (t: TestContext, env: Record<string, string> = {}, tenants = 1): Promise<World> {
  const fa = await startFusionAuthFake({ tenants })
  const bridge = await startTestBridge(t, {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    FUSIONAUTH_TIMEOUT_MS: '400',
    BRIDGE_RETRY_SCHEDULE: '50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms',
    ...env
  }, undefined, { worker: { probeIntervalMs: 100, readinessCacheMs: 0, random: () => 0.5, storeRetryMs: 200 }, pollMs: 100 })
  // Registered after the bridge's own after-hook, so the bridge closes first.
  t.after(() => fa.close())
  return { fa, bridge }
}

const alertFor = (email: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  username: email,
  exposureID: `exp-${email}`,
  date: '2026-11-20T04:51:05.1915231Z',
  passwordType: 1,
  exposureDetails: { title: 'Example Forum', date: '2026-10-01T00:00:00Z', entries: 1200 },
  ...extra
})

async function send (bridge: TestBridge, body: Record<string, unknown>): Promise<string> {
  const r = await postAlert(bridge.url, body)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body.alertId as string
}

async function settled (bridge: TestBridge, id: string, timeoutMs = 10_000): Promise<AlertRecord> {
  return waitFor(async () => {
    const a = (await bridge.store.alerts.get(id))
    return a !== undefined && (a.state === 'done' || a.state === 'dead') ? a : undefined
  }, `alert ${id} to finish`, timeoutMs)
}

/** The alert's steps as [action, state, detail]. */
async function stepsOf (bridge: TestBridge, id: string): Promise<Array<[string, string, string | undefined]>> {
  return (await bridge.store.steps.list(id)).map(s => [s.action, s.state, s.detail])
}

const calls = (fa: FusionAuthFake, method: string, prefix: string): number =>
  fa.journal.filter(j => j.method === method && j.path.startsWith(prefix)).length

test('an alert deactivates the user and revokes their refresh tokens, with no login', async t => {
  const { fa, bridge } = await world(t)
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'alice@acme-corp.io', refreshTokens: 2 })
  assert.equal(fa.user(user.id)!.refreshTokens.length, 2)

  const id = await send(bridge, alertFor('  Alice@Acme-Corp.IO '))
  const a = await settled(bridge, id)

  assert.equal(a.state, 'done')
  assert.equal(a.outcome, 'actioned')
  assert.deepEqual(a.users.map(u => [u.userId, u.outcome]), [[user.id, 'actioned']])
  assert.equal(fa.user(user.id)!.active, false)
  assert.equal(fa.user(user.id)!.refreshTokens.length, 0)
  assert.deepEqual(await stepsOf(bridge, id), [['deactivate', 'done', undefined], ['revoke-sessions', 'done', undefined]])
  // Soft delete only: hardDelete is never sent.
  const del = fa.journal.find(j => j.method === 'DELETE' && j.path === `/api/user/${user.id}`)
  assert.ok(del)
  assert.equal(del.query.hardDelete, undefined)
  assert.deepEqual((await bridge.store.alerts.events(id)).map(e => e.state), ['queued', 'processing', 'done'])
})

test('the same email in two tenants: both users are actioned', async t => {
  const { fa, bridge } = await world(t, {}, 2)
  const [t1, t2] = fa.tenants
  const u1 = fa.addUser({ tenantId: t1!.id, email: 'bob@acme-corp.io', refreshTokens: 1 })
  const u2 = fa.addUser({ tenantId: t2!.id, email: 'bob@acme-corp.io', refreshTokens: 1 })
  const other = fa.addUser({ tenantId: t2!.id, email: 'carol@acme-corp.io' })

  const a = await settled(bridge, await send(bridge, alertFor('bob@acme-corp.io')))

  assert.equal(a.outcome, 'actioned')
  assert.deepEqual(a.users.map(u => u.userId).sort(), [u1.id, u2.id].sort())
  assert.equal(fa.user(u1.id)!.active, false)
  assert.equal(fa.user(u2.id)!.active, false)
  assert.equal(fa.user(other.id)!.active, true)
  // No tenant header first → [TenantIdRequired] → tenant list → one lookup per tenant.
  assert.equal(calls(fa, 'GET', '/api/tenant'), 1)
  assert.deepEqual(fa.journal.filter(j => j.path === '/api/user' && j.status === 200).map(j => j.tenantId).sort(), [t1!.id, t2!.id].sort())
})

test('FUSIONAUTH_TENANT_IDS limits the lookup to the listed tenants', async t => {
  const fa0 = await startFusionAuthFake({ tenants: 2 })
  t.after(() => fa0.close())
  const [t1, t2] = fa0.tenants
  const u1 = fa0.addUser({ tenantId: t1!.id, email: 'dan@acme-corp.io' })
  const u2 = fa0.addUser({ tenantId: t2!.id, email: 'dan@acme-corp.io' })
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa0.url, FUSIONAUTH_API_KEY: fa0.apiKey, FUSIONAUTH_TENANT_IDS: t2!.id })
  const a = await settled(bridge, await send(bridge, alertFor('dan@acme-corp.io')))
  assert.deepEqual(a.users.map(u => u.userId), [u2.id])
  assert.equal(fa0.user(u1.id)!.active, true)
  assert.equal(calls(fa0, 'GET', '/api/tenant'), 0)
})

test('customData fusionauth:<tenant>:<user> maps straight to the user', async t => {
  const { fa, bridge } = await world(t, {}, 2)
  const target = fa.addUser({ tenantId: fa.tenants[1]!.id, email: 'erin@acme-corp.io' })
  const a = await settled(bridge, await send(bridge, {
    usernameHash: usernameHash('Erin@acme-corp.io'), // as monitor sync enrolled her
    exposureID: 'exp-custom',
    customData: `fusionauth:${target.tenantId}:${target.id}`
  }))
  assert.equal(a.outcome, 'actioned')
  assert.equal(fa.user(target.id)!.active, false)
  assert.equal(calls(fa, 'GET', `/api/user/${target.id}`), 1)
  assert.deepEqual(a.users.map(u => u.userId), [target.id], 'the email it names is hers alone')
})

test('an email shared by users in two tenants: an alert whose customData names one acts on both (customData finds the email)', async t => {
  const { fa, bridge } = await world(t, {}, 2)
  const [t1, t2] = fa.tenants
  // `monitor sync` enrols the address once (Enzoic keys by its hash), with the customData of the first user it read.
  const enrolled = fa.addUser({ tenantId: t1!.id, email: 'fay@acme-corp.io', refreshTokens: 1 })
  const twin = fa.addUser({ tenantId: t2!.id, email: 'fay@acme-corp.io', refreshTokens: 1 })
  const bystander = fa.addUser({ tenantId: t2!.id, email: 'gil@acme-corp.io' })
  const customData = `fusionauth:${enrolled.tenantId}:${enrolled.id}`
  for (const body of [
    { username: 'Fay@acme-corp.io', exposureID: 'exp-fay-1', customData },
    { usernameHash: usernameHash('fay@acme-corp.io'), exposureID: 'exp-fay-2', customData } // hash-only: the email comes from customData's user
  ]) {
    const a = await settled(bridge, await send(bridge, body))
    assert.equal(a.outcome, 'actioned', JSON.stringify(a.users))
    assert.deepEqual(a.users.map(u => u.userId).sort(), [enrolled.id, twin.id].sort(), JSON.stringify(body))
    assert.deepEqual(a.users.map(u => u.outcome), ['actioned', 'actioned'])
  }
  assert.equal(fa.user(enrolled.id)!.active, false)
  assert.equal(fa.user(twin.id)!.active, false)
  assert.equal(fa.user(twin.id)!.refreshTokens.length, 0)
  assert.equal(fa.user(bystander.id)!.active, true)
})

test('customData naming a user whose address is not the alert\'s: recorded as mismatch, nobody actioned', async t => {
  const { fa, bridge } = await world(t, {}, 2)
  const named = fa.addUser({ tenantId: fa.tenants[1]!.id, email: 'ceo@acme-corp.io' })
  const sender = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'mallory@acme-corp.io' })
  for (const body of [
    { username: 'mallory@acme-corp.io', exposureID: 'exp-forged', customData: `fusionauth:${named.tenantId}:${named.id}` },
    { usernameHash: usernameHash('mallory@acme-corp.io'), exposureID: 'exp-forged-2', customData: `fusionauth:${named.tenantId}:${named.id}` }
  ]) {
    const a = await settled(bridge, await send(bridge, body))
    assert.equal(a.outcome, 'mismatch')
    assert.deepEqual(a.users.map(u => [u.userId, u.outcome]), [[named.id, 'mismatch']])
    assert.match(a.users[0]!.detail ?? '', /customData names user .* but the alert's (email|usernameHash) is not this user's address/)
    assert.deepEqual((await stepsOf(bridge, a.id)).map(s => s[1]), ['skipped', 'skipped'])
  }
  assert.equal(fa.user(named.id)!.active, true)
  assert.equal(fa.user(sender.id)!.active, true, 'and the email is not looked up instead')
  assert.deepEqual(fa.mutatingCalls(), [])
})

test('no matching user: outcome no-user, nothing changed', async t => {
  const { fa, bridge } = await world(t)
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'someone@acme-corp.io' })
  const a = await settled(bridge, await send(bridge, alertFor('nobody@acme-corp.io')))
  assert.equal(a.state, 'done')
  assert.equal(a.outcome, 'no-user')
  assert.deepEqual(fa.mutatingCalls(), [])
})

test('a protected (break-glass) user is never actioned', async t => {
  const { fa, bridge } = await world(t, { BRIDGE_PROTECTED_USERS: 'Root@Acme-Corp.IO' })
  const root = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'root@acme-corp.io', refreshTokens: 1 })
  const a = await settled(bridge, await send(bridge, alertFor('root@acme-corp.io')))
  assert.equal(a.outcome, 'protected')
  assert.equal(fa.user(root.id)!.active, true)
  assert.equal(fa.user(root.id)!.refreshTokens.length, 1)
  assert.deepEqual(fa.mutatingCalls(), [])
})

test('dry run records the plan and makes no mutating call', async t => {
  const { fa, bridge } = await world(t, { BRIDGE_DRY_RUN: 'true' })
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'frank@acme-corp.io', refreshTokens: 1 })
  const a = await settled(bridge, await send(bridge, alertFor('frank@acme-corp.io')))
  assert.equal(a.outcome, 'dry-run')
  assert.deepEqual(await stepsOf(bridge, a.id), [['deactivate', 'skipped', 'dry run: planned, not done'], ['revoke-sessions', 'skipped', 'dry run: planned, not done']])
  assert.deepEqual(fa.mutatingCalls(), [])
  assert.equal(fa.user(u.id)!.active, true)
})

test('an inactive user is not deactivated again, but their sessions are revoked', async t => {
  const { fa, bridge } = await world(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'gina@acme-corp.io', active: false, refreshTokens: 1 })
  const a = await settled(bridge, await send(bridge, alertFor('gina@acme-corp.io')))
  assert.equal(a.outcome, 'actioned')
  assert.equal(calls(fa, 'DELETE', '/api/user/'), 0)
  assert.equal(calls(fa, 'DELETE', '/api/jwt/refresh'), 1)
  assert.equal(fa.user(u.id)!.refreshTokens.length, 0)
  assert.deepEqual(await stepsOf(bridge, a.id), [['deactivate', 'skipped', 'already inactive'], ['revoke-sessions', 'done', undefined]])
})

test('password changed after the exposure was found (dateAdded, else the alert\'s arrival): stale, when the policy is on — never by the breach\'s own date', async t => {
  const { fa, bridge } = await world(t, { BRIDGE_SKIP_IF_PASSWORD_CHANGED_AFTER_EXPOSURE: 'true' })
  const tenantId = fa.tenants[0]!.id
  const found = '2026-11-20T00:00:00Z'
  const ancient = { date: '2001-01-01T00:00:00Z', dateAdded: found }
  const fresh = fa.addUser({ tenantId, email: 'hal@acme-corp.io', passwordLastUpdateInstant: Date.parse('2026-11-25T00:00:00Z') })
  const old = fa.addUser({ tenantId, email: 'ida@acme-corp.io', passwordLastUpdateInstant: Date.parse('2026-10-15T00:00:00Z') })
  const current = fa.addUser({ tenantId, email: 'jo@acme-corp.io', passwordLastUpdateInstant: Date.now() - 86_400_000 })
  const a1 = await settled(bridge, await send(bridge, alertFor('hal@acme-corp.io', { exposureDetails: { title: 'Old Forum', ...ancient } })))
  const a2 = await settled(bridge, await send(bridge, alertFor('ida@acme-corp.io', { exposureDetails: { title: 'Old Forum', ...ancient } })))
  // No dateAdded: the alert's arrival. A breach dated 2001 does not make yesterday's password change "after" it.
  const a3 = await settled(bridge, await send(bridge, alertFor('jo@acme-corp.io', { date: '2001-01-01T00:00:00Z', exposureDetails: { title: 'Old Forum', date: '2001-01-01T00:00:00Z' } })))
  assert.equal(a1.outcome, 'stale', 'changed after Enzoic found the exposure')
  assert.equal(fa.user(fresh.id)!.active, true)
  assert.equal(a2.outcome, 'actioned', 'changed after the breach (2001) but before it was found: the exposed password may be the current one')
  assert.equal(fa.user(old.id)!.active, false)
  assert.equal(a3.outcome, 'actioned')
  assert.equal(fa.user(current.id)!.active, false)
})

test('every action kind, and a retried alert does not repeat the ones that succeeded', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const tenantId = fa.tenants[0]!.id
  const admin = fa.addUser({ tenantId, email: 'secops@acme-corp.io' })
  const lock = fa.addUserAction({ name: 'Breach lock', preventLogin: true })
  const group = fa.addGroup(undefined, 'Breached users')
  const u = fa.addUser({ tenantId, email: 'jack@acme-corp.io', refreshTokens: 1 })
  const bridge = await startTestBridge(t, {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    FUSIONAUTH_ACTOR_USER_ID: admin.id,
    BRIDGE_RETRY_SCHEDULE: '50ms,50ms',
    BRIDGE_ACTIONS: `comment,user-action:${lock},require-password-change,deactivate,revoke-sessions,group:${group}`
  }, undefined, { worker: { random: () => 0.5 } })
  // The last action fails once: the retry must not add a second comment or a second user action.
  fa.fail(503, { times: 1, match: (m, p) => m === 'POST' && p === '/api/group/member' })

  const a = await settled(bridge, await send(bridge, alertFor('jack@acme-corp.io')))

  assert.equal(a.state, 'done', `${a.lastError} ${JSON.stringify(a.actions)}`)
  assert.equal(a.attempts, 2)
  const after = fa.user(u.id)!
  assert.equal(after.active, false)
  assert.equal(after.passwordChangeRequired, true)
  assert.equal(after.passwordChangeReason, 'Breached')
  assert.equal(after.comments.length, 1)
  assert.match(after.comments[0]!.comment, /Example Forum/)
  assert.equal(after.comments[0]!.commenterId, admin.id)
  assert.equal(after.actions.length, 1)
  assert.equal(after.actions[0]!.userActionId, lock)
  assert.deepEqual(after.memberships.map(m => m.groupId), [group])
  assert.equal(calls(fa, 'POST', '/api/user/comment'), 1)
  // A temporal action (preventLogin) is first refused without an expiry, then sent with "forever": one lands.
  assert.equal(fa.journal.filter(j => j.path === '/api/user/action' && j.status === 200).length, 1)
  assert.ok((after.actions[0]!.expiry ?? 0) > Date.parse('9000-01-01'))
  assert.equal(calls(fa, 'POST', '/api/group/member'), 2)
  const failed = a.actions.find(e => e.status === 'failed')
  assert.equal(failed?.action, `group:${group}`)
  assert.equal(failed?.httpStatus, 503)
})

test('FusionAuth refusing connections, then answering 503: retried until done', async t => {
  const { fa, bridge } = await world(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'kim@acme-corp.io' })
  await fa.stopListening()
  const id = await send(bridge, alertFor('kim@acme-corp.io'))
  await waitFor(async () => ((await bridge.store.alerts.get(id))?.attempts ?? 0) >= 2, 'two failed attempts')
  assert.equal((await bridge.store.alerts.get(id))!.state === 'dead', false)
  assert.match((await bridge.store.alerts.get(id))!.lastError ?? '', /ECONNREFUSED|network|connect/i)
  fa.fail(503, { times: 2 })
  await fa.resumeListening()
  const a = await settled(bridge, id)
  assert.equal(a.state, 'done')
  assert.equal(a.outcome, 'actioned')
  assert.ok(a.attempts >= 4, `attempts ${a.attempts}`)
  assert.equal(fa.user(u.id)!.active, false)
  assert.equal(fa.journal.filter(j => j.status === 503).length, 2)
})

test('a hung FusionAuth call times out and is retried', async t => {
  const { fa, bridge } = await world(t, { FUSIONAUTH_TIMEOUT_MS: '300' })
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'lee@acme-corp.io' })
  fa.hang({ times: 1, match: (m, p) => m === 'DELETE' && p.startsWith('/api/user/') })
  const a = await settled(bridge, await send(bridge, alertFor('lee@acme-corp.io')))
  assert.equal(a.state, 'done')
  assert.equal(a.attempts, 2)
  assert.equal(fa.user(u.id)!.active, false)
  const failed = a.actions.find(e => e.status === 'failed')
  assert.match(failed?.detail ?? '', /time-out/)
})

test('401: the worker pauses, /readyz fails, no attempt is burned, and it resumes when the key works', async t => {
  const { fa, bridge } = await world(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'max@acme-corp.io' })
  assert.equal((await fetch(`${bridge.url}/readyz`)).status, 200)
  fa.revokeKey()
  const id = await send(bridge, alertFor('max@acme-corp.io'))
  await waitFor(async () => bridge.worker!.paused, 'the worker to pause')
  const ready = await fetch(`${bridge.url}/readyz`)
  assert.equal(ready.status, 503)
  assert.match(((await ready.json()) as { checks: Record<string, string> }).checks.fusionauth!, /paused/)
  // Several probes pass while paused; the alert waits, attempts not counted.
  await new Promise(resolve => setTimeout(resolve, 350))
  const waiting = (await bridge.store.alerts.get(id))!
  assert.equal(waiting.state, 'queued')
  assert.equal(waiting.attempts, 0)
  assert.ok(bridge.logs.some(l => l.includes('worker paused')))
  assert.equal(fa.user(u.id)!.active, true)

  fa.restoreKey()
  const a = await settled(bridge, id)
  assert.equal(a.outcome, 'actioned')
  assert.equal(a.attempts, 1)
  assert.equal(bridge.worker!.paused, false)
  assert.equal((await fetch(`${bridge.url}/readyz`)).status, 200)
})

test('a permanent 400 kills the alert; `alerts replay` brings it back and it completes', async t => {
  const { fa, bridge } = await world(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'ned@acme-corp.io' })
  fa.fail(400, { match: (m, p) => m === 'DELETE' && p.startsWith('/api/user/') })
  const id = await send(bridge, alertFor('ned@acme-corp.io'))
  const dead = await settled(bridge, id)
  assert.equal(dead.state, 'dead')
  assert.equal(dead.attempts, 1, 'not retried')
  assert.match(dead.lastError ?? '', /400/)

  fa.clearFaults()
  // Through the real CLI, from another process: the running worker notices within its idle check.
  const r = await runCli(['alerts', 'replay', id], { BRIDGE_DATABASE: bridge.config.database })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /Replayed 1 alert/)
  const done = await settled(bridge, id)
  assert.equal(done.state, 'done')
  assert.equal(done.outcome, 'actioned')
  assert.equal(fa.user(u.id)!.active, false)
  assert.deepEqual((await bridge.store.alerts.events(id)).map(e => e.state), ['queued', 'processing', 'dead', 'queued', 'processing', 'done'])
})

test('retry schedule exhausted → dead with the attempts and last cause', async t => {
  const { fa, bridge } = await world(t, { BRIDGE_RETRY_SCHEDULE: '20ms,20ms' })
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'ola@acme-corp.io' })
  fa.fail(500)
  const a = await settled(bridge, await send(bridge, alertFor('ola@acme-corp.io')))
  assert.equal(a.state, 'dead')
  assert.equal(a.attempts, 3)
  assert.match(a.lastError ?? '', /retry schedule exhausted after 3 attempts: .*500/)
})

test('the same alert delivered twice: one deactivate call', async t => {
  const { fa, bridge } = await world(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'pat@acme-corp.io' })
  const body = alertFor('pat@acme-corp.io')
  const [r1, r2] = await Promise.all([postAlert(bridge.url, body), postAlert(bridge.url, body)])
  assert.deepEqual([r1.body.status, r2.body.status].sort(), ['accepted', 'duplicate'])
  assert.equal(r1.body.alertId, r2.body.alertId)
  await settled(bridge, r1.body.alertId)
  const r3 = await postAlert(bridge.url, body)
  assert.equal(r3.body.status, 'duplicate')
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.equal(calls(fa, 'DELETE', `/api/user/${u.id}`), 1)
  assert.equal((await bridge.store.alerts.get(r1.body.alertId))!.deliveries, 3)
})

test('test alerts never reach FusionAuth', async t => {
  const { fa, bridge } = await world(t)
  const r = await postAlert(bridge.url, alertFor('sample@email.tst'))
  assert.equal(r.body.test, true)
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.equal((await bridge.store.alerts.get(r.body.alertId))!.outcome, 'test')
  assert.equal(fa.journal.length, 0)
})

test('metrics and the finished-alert log line', async t => {
  const { fa, bridge } = await world(t)
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'quinn@acme-corp.io' })
  const id = await send(bridge, alertFor('quinn@acme-corp.io'))
  await settled(bridge, id)
  // Counted and logged just after the commit that `settled` sees.
  await waitFor(() => bridge.logs.some(l => l.includes('"msg":"alert finished"')), 'the finished line')
  const text = await (await fetch(`${bridge.url}/metrics`)).text()
  assert.match(text, /^enzoic_bridge_alerts_finished_total\{outcome="actioned"\} 1$/m)
  assert.match(text, /^enzoic_bridge_remediation_steps_total\{action="deactivate",result="done"\} 1$/m)
  assert.match(text, /^enzoic_bridge_fusionauth_request_duration_seconds_count\{operation="user.deactivate",status="200"\} 1$/m)
  assert.match(text, /^enzoic_bridge_stored_alerts\{state="done"\} 1$/m)
  assert.match(text, /^enzoic_bridge_alert_completion_seconds_count\{outcome="actioned"\} 1$/m)
  const line = bridge.logs.map(l => JSON.parse(l) as Record<string, unknown>).find(l => l.msg === 'alert finished')
  assert.ok(line)
  assert.equal(line.alertId, id)
  assert.equal(line.outcome, 'actioned')
})

test('a store that fails under the worker (locked for seconds): the process stays up, readiness fails, the alert is recorded once it recovers', async t => {
  const { fa, bridge } = await world(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'rae@acme-corp.io' })
  fa.setLatency(300)
  const id = await send(bridge, alertFor('rae@acme-corp.io'))
  await waitFor(() => fa.journal.some(j => j.method === 'DELETE'), 'the deactivation to be under way')
  // Another process's transaction holds the write lock longer than the writer's busy time-out (2 s).
  const other = new Database(bridge.config.database)
  t.after(() => other.close())
  other.exec('BEGIN IMMEDIATE')
  await waitFor(async () => (await fetch(`${bridge.url}/readyz`)).status === 503, 'readiness to fail', 8000, 50)
  const ready = await (await fetch(`${bridge.url}/readyz`)).json() as { checks: Record<string, string> }
  assert.match(JSON.stringify(ready.checks), /store/)
  const refused = await postAlert(bridge.url, alertFor('sam@acme-corp.io'))
  assert.equal(refused.status, 503, 'intake refuses instead of acknowledging')
  assert.equal((await fetch(`${bridge.url}/healthz`)).status, 200, 'the process is up')
  assert.equal(fa.user(u.id)!.active, false, 'FusionAuth was done')
  other.exec('COMMIT')
  const a = await settled(bridge, id, 15_000)
  assert.equal(a.outcome, 'actioned')
  assert.equal(a.attempts, 1, 'recorded by the same attempt, not repeated')
  await waitFor(async () => (await fetch(`${bridge.url}/readyz`)).status === 200, 'readiness to recover', 10_000, 50)
  assert.ok(bridge.logs.some(l => l.includes('store answers again')))
  assert.equal((await postAlert(bridge.url, alertFor('sam@acme-corp.io'))).status, 200)
})

test('leases of an earlier process with our own PID (a container restart: PID 1 again) are taken back at start, not at expiry', async t => {
  const dir = tmpDir(t)
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'pid@acme-corp.io' })
  const file = join(dir, 'bridge.db')
  const before = await openStore(file, { role: 'command' })
  const c = classify(alertFor('pid@acme-corp.io'))
  assert.equal(c.kind, 'alert')
  const { id } = await before.alerts.insert((c as { alert: BreachAlert }).alert)
  const previous = `${hostname()}/${process.pid}/0ld0ld00`
  assert.equal((await before.queue.claim(previous, 1, 3_600_000)).length, 1, 'leased for an hour by "us", before the restart')
  await before.close()

  const started = Date.now()
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey }, dir)
  const a = await settled(bridge, id)
  assert.equal(a.outcome, 'actioned')
  assert.ok(Date.now() - started < 5000)
  assert.equal(fa.user(u.id)!.active, false)
  assert.ok((await bridge.store.alerts.events(id)).some(e => e.note === `released: lease holder ${previous} is gone`))
})

test('FusionAuth\'s Retry-After on a 429 is a floor for the next attempt', async t => {
  const { fa, bridge } = await world(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'tia@acme-corp.io' })
  fa.fail(429, { times: 1, retryAfter: 1, match: (m, p) => m === 'DELETE' && p.startsWith('/api/user/') })
  const a = await settled(bridge, await send(bridge, alertFor('tia@acme-corp.io')))
  assert.equal(a.outcome, 'actioned')
  assert.equal(a.attempts, 2)
  const deletes = fa.journal.filter(j => j.method === 'DELETE' && j.path === `/api/user/${u.id}`)
  assert.deepEqual(deletes.map(j => j.status), [429, 200])
  // The schedule says 50 ms; FusionAuth said 1 s.
  assert.ok(deletes[1]!.at - deletes[0]!.at >= 950, `retried after ${deletes[1]!.at - deletes[0]!.at} ms`)
})

test('after an outage, alerts waiting out a long back-off are retried as soon as FusionAuth answers again', async t => {
  const { fa, bridge } = await world(t, { BRIDGE_RETRY_SCHEDULE: '50ms,10m,10m' })
  const u1 = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'uma@acme-corp.io' })
  const u2 = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'vic@acme-corp.io' })
  fa.fail(503)
  const id = await send(bridge, alertFor('uma@acme-corp.io'))
  // Two failures: the next attempt is ten minutes away.
  const waiting = await waitFor(async () => { const a = await bridge.store.alerts.get(id); return a?.attempts === 2 && a.state === 'retrying' ? a : undefined }, 'two failed attempts')
  assert.ok(Date.parse(waiting.nextAttemptAt!) - Date.now() > 5 * 60_000)
  fa.clearFaults()
  // FusionAuth is back: a new alert succeeds (or the recovery probe notices) and the waiting one follows at once.
  const other = await settled(bridge, await send(bridge, alertFor('vic@acme-corp.io')))
  assert.equal(other.outcome, 'actioned')
  const a = await settled(bridge, id, 5000)
  assert.equal(a.outcome, 'actioned')
  assert.equal(a.attempts, 3)
  assert.equal(fa.user(u1.id)!.active, false)
  assert.equal(fa.user(u2.id)!.active, false)
  assert.ok(bridge.logs.some(l => l.includes('FusionAuth answers again')))
})

test('breach data forwarded to FusionAuth is plain and bounded: a 30,000-character title full of escapes does not reach a comment as it came', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const tenantId = fa.tenants[0]!.id
  const admin = fa.addUser({ tenantId, email: 'secops@acme-corp.io' })
  const flag = fa.addUserAction({ name: 'Breach flag' })
  const u = fa.addUser({ tenantId, email: 'hostile@acme-corp.io' })
  const bridge = await startTestBridge(t, {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    FUSIONAUTH_ACTOR_USER_ID: admin.id,
    BRIDGE_ACTIONS: `comment,user-action:${flag}`
  })
  const title = '\u001b[2J\u001b]8;;https://evil.example/\u0007click me\u001b]8;;\u0007\r\nFake: admin approved\u202e' + 'A'.repeat(30_000)
  const a = await settled(bridge, await send(bridge, { username: 'hostile@acme-corp.io', exposureID: 'exp\r\n\u001b[31mred', exposureDetails: { title } }))
  assert.equal(a.outcome, 'actioned')
  const comment = fa.user(u.id)!.comments[0]!.comment
  const reason = fa.user(u.id)!.actions[0]!.comment!
  for (const text of [comment, reason]) {
    assert.ok(text.length <= 1000, `bounded (${text.length})`)
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    assert.doesNotMatch(text, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, 'no control character')
    assert.match(text, /click me .*Fake: admin approved A+…/, 'the title, its controls blanked, cut')
    assert.match(text, /exposure exp \[31mred/)
  }
})
