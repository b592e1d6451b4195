// notify-user: exactly one email where FusionAuth lets the bridge know, `uncertain` (never a silent skip) where
// it does not, and an operator's `alerts resend-notice` to decide. Real HTTP intake, the real worker and gateway,
// the FusionAuth fake with faults on POST /api/email/send.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { freePort, postAlert, startTestBridge, tmpDir, waitFor, type TestBridge } from '../helper.js'
import { listUsers } from '../../src/operations/users.js'
import { resendNotice } from '../../src/operations/lifecycle.js'
import { createFusionAuthGateway, FusionAuthError } from '../../src/fusionauth/index.js'
import { notifyUser } from '../../src/remediation/actions/notify-user.js'
import { openStore } from '../../src/store/index.js'
import type { AlertRecord } from '../../src/alerts/types.js'

const isSend = (m: string, p: string): boolean => m === 'POST' && p.startsWith('/api/email/send/')
const FAST = { BRIDGE_RETRY_SCHEDULE: '50ms,50ms,50ms,50ms,50ms,50ms', FUSIONAUTH_TIMEOUT_MS: '700' }

interface World { fa: FusionAuthFake, bridge: TestBridge, template: string, users: Array<{ id: string, email: string }> }

async function world (t: TestContext, n = 3): Promise<World> {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const template = fa.addEmailTemplate('Breach notice')
  const users = Array.from({ length: n }, (_, i) => fa.addUser({ tenantId: fa.tenants[0]!.id, email: `notify-${i}-${randomUUID().slice(0, 6)}@acme-corp.io` }))
  const bridge = await startTestBridge(t, {
    FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_ACTIONS: `notify-user:${template}`, ...FAST
  }, tmpDir(t), { worker: { random: () => 0.5, readinessCacheMs: 0, storeRetryMs: 50 }, pollMs: 50 })
  return { fa, bridge, template, users }
}

async function alertEach (w: World): Promise<string[]> {
  const ids: string[] = []
  for (const u of w.users) ids.push((await postAlert(w.bridge.url, { username: u.email, exposureID: 'exp-notify' })).body.alertId as string)
  return ids
}

const finished = async (w: World, id: string): Promise<AlertRecord> =>
  await waitFor(async () => { const a = await w.bridge.store.alerts.get(id); return a?.state === 'done' || a?.state === 'dead' ? a : undefined }, `alert ${id} finished`, 15_000)

const emailsTo = (fa: FusionAuthFake, userId: string): number => fa.sentEmails().filter(e => e.userIds.includes(userId)).length

test('FusionAuth sent the email, then a 502 came back: one email each, the step uncertain (shown everywhere), and an operator resends', async t => {
  const w = await world(t)
  w.fa.fail(502, { afterEffect: true, match: isSend })
  const ids = await alertEach(w)
  for (const id of ids) {
    const a = await finished(w, id)
    assert.deepEqual([a.state, a.outcome, a.users[0]?.outcome], ['done', 'uncertain', 'uncertain'])
    const [step] = await w.bridge.store.steps.list(id)
    assert.equal(step!.state, 'uncertain')
    assert.match(step!.detail ?? '', /FusionAuth may have sent the email .*HTTP 502.*alerts resend-notice/)
  }
  await new Promise(resolve => setTimeout(resolve, 300)) // retries would have happened by now
  for (const u of w.users) assert.equal(emailsTo(w.fa, u.id), 1, 'exactly one email, not one per retry')
  const report = await listUsers(w.bridge.store, {})
  assert.deepEqual(report.map(r => r.state), w.users.map(() => 'uncertain'))
  assert.ok(w.bridge.logs.some(l => l.includes('"event":"step.uncertain"')))

  // The operator decides: sent again, once, recorded with who and why.
  w.fa.clearFaults()
  const gateway = createFusionAuthGateway({ url: w.fa.url, apiKey: w.fa.apiKey, timeoutMs: 5000 })
  t.after(() => gateway.close())
  const r = await resendNotice({ store: w.bridge.store, config: w.bridge.config, gateway }, ids[0]!, { operator: 'ops', reason: 'not delivered' })
  assert.deepEqual(r.resent.map(x => x.state), ['done'])
  assert.equal(emailsTo(w.fa, w.users[0]!.id), 2)
  assert.equal(r.alert.outcome, 'actioned')
  assert.match((await w.bridge.store.steps.list(ids[0]!))[0]!.detail ?? '', /resent by ops: not delivered/)
  const again = await resendNotice({ store: w.bridge.store, config: w.bridge.config, gateway }, ids[0]!, { operator: 'ops', reason: 'twice' })
  assert.equal(again.nothingToDo, true)
  assert.equal(emailsTo(w.fa, w.users[0]!.id), 2, 'nothing uncertain: nothing sent')
})

test('a time-out with nothing sent is uncertain, not a silent "already notified"; a refusal (503 + Retry-After) is retried and sent once', async t => {
  const w = await world(t, 2)
  w.fa.hang({ times: 1, match: isSend })
  w.fa.fail(503, { times: 2, retryAfter: 0, match: isSend })
  const ids = await alertEach(w)
  const outcomes = await Promise.all(ids.map(async id => (await finished(w, id)).outcome))
  // One hit the hang (uncertain), the other the refusals, then went through on a retry.
  assert.deepEqual([...outcomes].sort(), ['actioned', 'uncertain'])
  const sent = w.users.map(u => emailsTo(w.fa, u.id)).sort()
  assert.deepEqual(sent, [0, 1], 'the refused one sent exactly once; the timed-out one not repeated by itself')
  const steps = await w.bridge.store.steps.list(ids[outcomes.indexOf('uncertain')]!)
  assert.match(steps[0]!.detail ?? '', /FusionAuth may have sent the email \(email\.send: time-out\)/, 'never a silent "already notified"')
})

test('a connection that cannot be made gives the ledger back (the next attempt sends); an answer FusionAuth gives is kept', async t => {
  const dir = tmpDir(t)
  const store = await openStore(`${dir}/b.db`, { role: 'command' })
  t.after(() => store.close())
  const closed = createFusionAuthGateway({ url: `http://127.0.0.1:${await freePort()}`, apiKey: 'k', timeoutMs: 1000 })
  t.after(() => closed.close())
  const alert = { id: randomUUID(), exposureId: 'exp-refused' } as unknown as AlertRecord
  const user = { id: randomUUID(), tenantId: randomUUID(), active: true }
  const ctx = { user, alert, fusionauth: closed, id: randomUUID(), labels: [], kv: store.kv }
  await assert.rejects(notifyUser.run(ctx), (err: unknown) => err instanceof FusionAuthError && err.notSent)
  assert.equal(await store.kv.get(`notified:${user.tenantId}:${user.id}:exp-refused`), undefined, 'the ledger is free again')
})
