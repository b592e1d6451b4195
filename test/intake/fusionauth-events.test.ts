// The FusionAuth events receiver (docs/design.md §13) over real HTTP: its Authorization header, the signed-webhook
// JWT (real key pairs the fake FusionAuth publishes), what each event type stores, duplicates, the `block` answer.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { createEventSigner, fusionAuthEvent, postEvent, unsignedJwt, userEvent, type EventSigner } from '../fakes/fusionauth-events.js'
import { startTestBridge, testEnv, tmpDir, type TestBridge } from '../helper.js'
import { spawnBridge } from '../fixtures/processes.js'
import { createSqliteStore } from '../../src/store/sqlite/index.js'
import { ConfigError, loadConfig } from '../../src/config/index.js'
import { JWKS_COOLDOWN_MS } from '../../src/intake/fusionauth-signature.js'
import { setTimeout as sleep } from 'node:timers/promises'

const SECRET = 'Bearer fa-events-7d3c0e5e-secret'
const SECRET_2 = 'Bearer fa-events-rotated-secret'
const HMAC_KEY = 'an-hmac-signing-key-secret-of-32+bytes'

async function fake (t: TestContext): Promise<FusionAuthFake> {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  return fa
}

/** A bridge with the events route (intake only: the worker is not what these tests look at). */
async function receiver (t: TestContext, env: Record<string, string> = {}): Promise<TestBridge> {
  return await startTestBridge(t, { FUSIONAUTH_WEBHOOK_SECRET: `${SECRET},${SECRET_2}`, ...env })
}

const auth = { authorization: SECRET }

test('without FUSIONAUTH_WEBHOOK_SECRET the route does not exist', async t => {
  const bridge = await startTestBridge(t)
  const fa = await fake(t)
  const r = await postEvent(bridge.url, userEvent('user.password.breach', fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'a@acme.io' })), auth)
  assert.equal(r.status, 404)
})

test('the Authorization header must be one of the configured values, exactly (rotation: either); nothing is stored otherwise', async t => {
  const fa = await fake(t)
  const bridge = await receiver(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'ann@acme.io' })
  for (const authorization of [undefined, '', 'Bearer wrong', SECRET.toLowerCase(), SECRET.slice(0, -1), `${SECRET},${SECRET_2}`]) {
    const r = await postEvent(bridge.url, userEvent('user.password.breach', u), authorization === undefined ? {} : { authorization })
    assert.equal(r.status, 401, `Authorization ${JSON.stringify(authorization)}`)
    assert.deepEqual(r.body, { error: 'unauthorized' })
  }
  assert.equal((await bridge.store.alerts.list()).length, 0, 'nothing stored')
  for (const authorization of [SECRET, SECRET_2]) {
    const r = await postEvent(bridge.url, userEvent('user.password.breach', u), { authorization })
    assert.equal(r.status, 200, r.text)
  }
  assert.equal((await bridge.store.alerts.list()).length, 2)
  // Refused before the body is read: a huge body gets its 401 without being sent whole.
  const big = await postEvent(bridge.url, 'x'.repeat(2_000_000), { authorization: 'Bearer wrong' })
  assert.equal(big.status, 401)
})

test('user.password.breach: an alert with source fusionauth for that user, no search needed; a repeat of the event is a duplicate', async t => {
  const fa = await fake(t)
  const bridge = await receiver(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'Bea@Acme.io' })
  const event = userEvent('user.password.breach', u)
  const first = await postEvent(bridge.url, event, auth)
  assert.equal(first.status, 200, first.text)
  assert.equal(first.body.status, 'accepted')
  const alert = (await bridge.store.alerts.get(first.body.alertId))!
  assert.equal(alert.source, 'fusionauth')
  assert.equal(alert.email, 'bea@acme.io')
  assert.equal(alert.customData, `fusionauth:${u.tenantId}:${u.id}`)
  assert.equal(alert.state, 'queued')
  const stored = JSON.stringify(alert)
  for (const secret of ['Private', 'never stored', '198.51.100.7', 'Mozilla']) assert.ok(!stored.includes(secret), `${secret} is not kept`)
  const again = await postEvent(bridge.url, event, auth)
  assert.deepEqual([again.status, again.body.status, again.body.alertId], [200, 'duplicate', first.body.alertId])
  assert.equal((await bridge.store.alerts.list()).length, 1)
  assert.ok(bridge.logs.some(l => l.includes('"event":"fusionauth.event"') && l.includes('"type":"user.password.breach"')))
  assert.ok(bridge.logs.some(l => l.includes('"event":"alert.received"') && l.includes('"source":"fusionauth"')))
})

