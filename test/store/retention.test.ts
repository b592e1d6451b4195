import { test } from 'node:test'
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, startTestBridge, waitFor } from '../helper.js'

test('BRIDGE_RETENTION: a running bridge removes the personal data of old finished alerts; a late re-delivery stays a duplicate and is never actioned again', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'old@acme-corp.io' })
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'recent@acme-corp.io' })
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_RETENTION: '30d' }, undefined, { retention: { firstAfterMs: 60_000, everyMs: 150 } })
  const old = await postAlert(bridge.url, { username: 'old@acme-corp.io', exposureID: 'e-old', customData: 'crm-1' })
  const recent = await postAlert(bridge.url, { username: 'recent@acme-corp.io', exposureID: 'e-recent' })
  for (const id of [old.body.alertId, recent.body.alertId]) {
    await waitFor(async () => (await bridge.store.alerts.get(id as string))?.state === 'done', 'the alerts to finish')
  }
  // The first alert finished 31 days ago.
  const db = new Database(bridge.config.database)
  db.prepare('UPDATE alerts SET completed_at = completed_at - ? WHERE id = ?').run(31 * 86_400_000, old.body.alertId)
  db.close()

  const tomb = await waitFor(async () => { const a = await bridge.store.alerts.get(old.body.alertId as string); return a?.purgedAt !== undefined ? a : undefined }, 'the purge')
  assert.deepEqual([tomb.state, tomb.outcome, tomb.email, tomb.customData, tomb.users], ['done', 'actioned', undefined, undefined, []])
  assert.equal((await bridge.store.alerts.get(recent.body.alertId as string))!.email, 'recent@acme-corp.io', 'within retention: kept')
  // Logged when the whole pass is done (its WAL checkpoint included), a moment after the tombstone is visible.
  await waitFor(() => bridge.logs.some(l => l.includes('personal data of finished alerts removed')), 'the retention task\'s log line')
  const raw = new Database(bridge.config.database, { readonly: true })
  t.after(() => raw.close())
  assert.equal((raw.prepare('SELECT count(*) AS n FROM alerts WHERE email = ?').get('old@acme-corp.io') as { n: number }).n, 0)

  fa.user(user.id)!.active = true // reactivated by an administrator meanwhile
  const again = await postAlert(bridge.url, { username: 'old@acme-corp.io', exposureID: 'e-old', customData: 'crm-1' })
  assert.deepEqual(again.body, { status: 'duplicate', alertId: old.body.alertId })
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.equal(fa.user(user.id)!.active, true, 'not actioned again')
})

test('BRIDGE_RETENTION is validated: at least a day, or off', async () => {
  const { loadConfig } = await import('../../src/config/index.js')
  assert.equal(loadConfig({}).retentionMs, 90 * 86_400_000, 'default 90 days')
  assert.equal(loadConfig({ BRIDGE_RETENTION: 'off' }).retentionMs, undefined)
  assert.throws(() => loadConfig({ BRIDGE_RETENTION: '2h' }), /BRIDGE_RETENTION: must be a duration of at least 1d/)
})
