import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request, type OutgoingHttpHeaders } from 'node:http'
import { commonNames, exactCommonName, normaliseIp } from '../../src/intake/client-cert.js'
import { AUTH, startTestBridge, type TestBridge } from '../helper.js'

const CN = 'webhooks.enzoic.com'
const GOOD_DN = 'CN=webhooks.enzoic.com,O=Enzoic,C=US'
/** Connections from this address reach the bridge on 127.0.0.1 but are not in TRUSTED_PROXIES. */
const UNTRUSTED = '127.0.0.2'

test('commonNames reads every CN of an RFC 4514 DN, undoing escapes', () => {
  assert.deepEqual(commonNames(GOOD_DN), [CN])
  assert.deepEqual(commonNames('C=US,O=Enzoic,CN=webhooks.enzoic.com'), [CN])
  assert.deepEqual(commonNames('CN=a\\,b,O=x'), ['a,b'])
  assert.deepEqual(commonNames('CN=a+O=b,C=US'), ['a'])
  assert.deepEqual(commonNames('CN=attacker.example,CN=webhooks.enzoic.com'), ['attacker.example', CN])
  assert.deepEqual(commonNames('O=x\\,CN=webhooks.enzoic.com'), [], 'an escaped comma does not start an attribute')
  assert.deepEqual(commonNames('OU=CN=webhooks.enzoic.com'), [])
  assert.deepEqual(commonNames('O=Enzoic,C=US'), [])
  assert.deepEqual(commonNames(''), [])
  assert.deepEqual(commonNames('CN=webhooks.enzoic.com\\ '), [`${CN} `], 'an escaped space belongs to the value')
  assert.deepEqual(commonNames('CN=\\ webhooks.enzoic.com'), [` ${CN}`])
})

test('exactCommonName: one CN, exactly the expected one', () => {
  assert.equal(exactCommonName(GOOD_DN, CN), true)
  assert.equal(exactCommonName(`CN=${CN}`, CN), true)
  assert.equal(exactCommonName('C=US,O=Enzoic,CN=webhooks.enzoic.com', CN), true)
  assert.equal(exactCommonName('cn=webhooks.enzoic.com', CN), true, 'attribute types are case-insensitive (RFC 4514)')

  const refused = [
    'CN=webhooks.enzoic.com.evil.example',
    'CN=webhooks.enzoic.com.evil.example,O=Enzoic',
    'CN=webhooksXenzoic.com',
    'CN=evil-webhooks.enzoic.com',
    'CN=xwebhooks.enzoic.com',
    'CN=webhooks.enzoic.co',
    'CN=WEBHOOKS.ENZOIC.COM',
    'CN=Webhooks.Enzoic.com',
    'CN=webhooks.enzoic.COM',
    'CN=webhooks.enzoic.com,CN=attacker.example',
    'CN=attacker.example,CN=webhooks.enzoic.com',
    'CN=webhooks.enzoic.com,CN=webhooks.enzoic.com',
    'CN=webhooks.enzoic.com+CN=attacker.example',
    'O=x\\,CN=webhooks.enzoic.com',
    'CN=webhooks.enzoic.com\\,O=x',
    'CN=webhooks.enzoic.com\\ ',
    'CN=\\ webhooks.enzoic.com',
    'OU=CN=webhooks.enzoic.com',
    'O=Enzoic,C=US',
    'CN=',
    ''
  ]
  for (const dn of refused) assert.equal(exactCommonName(dn, CN), false, dn)
  assert.equal(exactCommonName(undefined, CN), false)
})

test('normaliseIp strips the IPv4-mapped prefix only', () => {
  assert.equal(normaliseIp('::ffff:127.0.0.1'), '127.0.0.1')
  assert.equal(normaliseIp('::1'), '::1')
  assert.equal(normaliseIp('::ffff:abcd'), '::ffff:abcd')
  assert.equal(normaliseIp(undefined), '')
})

interface Res { status?: number, body: any }