test('FUSIONAUTH_BREACH_LOGIN=block answers 500 only after the alert is stored (a repeat too); other events still 200', async t => {
  const fa = await fake(t)
  const bridge = await receiver(t, { FUSIONAUTH_BREACH_LOGIN: 'block' })
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'cai@acme.io' })
  const event = userEvent('user.password.breach', u)
  const r = await postEvent(bridge.url, event, auth)
  assert.equal(r.status, 500)
  assert.equal(r.body.status, 'accepted')
  assert.equal((await bridge.store.alerts.get(r.body.alertId))!.source, 'fusionauth', 'stored before the answer')
  assert.equal((await postEvent(bridge.url, event, auth)).status, 500, 'the same login stays failed')
  assert.equal((await postEvent(bridge.url, userEvent('user.password.update', u), auth)).status, 200)
})

test('other events: password changes stored for the follower, enrolment only with Enzoic\'s API, unknown types ignored, malformed 400', async t => {
  const fa = await fake(t)
  const bridge = await receiver(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'dan@acme.io' })
  const change = userEvent('user.password.update', u)
  assert.deepEqual((await postEvent(bridge.url, change, auth)).body, { status: 'accepted' })
  assert.deepEqual((await postEvent(bridge.url, change, auth)).body, { status: 'duplicate' })
  const [item] = await bridge.store.outbox.claim('test', 5, 60_000, ['fusionauth.password-changed'])
  assert.equal(item!.key, `fusionauth-event:${change.event.id as string}`)
  assert.deepEqual({ ...item!.payload as object, changedAt: 0 }, { eventId: change.event.id, type: 'user.password.update', userId: u.id, tenantId: u.tenantId, changedAt: 0, login: false })
  // A login of a user without any case: not even a row.
  assert.deepEqual((await postEvent(bridge.url, userEvent('user.login.success', u), auth)).body, { status: 'ignored' })
  // No ENZOIC_API_KEY: enrolment does not follow.
  assert.deepEqual((await postEvent(bridge.url, userEvent('user.create', u), auth)).body, { status: 'ignored' })
  assert.deepEqual((await postEvent(bridge.url, fusionAuthEvent('jwt.refresh-token.revoke', { userId: u.id }), auth)).body, { status: 'ignored' })
  for (const bad of ['{', '[]', '{"event":{}}', JSON.stringify(fusionAuthEvent('user.password.breach', { user: { id: 'not-a-uuid' } })), '']) {
    const r = await postEvent(bridge.url, bad, auth)
    assert.equal(r.status, 400, `${bad} → ${r.text}`)
  }
  assert.equal((await bridge.store.alerts.list()).length, 0)
})

test('signature required: FusionAuth\'s published keys, the body hash; unsigned, forged, alg none, HMAC-with-the-public-key and a changed body refused', async t => {
  const fa = await fake(t)
  const signer = await createEventSigner(fa)
  const bridge = await receiver(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, FUSIONAUTH_WEBHOOK_SIGNATURE: 'required' })
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'eve@acme.io' })
  const body = JSON.stringify(userEvent('user.password.breach', u))
  const refused = async (signature: string | false | EventSigner, what: string, sent = body): Promise<void> => {
    const r = await postEvent(bridge.url, sent, { ...auth, signature })
    assert.equal(r.status, 401, `${what}: ${r.text}`)
  }
  await refused(false, 'unsigned')
  await refused('not.a.jwt', 'garbage')
  await refused(await signer.forge(body), 'signed by a key FusionAuth does not publish, under its kid')
  await refused(unsignedJwt(body), 'alg none')
  await refused(await signer.signHmac(body, signer.publicPem()), 'HS256 with the public key as the secret')
  await refused(await signer.sign(body), 'a valid signature of another body', body.replace('eve@acme.io', 'mallory@acme.io'))
  await refused(await signer.sign(body, { claims: { request_body_sha256: 'AAAA' } }), 'a wrong body hash claim')
  assert.equal((await bridge.store.alerts.list()).length, 0, 'nothing stored')
  assert.ok(bridge.logs.some(l => l.includes('FusionAuth webhook caller refused') && l.includes('signature refused: the signature does not verify')), 'the refusals are logged with their reason')

  const ok = await postEvent(bridge.url, body, { ...auth, signature: await signer.sign(body) })
  assert.equal(ok.status, 200, ok.text)
  // Key rotation: a new kid is fetched (once the second since the last fetch is over); an unknown kid is not
  // fetched again and again.
  await sleep(JWKS_COOLDOWN_MS + 100)
  await signer.rotate()
  const next = JSON.stringify(userEvent('user.password.breach', u))
  assert.equal((await postEvent(bridge.url, next, { ...auth, signature: await signer.sign(next) })).status, 200, 'a rotated key')
  const jwksFetches = (): number => fa.journal.filter(e => e.path === '/.well-known/jwks.json').length
  const before = jwksFetches()
  for (let i = 0; i < 5; i++) await refused(await signer.sign(body, { kid: 'no-such-kid' }), 'an unknown kid')
  assert.ok(jwksFetches() - before <= 1, `an unknown kid fetches the keys at most once a second (${jwksFetches() - before})`)
})

