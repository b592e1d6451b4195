// The alert operations (src/operations/alerts.ts) on a real SQLite file beside a real bridge, as a command
// opens it: resolving ids, listing, showing, replaying, counting and purging.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import {
  ALERT_STATES, AlertNotFoundError, alertStats, AmbiguousAlertIdError, InvalidAlertIdError, listAlerts, purgeAlerts, replayAlerts, resolveAlertId, showAlert
} from '../../src/operations/alerts.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { startTestBridge, waitFor } from '../helper.js'
import { bridgeWithAlerts, commandStore, commonPrefix, send } from './support.js'

test('resolveAlertId: a full id or an unambiguous prefix (any case) is the id; otherwise a typed error says why', async t => {
  const { store, queued, tests } = await bridgeWithAlerts(t)
  const all = [queued, ...tests]
  assert.equal(await resolveAlertId(store, queued), queued)
  assert.equal(await resolveAlertId(store, ` ${queued.toUpperCase()} `), queued)
  assert.equal(await resolveAlertId(store, queued.slice(0, 24)), queued)

  const shared = commonPrefix(all)
  assert.ok(shared.replace(/-/g, '').length >= 4, `the ids share only ${shared}`)
  await assert.rejects(resolveAlertId(store, shared), (e: unknown) => {
    assert.ok(e instanceof AmbiguousAlertIdError)
    assert.equal(e.given, shared)
    assert.deepEqual(e.candidates.map(a => a.id), [...all].reverse(), 'every candidate, newest first')
    assert.equal(e.more, false)
    return true
  })
  await assert.rejects(resolveAlertId(store, 'abc'), (e: unknown) => e instanceof InvalidAlertIdError && /too short: give at least 4 characters/.test(e.message))
  await assert.rejects(resolveAlertId(store, 'xyz!'), (e: unknown) => e instanceof InvalidAlertIdError && /not an alert id/.test(e.message))
  await assert.rejects(resolveAlertId(store, '0000'), (e: unknown) => e instanceof AlertNotFoundError && e.given === '0000')
  await assert.rejects(resolveAlertId(store, randomUUID()), AlertNotFoundError, 'a well-formed id that is not stored')
})

test('resolveAlertId: more than ten candidates lists ten and says there are more', async t => {
  const { bridge, store, queued, tests } = await bridgeWithAlerts(t)
  const ids = [queued, ...tests]
  for (let i = 0; i < 8; i++) ids.push(await send(bridge, { username: `many${i}@example.com`, exposureID: `exp-m${i}` }))
  const shared = commonPrefix(ids)
  await assert.rejects(resolveAlertId(store, shared), (e: unknown) => e instanceof AmbiguousAlertIdError && e.candidates.length === 10 && e.more)
})

test('listAlerts: newest first, filtered by state, outcome, email (as entered or lower-cased), since, limit', async t => {
  const { store, queued, tests } = await bridgeWithAlerts(t)
  const ids = async (filter: Parameters<typeof listAlerts>[1]): Promise<string[]> => (await listAlerts(store, filter)).map(a => a.id)
  const newestFirst = [...tests].reverse()
  assert.deepEqual(await ids({}), [...newestFirst, queued])
  assert.deepEqual(await ids({ outcome: 'test' }), newestFirst)
  assert.deepEqual(await ids({ state: 'queued' }), [queued])
  assert.deepEqual(await ids({ email: ' RUTH@Acme-Corp.io ' }), [queued])
  assert.deepEqual(await ids({ email: 'probe2@example.com', outcome: 'test' }), [tests[1]])
  assert.deepEqual(await ids({ since: Date.now() - 3_600_000 }), [...newestFirst, queued])
  assert.deepEqual(await ids({ since: Date.parse('2999-01-01T00:00:00Z') }), [])
  assert.deepEqual(await ids({ limit: 2 }), newestFirst.slice(0, 2))
  assert.deepEqual(await ids({ email: 'nobody@acme-corp.io' }), [])
})

