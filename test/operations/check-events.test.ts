// `breach-bridge check`, FusionAuth's events (src/operations/check-events.ts): the webhook, the tenants' events, block
// mode, signatures, editions — against the FusionAuth fake, set up as an operator would (by hand or with the register
// operation). The rest of check: check.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { createEventSigner } from '../fakes/fusionauth-events.js'
import { testEnv, tmpDir } from '../helper.js'
import { FUSIONAUTH_EVENTS } from '../../src/alerts/fusionauth-events.js'
import { createFusionAuthGateway } from '../../src/fusionauth/index.js'
import { runChecks, type CheckLine, type CheckReport } from '../../src/operations/check.js'
import { newSecret, registerFusionAuthWebhook } from '../../src/operations/fusionauth-webhooks.js'

type Line = CheckLine

async function check (env: NodeJS.ProcessEnv): Promise<CheckReport & { lines: Line[], text: string }> {
  const report = await runChecks(env)
  return { ...report, lines: report.checks, text: JSON.stringify(report) }
}

const has = (lines: Line[], level: string, what: string | RegExp, detail: RegExp = /./): boolean =>
  lines.some(l => l.level === level && (typeof what === 'string' ? l.what === what : what.test(l.what)) && detail.test(l.detail))

/** FusionAuth's webhook made as an operator would by hand: POST /api/webhook. */
async function makeWebhook (fa: FusionAuthFake, webhook: Record<string, unknown>): Promise<string> {
  const r = await fetch(`${fa.url}/api/webhook`, {
    method: 'POST',
    headers: { authorization: fa.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ webhook: { connectTimeout: 1000, readTimeout: 2000, ...webhook } })
  })
  assert.equal(r.status, 200, await r.clone().text())
  return (await r.json() as { webhook: { id: string } }).webhook.id
}

const ALL_EVENTS = Object.fromEntries(FUSIONAUTH_EVENTS.map(e => [e.type, true]))