/** POSTs a test alert over plain HTTP from `from` (a loopback address), with exactly these extra headers. */
async function post (bridge: TestBridge, opts: { from?: string, headers?: OutgoingHttpHeaders, auth?: string | null } = {}): Promise<Res> {
  const body = JSON.stringify({ exposureID: `cc-${Math.random().toString(36).slice(2)}`, username: 'sample@email.tst' })
  return await new Promise((resolve, reject) => {
    const req = request(`${bridge.url}/webhooks/enzoic`, {
      method: 'POST',
      localAddress: opts.from ?? '127.0.0.1',
      agent: false,
      headers: {
        'content-type': 'application/json',
        ...(opts.auth === null ? {} : { authorization: opts.auth ?? AUTH }),
        ...opts.headers
      }
    }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => {
        let parsed: unknown = text
        try { parsed = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode, body: parsed })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const stored = async (bridge: TestBridge): Promise<number> => (await bridge.store.alerts.list({ limit: 10_000 })).length
const verdict = (dn: string, verify = 'SUCCESS'): OutgoingHttpHeaders => ({ 'x-client-verify': verify, 'x-client-subject-dn': dn })

test('proxy mode: the verdict headers count only from TRUSTED_PROXIES', async (t) => {
  const bridge = await startTestBridge(t, { ENZOIC_CLIENT_CERT: 'proxy', TRUSTED_PROXIES: '127.0.0.1' })

  await t.test('untrusted peer sending a perfect verdict → 403, nothing stored', async () => {
    const res = await post(bridge, { from: UNTRUSTED, headers: verdict(GOOD_DN) })
    assert.equal(res.status, 403)
    assert.deepEqual(res.body, { error: 'forbidden' })
    assert.equal((await stored(bridge)), 0)
    const line = bridge.logs.find(l => l.includes('webhook caller refused'))
    assert.ok(line)
    assert.equal(JSON.parse(line).reason, 'client-certificate headers from an untrusted peer')
    assert.equal(JSON.parse(line).address, UNTRUSTED)
  })

  await t.test('trusted peer with SUCCESS and the exact DN → 200, stored', async () => {
    const res = await post(bridge, { headers: verdict(GOOD_DN) })
    assert.equal(res.status, 200, JSON.stringify(res))
    assert.equal(res.body.status, 'accepted')
    assert.equal((await stored(bridge)), 1)
  })

  await t.test('trusted peer, wrong CN in the DN → 403', async () => {
    for (const dn of [
      'CN=webhooks.enzoic.com.evil.example,O=Enzoic,C=US',
      'CN=webhooksXenzoic.com,O=Enzoic,C=US',
      'CN=attacker.example,CN=webhooks.enzoic.com,O=Enzoic,C=US',
      'CN=webhooks.enzoic.com,CN=attacker.example',
      'CN=WEBHOOKS.ENZOIC.COM,O=Enzoic,C=US',
      'CN=Webhooks.enzoic.com',
      'CN=webhooks.enzoic.com\\ ,O=Enzoic',
      'O=x\\,CN=webhooks.enzoic.com',
      'O=Enzoic,C=US'
    ]) {
      const res = await post(bridge, { headers: verdict(dn) })
      assert.equal(res.status, 403, dn)
    }
    assert.equal((await stored(bridge)), 1)
  })

  await t.test('trusted peer, anything but SUCCESS → 403', async () => {
    for (const verify of ['FAILED:certificate has expired', 'NONE', 'success', 'SUCCESSFUL', '']) {
      const res = await post(bridge, { headers: verdict(GOOD_DN, verify) })
      assert.equal(res.status, 403, JSON.stringify(verify))
    }
    assert.equal((await post(bridge, {})).status, 403, 'no verdict headers at all')
    assert.equal((await post(bridge, { headers: { 'x-client-subject-dn': GOOD_DN } })).status, 403, 'DN without a verdict')
    assert.equal((await post(bridge, { headers: { 'x-client-verify': 'SUCCESS' } })).status, 403, 'verdict without a DN')
    assert.equal((await stored(bridge)), 1)
  })

  await t.test('repeated verdict headers (a proxy that appends instead of overwriting) → 403', async () => {
    const twice = await post(bridge, { headers: { 'x-client-verify': ['SUCCESS', 'SUCCESS'], 'x-client-subject-dn': GOOD_DN } })
    assert.equal(twice.status, 403)
    const dns = await post(bridge, { headers: { 'x-client-verify': 'SUCCESS', 'x-client-subject-dn': ['CN=attacker.example', GOOD_DN] } })
    assert.equal(dns.status, 403)
    assert.equal((await stored(bridge)), 1)
  })

  await t.test('a good verdict does not replace Basic auth', async () => {
    const res = await post(bridge, { headers: verdict(GOOD_DN), auth: null })
    assert.equal(res.status, 401)
    assert.equal((await stored(bridge)), 1)
  })
})

test('ENZOIC_ALLOWED_IPS: X-Forwarded-For counts only from TRUSTED_PROXIES', async (t) => {
  const enzoic = '52.42.159.171'
  const viaProxy = await startTestBridge(t, { ENZOIC_ALLOWED_IPS: enzoic, TRUSTED_PROXIES: '127.0.0.1' })

  await t.test('trusted proxy forwarding the allowed address → 200, the source is the forwarded address', async () => {
    const res = await post(viaProxy, { headers: { 'x-forwarded-for': enzoic } })
    assert.equal(res.status, 200, JSON.stringify(res))
    assert.equal((await viaProxy.store.alerts.get(res.body.alertId))?.sourceIp, enzoic)
  })

  await t.test('only the right-most X-Forwarded-For entry (the one the proxy wrote) counts', async () => {
    assert.equal((await post(viaProxy, { headers: { 'x-forwarded-for': `${enzoic}, 203.0.113.9` } })).status, 403)
    assert.equal((await post(viaProxy, { headers: { 'x-forwarded-for': `203.0.113.9, ${enzoic}` } })).status, 200)
  })

  await t.test('trusted proxy without X-Forwarded-For → its own address, not allowed → 403', async () => {
    assert.equal((await post(viaProxy, {})).status, 403)
  })

  await t.test('untrusted peer claiming the allowed address → dropped as it connects (neither allowed nor trusted), nothing stored', async () => {
    const was = (await stored(viaProxy))
    await assert.rejects(post(viaProxy, { from: UNTRUSTED, headers: { 'x-forwarded-for': enzoic } }), { code: 'ECONNRESET' })
    assert.equal((await stored(viaProxy)), was)
  })

  const direct = await startTestBridge(t, { ENZOIC_ALLOWED_IPS: UNTRUSTED, TRUSTED_PROXIES: '127.0.0.1' })

  await t.test('untrusted peer on the list → 200 whatever X-Forwarded-For it sends', async () => {
    const plain = await post(direct, { from: UNTRUSTED })
    assert.equal(plain.status, 200, JSON.stringify(plain))
    const forged = await post(direct, { from: UNTRUSTED, headers: { 'x-forwarded-for': '203.0.113.9' } })
    assert.equal(forged.status, 200)
    assert.equal((await direct.store.alerts.get(forged.body.alertId))?.sourceIp, UNTRUSTED)
  })

  await t.test('trusted proxy forwarding a listed address → 200; forwarding nothing → 403', async () => {
    assert.equal((await post(direct, { headers: { 'x-forwarded-for': UNTRUSTED } })).status, 200)
    assert.equal((await post(direct, {})).status, 403)
  })
})

test('proxy mode with ENZOIC_ALLOWED_IPS: both checks must pass', async (t) => {
  const bridge = await startTestBridge(t, { ENZOIC_CLIENT_CERT: 'proxy', ENZOIC_ALLOWED_IPS: '52.42.159.171', TRUSTED_PROXIES: '127.0.0.1' })
  const ok = await post(bridge, { headers: { ...verdict(GOOD_DN), 'x-forwarded-for': '52.42.159.171' } })
  assert.equal(ok.status, 200, JSON.stringify(ok))
  assert.equal((await post(bridge, { headers: { ...verdict(GOOD_DN), 'x-forwarded-for': '203.0.113.9' } })).status, 403)
  assert.equal((await post(bridge, { headers: { ...verdict('CN=attacker.example'), 'x-forwarded-for': '52.42.159.171' } })).status, 403)
  assert.equal((await stored(bridge)), 1)
})
