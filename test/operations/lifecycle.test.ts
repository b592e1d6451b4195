// Cancel and restore as the CLI calls them (src/operations/lifecycle.ts, after resolveAlertId): on a real
// bridge's SQLite file opened as a command opens it, and FusionAuth (the fake) over HTTP. The worker's side
// of the lifecycle (grace periods, policies) is test/remediation/lifecycle.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { resolveAlertId } from '../../src/operations/alerts.js'
import { cancelAlert, OperatorActionError, restoreAlert } from '../../src/operations/lifecycle.js'
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

/** A user the bridge deactivated, revoked and put in a group (alert done), and the store and gateway a command uses. */
interface Actioned {
  fa: Awaited<ReturnType<typeof startFusionAuthFake>>
  user: { id: string }
  group: string
  id: string
  store: Awaited<ReturnType<typeof commandStore>>
  restore: (key?: string, userId?: string) => ReturnType<typeof restoreAlert>
}

async function actioned (t: import('node:test').TestContext): Promise<Actioned> {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'erik@acme-corp.io', refreshTokens: 1 })
  const group = fa.addGroup(undefined, 'Breached')
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_ACTIONS: `deactivate,revoke-sessions,group:${group}` })
  const id = await send(bridge, { username: 'erik@acme-corp.io', exposureID: 'exp-halfway' })
  await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alert to finish')
  assert.equal(fa.user(user.id)!.active, false)
  assert.deepEqual(fa.user(user.id)!.memberships.map(m => m.groupId), [group])
  const store = await commandStore(t, bridge)
  const restore = async (key = fa.apiKey, userId?: string): ReturnType<typeof restoreAlert> => {
    const gateway = createFusionAuthGateway({ url: fa.url, apiKey: key, timeoutMs: 5000 })
    try {
      return await restoreAlert({ store, config: bridge.config, gateway }, id, { operator: 'bob', reason: 'not breached', userId })
    } finally {
      await gateway.close()
    }
  }
  return { fa, user, group, id, store, restore }
}

test('restoreAlert probes every permission its undo needs first: a key that may not remove the membership undoes nothing', async t => {
  const { fa, user, id, store, restore } = await actioned(t)
  // The README's list as it was: what the actions need to run, not what their undo needs.
  fa.addApiKey('run-only', { endpoints: { '/api/user': ['GET', 'DELETE', 'PUT'], '/api/jwt/refresh': ['GET', 'DELETE'], '/api/group/member': ['POST'], '/api/group': ['GET'] } })
  fa.clearJournal()
  await assert.rejects(restore('run-only'), (e: unknown) => {
    assert.ok(e instanceof OperatorActionError)
    assert.equal(e.code, 'BRIDGE_RESTORE_NOT_PERMITTED')
    assert.equal(e.failure, 'credential')
    assert.match(e.message, new RegExp(`^nothing undone for alert ${id}: the API key may not call DELETE /api/group/member \\(alerts restore \\(group\\)\\)\\. ` +
      'Allow these for FUSIONAUTH_API_KEY'))
    return true
  })
  assert.equal(fa.user(user.id)!.active, false, 'nothing undone')
  assert.equal(fa.mutatingCalls().filter(j => j.status >= 200 && j.status < 300).length, 0)
  assert.deepEqual((await store.steps.list(id)).map(s => s.state), ['done', 'done', 'done'], 'no step changed')
})

test('restoreAlert refused midway: it stops, records exactly what was undone, says what to fix; a second restore does the rest', async t => {
  const { fa, user, id, store, restore } = await actioned(t)
  // The key passes the permission probe (random ids), then FusionAuth refuses the reactivation of this user.
  fa.fail(401, { match: (m, p) => m === 'PUT' && p === `/api/user/${user.id}` })
  await assert.rejects(restore(), (e: unknown) => {
    assert.ok(e instanceof OperatorActionError)
    assert.equal(e.code, 'BRIDGE_RESTORE_INCOMPLETE')
    assert.equal(e.failure, 'credential')
    assert.match(e.message, new RegExp(`^alert ${id}: restore stopped at deactivate of user ${user.id} \\(.*401.*\\): the API key was refused: check FUSIONAUTH_API_KEY`))
    assert.match(e.message, new RegExp(`Undone: group:\\S+ of user ${user.id}\\. Not undone: deactivate of user ${user.id}$`))
    assert.doesNotMatch(e.message, /run it again/)
    return true
  })
  assert.deepEqual(fa.user(user.id)!.memberships, [], 'the membership was removed')
  assert.equal(fa.user(user.id)!.active, false, 'the reactivation was refused')
  const steps = new Map((await store.steps.list(id)).map(s => [s.action.replace(/:.*/, ''), s.state]))
  assert.deepEqual(Object.fromEntries(steps), { deactivate: 'done', 'revoke-sessions': 'done', group: 'undone' })
  assert.match((await store.alerts.events(id)).at(-1)?.note ?? '', /^restore incomplete, by bob: not breached: restore stopped at deactivate/)

  fa.clearFaults()
  const r = await restore()
  assert.deepEqual(r.undone.map(u => u.step.action), ['deactivate'])
  assert.equal(fa.user(user.id)!.active, true)
  assert.equal(r.alert.outcome, 'restored')
})

test('restoreAlert --user: a user the alert never touched is an error, not "nothing left to undo"', async t => {
  const { user, id, restore } = await actioned(t)
  const stranger = randomUUID()
  await assert.rejects(restore(undefined, stranger), (e: unknown) => e instanceof OperatorActionError && e.code === 'BRIDGE_NOT_THE_ALERTS_USER' &&
    e.message === `alert ${id} never touched user ${stranger}: its users are ${user.id}`)
  const r = await restore(undefined, user.id.toUpperCase())
  assert.deepEqual(r.undone.map(u => u.step.action.replace(/:.*/, '')), ['group', 'deactivate'])
})