test('runChecks, FusionAuth events: the route off (INFO) without FUSIONAUTH_WEBHOOK_SECRET; with it, no webhook sending the secret is a FAIL', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const base = testEnv(tmpDir(t), { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  const off = await check(base)
  assert.ok(has(off.lines, 'INFO', 'FusionAuth events', /FUSIONAUTH_WEBHOOK_SECRET is not set: POST \/webhooks\/fusionauth is off \(404\)/), off.text)
  assert.ok(!off.lines.some(l => /webhook events|tenant events/.test(l.what)))

  const secret = newSecret()
  const env = { ...base, FUSIONAUTH_WEBHOOK_SECRET: secret }
  const none = await check(env)
  assert.ok(has(none.lines, 'FAIL', 'FusionAuth webhook', /no FusionAuth webhook sends FUSIONAUTH_WEBHOOK_SECRET/), none.text)
  assert.ok(has(none.lines, 'WARN', 'tenant events', /sends none of the bridge's events/), none.text)
  assert.ok(has(none.lines, 'FAIL', 'tenant events', /^no tenant sends any of the bridge's events/), none.text)
  assert.ok(has(none.lines, 'INFO', 'FusionAuth events', /user\.password\.breach: paid \(breached password detection\); user\.password\.update, user\.password\.reset\.success: Enterprise/), none.text)

  // One at the bridge's path, but with another header: the bridge would refuse its events.
  await makeWebhook(fa, { url: 'https://bridge.example.com/webhooks/fusionauth', eventsEnabled: ALL_EVENTS, headers: { Authorization: 'Bearer something-else' }, global: true })
  const wrong = await check(env)
  assert.ok(has(wrong.lines, 'FAIL', 'FusionAuth webhook', /looks like this bridge's, but sends none of FUSIONAUTH_WEBHOOK_SECRET's values.*\(401\)/), wrong.text)
  assert.ok(!wrong.text.includes(secret.slice(7)) && !wrong.text.includes('something-else'), 'no header value in any line')
})

test('runChecks, FusionAuth events: the webhook found by its secret (any rotation value), the events it and each tenant lack (with their edition), a tenant it does not cover', async t => {
  const fa = await startFusionAuthFake({ tenants: 3 })
  t.after(() => fa.close())
  const [t1, t2, t3] = fa.tenants
  const secret = newSecret()
  const partial: Record<string, boolean> = { ...ALL_EVENTS, 'user.password.update': false }
  delete partial['user.password.breach']
  const id = await makeWebhook(fa, { url: 'http://bridge.internal/fa', eventsEnabled: partial, headers: { authorization: secret }, tenantIds: [t1!.id, t2!.id] })
  for (const e of FUSIONAUTH_EVENTS) t1!.eventConfiguration.events[e.type] = { enabled: true, transactionType: 'None' }
  t2!.eventConfiguration.events['user.create'] = { enabled: true, transactionType: 'None' }
  const env = testEnv(tmpDir(t), { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, FUSIONAUTH_WEBHOOK_SECRET: `Bearer previous-one,${secret}` })
  const r = await check(env)
  assert.ok(has(r.lines, 'WARN', 'FusionAuth webhook', new RegExp(`^${id} → http://bridge\\.internal/fa sends the secret .*its path is not /webhooks/fusionauth`)), r.text)
  assert.ok(has(r.lines, 'WARN', 'FusionAuth webhook', /is http: the secret and the events travel unencrypted/), r.text)
  assert.ok(has(r.lines, 'WARN', 'webhook events', /^the webhook does not send user\.password\.breach \(paid \(breached password detection\)\), user\.password\.update \(Enterprise\): run/), r.text)
  assert.ok(has(r.lines, 'OK', 'tenant events', new RegExp(`^${t1!.id} \\(Default\\) sends all ${FUSIONAUTH_EVENTS.length} events`)), r.text)
  assert.ok(has(r.lines, 'WARN', 'tenant events', new RegExp(`^${t2!.id} \\(Tenant 2\\) does not send user\\.password\\.breach \\(paid.*user\\.login\\.success, user\\.bulk\\.create`)), r.text)
  assert.ok(has(r.lines, 'WARN', 'tenant events', new RegExp(`^${t3!.id} \\(Tenant 3\\): the webhook does not cover this tenant`)), r.text)
  assert.ok(has(r.lines, 'WARN', 'tenant events', new RegExp(`^${t3!.id} \\(Tenant 3\\) sends none`)), r.text)
  assert.ok(!has(r.lines, 'FAIL', 'tenant events'), 'other tenants send them: one silent tenant is a WARN')
  assert.ok(!r.text.includes(secret.slice(7)))

  // After `fusionauth webhooks register` there is nothing left to say but OK.
  const gateway = createFusionAuthGateway({ url: fa.url, apiKey: fa.apiKey, timeoutMs: 2000 })
  t.after(() => gateway.close())
  const url = 'https://bridge.example.com/webhooks/fusionauth'
  await fetch(`${fa.url}/api/webhook/${id}`, { method: 'DELETE', headers: { authorization: fa.apiKey } })
  const reg = await registerFusionAuthWebhook(gateway, { url, breachLogin: 'allow' }, async () => fa.tenants.map(x => x.id))
  const fixed = await check({ ...env, FUSIONAUTH_WEBHOOK_SECRET: reg.secret })
  assert.deepEqual(fixed.lines.filter(l => /FusionAuth webhook|webhook events|tenant events|breach login|event signatures/.test(l.what) && l.level !== 'OK'), [], fixed.text)
})

test('runChecks, FusionAuth events: FUSIONAUTH_BREACH_LOGIN=block without a transactional user.password.breach is a WARN (block has no effect)', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const gateway = createFusionAuthGateway({ url: fa.url, apiKey: fa.apiKey, timeoutMs: 2000 })
  t.after(() => gateway.close())
  const tenants = async (): Promise<string[]> => [fa.tenants[0]!.id]
  const reg = await registerFusionAuthWebhook(gateway, { url: 'https://bridge.example.com/webhooks/fusionauth', breachLogin: 'allow' }, tenants)
  const env = testEnv(tmpDir(t), { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, FUSIONAUTH_WEBHOOK_SECRET: reg.secret, FUSIONAUTH_BREACH_LOGIN: 'block' })
  const r = await check(env)
  assert.ok(has(r.lines, 'WARN', 'breach login', /^FUSIONAUTH_BREACH_LOGIN=block has no effect on .*: its user\.password\.breach transaction is None/), r.text)
  await registerFusionAuthWebhook(gateway, { url: 'https://bridge.example.com/webhooks/fusionauth', breachLogin: 'block' }, tenants)
  const after = await check(env)
  assert.ok(has(after.lines, 'OK', 'breach login', /waits for the webhooks \(Any\): the bridge's 500 fails a login/), after.text)
  const allow = await check({ ...env, FUSIONAUTH_BREACH_LOGIN: 'allow' })
  assert.ok(!allow.lines.some(l => l.what === 'breach login'))
})

test('runChecks, FusionAuth events: FUSIONAUTH_WEBHOOK_SIGNATURE=required needs keys (the JWKS, or the HMAC key) and a webhook that signs', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const gateway = createFusionAuthGateway({ url: fa.url, apiKey: fa.apiKey, timeoutMs: 2000 })
  t.after(() => gateway.close())
  const tenants = async (): Promise<string[]> => [fa.tenants[0]!.id]
  const url = 'https://bridge.example.com/webhooks/fusionauth'
  const reg = await registerFusionAuthWebhook(gateway, { url, breachLogin: 'allow' }, tenants)
  const env = testEnv(tmpDir(t), { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, FUSIONAUTH_WEBHOOK_SECRET: reg.secret, FUSIONAUTH_WEBHOOK_SIGNATURE: 'required' })
  const bare = await check(env)
  assert.ok(has(bare.lines, 'FAIL', 'event signatures', /no key to verify with: GET \/\.well-known\/jwks\.json answered 200 with no key, and FUSIONAUTH_WEBHOOK_HMAC_KEY is not set/), bare.text)
  assert.ok(has(bare.lines, 'FAIL', 'event signatures', /the webhook does not sign its events.*--signing-key-id/), bare.text)
  const hmac = await check({ ...env, FUSIONAUTH_WEBHOOK_HMAC_KEY: 'an-hmac-key-copied-from-fusionauth' })
  assert.ok(has(hmac.lines, 'OK', 'event signatures', /FUSIONAUTH_WEBHOOK_HMAC_KEY is set/), hmac.text)

  const signer = await createEventSigner(fa)
  await registerFusionAuthWebhook(gateway, { url, signingKeyId: signer.kid, breachLogin: 'allow' }, tenants)
  const signed = await check(env)
  assert.ok(has(signed.lines, 'OK', 'event signatures', /publishes 1 key\(s\) at \/\.well-known\/jwks\.json/), signed.text)
  assert.ok(has(signed.lines, 'OK', 'event signatures', new RegExp(`signs its events with key ${signer.kid}`)), signed.text)
  const notRequired = await check({ ...env, FUSIONAUTH_WEBHOOK_SIGNATURE: 'off' })
  assert.ok(has(notRequired.lines, 'INFO', 'event signatures', /FUSIONAUTH_WEBHOOK_SIGNATURE=required would verify them/), notRequired.text)
})

test('runChecks, FusionAuth events: a key that may not read webhooks or tenants is a WARN (not checked), never an OK', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  fa.addApiKey('serving', { endpoints: { '/api/user': ['GET', 'DELETE'], '/api/jwt/refresh': ['DELETE', 'GET'] } })
  const r = await check(testEnv(tmpDir(t), { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: 'serving', FUSIONAUTH_WEBHOOK_SECRET: newSecret(), FUSIONAUTH_TENANT_IDS: fa.tenants[0]!.id }))
  assert.ok(has(r.lines, 'WARN', 'FusionAuth webhook', /not checked: the key may not call GET \/api\/webhook \(401\)/), r.text)
  assert.ok(has(r.lines, 'WARN', 'tenant events', /not checked \(the key may not call GET \/api\/tenant\/\{tenantId\}\)/), r.text)
  assert.ok(!r.lines.some(l => l.level === 'OK' && /webhook|tenant events/.test(l.what)), r.text)
})