test('signature required with an HMAC key: HS256 with that key accepted; with another, or RS256 with no published key, refused', async t => {
  const bridge = await receiver(t, { FUSIONAUTH_WEBHOOK_SIGNATURE: 'required', FUSIONAUTH_WEBHOOK_HMAC_KEY: HMAC_KEY })
  const fa = await fake(t)
  const signer = await createEventSigner()
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'fay@acme.io' })
  const body = JSON.stringify(userEvent('user.password.update', u))
  assert.equal((await postEvent(bridge.url, body, { ...auth, signature: await signer.signHmac(body, HMAC_KEY) })).status, 200)
  assert.equal((await postEvent(bridge.url, body, { ...auth, signature: await signer.signHmac(body, 'another-key') })).status, 401)
  assert.equal((await postEvent(bridge.url, body, { ...auth, signature: await signer.sign(body) })).status, 401)
})

test('configuration: signature required needs keys; the secret may come from a file; check of the example file', () => {
  assert.throws(() => loadConfig({ FUSIONAUTH_WEBHOOK_SECRET: SECRET, FUSIONAUTH_WEBHOOK_SIGNATURE: 'required' }), (e: Error) =>
    e instanceof ConfigError && /FUSIONAUTH_WEBHOOK_SIGNATURE: required needs FUSIONAUTH_URL/.test(e.message))
  assert.throws(() => loadConfig({ FUSIONAUTH_BREACH_LOGIN: 'deny' }), /FUSIONAUTH_BREACH_LOGIN/)
  const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
  for (const name of ['FUSIONAUTH_WEBHOOK_SECRET', 'FUSIONAUTH_WEBHOOK_SIGNATURE', 'FUSIONAUTH_WEBHOOK_HMAC_KEY', 'FUSIONAUTH_BREACH_LOGIN', 'FUSIONAUTH_WEBHOOK_ALLOWED_IPS']) {
    assert.ok(example.includes(name), `${name} in .env.example`)
  }
})

test('FUSIONAUTH_WEBHOOK_ALLOWED_IPS: another source address is refused (403) before authentication', async t => {
  const bridge = await receiver(t, { FUSIONAUTH_WEBHOOK_ALLOWED_IPS: '192.0.2.10' })
  const r = await postEvent(bridge.url, fusionAuthEvent('user.password.update'), auth)
  assert.equal(r.status, 403)
  const open = await receiver(t, { FUSIONAUTH_WEBHOOK_ALLOWED_IPS: '127.0.0.1' })
  assert.equal((await postEvent(open.url, fusionAuthEvent('user.password.update'), auth)).status, 400, 'allowed: on to the body (no user: 400)')
})

test('block mode, kill -9 right after the 500: the alert is there when the bridge comes back (answered only after the commit)', async t => {
  const fa = await fake(t)
  const dir = tmpDir(t)
  const env = testEnv(dir, { FUSIONAUTH_WEBHOOK_SECRET: SECRET, FUSIONAUTH_BREACH_LOGIN: 'block', FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  const first = await spawnBridge(env)
  t.after(() => { first.child.kill('SIGKILL') })
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'gil@acme.io' })
  const r = await postEvent(first.url, userEvent('user.password.breach', u), auth)
  first.child.kill('SIGKILL')
  assert.equal(r.status, 500)
  await first.exited
  const store = createSqliteStore({ file: env.BRIDGE_DATABASE! })
  t.after(() => store.close())
  const alert = await store.alerts.get(r.body.alertId)
  assert.equal(alert?.source, 'fusionauth')
})