test('showAlert: the record, its history and its steps; a prefix works', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'ruth@acme-corp.io' })
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  const id = await send(bridge, { username: 'ruth@acme-corp.io', exposureID: 'exp-show', plaintextPassword: 'Pw-Never-Stored-1' })
  await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alert to finish')
  const store = await commandStore(t, bridge)
  const { alert, history, steps } = await showAlert(store, id.slice(0, 24))
  assert.equal(alert.id, id)
  assert.equal(alert.outcome, 'actioned')
  assert.equal(alert.hadPassword, true)
  assert.ok(!JSON.stringify(alert).includes('Pw-Never-Stored-1'))
  assert.deepEqual(history.map(e => e.state), ['queued', 'processing', 'done'])
  assert.deepEqual(steps.map(s => [s.userId, s.action, s.state]), [[user.id, 'deactivate', 'done'], [user.id, 'revoke-sessions', 'done']])
  await assert.rejects(showAlert(store, randomUUID()), AlertNotFoundError)
})

test('replayAlerts: dead alerts back to the queue, by id prefix or all; what is not dead (or purged) is reported with why', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'gone@acme-corp.io' })
  // A group that does not exist: FusionAuth answers 400, the alert goes dead.
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_ACTIONS: `deactivate,group:${randomUUID()}` })
  const dead = await send(bridge, { username: 'gone@acme-corp.io', exposureID: 'exp-d' })
  await waitFor(async () => (await bridge.store.alerts.get(dead))?.state === 'dead', 'the alert to go dead')
  const done = await send(bridge, { username: 'probe@example.com', exposureID: 'exp-t' })
  const store = await commandStore(t, bridge)

  assert.deepEqual(await replayAlerts(store, [done.slice(0, 24)]), { replayed: [], notReplayed: [{ id: done, state: 'done', reason: 'not dead (state done)' }] })
  assert.deepEqual(await replayAlerts(store, [dead.slice(0, 24), dead]), { replayed: [dead], notReplayed: [] }, 'an alert given twice is replayed once')
  await waitFor(async () => (await bridge.store.alerts.get(dead))?.state === 'dead' && (await bridge.store.alerts.events(dead)).filter(e => e.state === 'dead').length === 2, 'the replayed alert to go dead again')
  assert.deepEqual(await replayAlerts(store, 'dead'), { replayed: [dead], notReplayed: [] })
  await assert.rejects(replayAlerts(store, [dead, 'abc']), InvalidAlertIdError, 'every id is resolved before anything changes')
  assert.equal((await store.alerts.get(dead))?.state, 'queued')

  await new Promise(resolve => setTimeout(resolve, 20))
  await purgeAlerts(store, 10)
  assert.deepEqual(await replayAlerts(store, [done]), { replayed: [], notReplayed: [{ id: done, state: 'done', reason: 'purged (only a tombstone is left)' }] })
})

test('alertStats: every state counted (zeros included), outcomes of finished alerts', async t => {
  const { store } = await bridgeWithAlerts(t)
  const { byState, byOutcome } = await alertStats(store)
  assert.deepEqual(Object.entries(byState).filter(([, n]) => n > 0), [['queued', 1], ['done', 3]])
  for (const state of ALERT_STATES) assert.equal(typeof byState[state], 'number', state)
  assert.deepEqual(byOutcome, { test: 3 })
})

test('purgeAlerts: the personal data of finished alerts only; tombstones keep id, state and outcome; the cut-off is reported', async t => {
  const { store, queued, tests } = await bridgeWithAlerts(t)
  const now = Date.now()
  const none = await purgeAlerts(store, 30 * 86_400_000, now)
  assert.deepEqual(none, { purged: 0, olderThanMs: 30 * 86_400_000, finishedBefore: new Date(now - 30 * 86_400_000).toISOString() })
  await new Promise(resolve => setTimeout(resolve, 20))
  assert.equal((await purgeAlerts(store, 10)).purged, 3, 'the three finished test alerts')
  const tomb = (await store.alerts.get(tests[0]!))!
  assert.equal(tomb.id, tests[0])
  assert.equal(tomb.email, undefined)
  assert.equal(tomb.outcome, 'test', 'the tombstone keeps the outcome')
  assert.equal(typeof tomb.purgedAt, 'string')
  assert.equal((await store.alerts.get(queued))?.email, 'ruth@acme-corp.io', 'an unfinished alert keeps its data')
})
