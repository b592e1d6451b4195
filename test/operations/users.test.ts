// The compromised-users report (src/operations/users.ts): one row per user and exposure, from the steps of
// a real bridge's alerts, and the state each user is in.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { listUsers, userState } from '../../src/operations/users.js'
import type { UserExposure } from '../../src/store/types.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { startTestBridge, waitFor } from '../helper.js'
import { commandStore, send } from './support.js'

type Steps = UserExposure['steps']
const step = (state: Steps[number]['state'], detail?: string, verdict?: string, phase: 'immediate' | 'grace' = 'immediate'): Steps[number] =>
  ({ action: 'deactivate', phase, dueAt: '2026-01-01T00:00:00.000Z', state, detail, result: verdict === undefined ? undefined : { verdict } })

test('userState is the one vocabulary\'s rule (alerts/outcomes.ts): a verdict, restored, cancelled, pending, failed, uncertain, self-remediated, actioned', () => {
  const cases: Array<[Steps, string]> = [
    [[step('skipped', 'protected user', 'protected')], 'protected'],
    [[step('skipped', 'member of protected group x', 'protected')], 'protected'],
    [[step('skipped', 'password changed after the exposure', 'stale')], 'stale'],
    [[step('skipped', 'dry run: planned, not done', 'dry-run')], 'dry-run'],
    [[step('skipped', 'customData names user 42', 'mismatch')], 'mismatch'],
    [[step('done'), step('undone')], 'restored'],
    [[step('done'), step('cancelled')], 'cancelled'],
    [[step('cancelled')], 'cancelled'],
    [[step('done'), step('pending')], 'pending'],
    [[step('done'), step('failed')], 'failed'],
    [[step('done'), step('uncertain', 'FusionAuth may have sent the email')], 'uncertain'],
    [[step('done'), step('skipped', 'self-remediated', undefined, 'grace')], 'self-remediated'],
    [[step('skipped', 'already inactive')], 'actioned'],
    [[step('done')], 'actioned']
  ]
  for (const [steps, expected] of cases) assert.equal(userState(steps), expected, JSON.stringify(steps))
})

test('listUsers: a row per user and exposure, newest first, filtered by state, tenant, since and limit', async t => {
  const fa = await startFusionAuthFake({ tenants: 2 })
  t.after(() => fa.close())
  const [t1, t2] = [fa.tenants[0]!.id, fa.tenants[1]!.id]
  const ruth = fa.addUser({ tenantId: t1, email: 'ruth@acme-corp.io' })
  const omar = fa.addUser({ tenantId: t2, email: 'omar@acme-corp.io' })
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  const first = await send(bridge, { username: 'ruth@acme-corp.io', exposureID: 'exp-1' })
  const second = await send(bridge, { username: 'omar@acme-corp.io', exposureID: 'exp-2' })
  for (const id of [first, second]) await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', `${id} done`)
  const store = await commandStore(t, bridge)

  const rows = await listUsers(store)
  assert.deepEqual(rows.map(r => [r.userId, r.tenantId, r.email, r.exposureId, r.state]), [
    [omar.id, t2, 'omar@acme-corp.io', 'exp-2', 'actioned'],
    [ruth.id, t1, 'ruth@acme-corp.io', 'exp-1', 'actioned']
  ])
  assert.deepEqual(rows[1]!.alertIds, [first])
  assert.deepEqual(rows[1]!.steps.map(s => `${s.action}:${s.state}`).sort(), ['deactivate:done', 'revoke-sessions:done'])
  assert.deepEqual((await listUsers(store, { tenantId: t1 })).map(r => r.userId), [ruth.id])
  assert.deepEqual((await listUsers(store, { state: 'pending' })), [])
  assert.deepEqual((await listUsers(store, { state: 'actioned', limit: 1 })).map(r => r.userId), [omar.id])
  assert.deepEqual((await listUsers(store, { sinceMs: Date.now() + 60_000 })), [])
})
