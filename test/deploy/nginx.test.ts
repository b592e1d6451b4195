import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/index.js'
import { fusionAuthEvent } from '../fakes/fusionauth-events.js'
import { AUTH, basic, startTestBridge, WEBHOOK_KEY, WEBHOOK_SECRET, type TestBridge } from '../helper.js'
import {
  alertBody, httpsRequest, makeDevCa, missingTool, nginxTest, OPENSSL, renderSite, SITE_FILE, startNginx,
  writeNginxConf, type DevCa, type HttpsResult, type RunningNginx, REFUSED_CLIENT_CERTS
} from './helpers.js'

let ca: DevCa | undefined
before(async () => { if (OPENSSL !== undefined) ca = await makeDevCa() })
after(() => ca?.remove())

const stored = async (bridge: TestBridge): Promise<number> => (await bridge.store.alerts.list({ limit: 10_000 })).length
const portOf = (url: string): number => Number(new URL(url).port)

async function post (
  nginx: RunningNginx, client: string | undefined, opts: { headers?: Record<string, string>, body?: string, auth?: string | null } = {}
): Promise<HttpsResult> {
  return await httpsRequest(nginx.url, {
    ca: ca!.read('ca.crt'),
    cert: client === undefined ? undefined : ca!.read(`${client}.crt`),
    key: client === undefined ? undefined : ca!.read(`${client}.key`),
    headers: {
      'content-type': 'application/json',
      ...(opts.auth === null ? {} : { authorization: opts.auth ?? AUTH }),
      ...opts.headers
    },
    body: opts.body ?? alertBody()
  })
}

/** Bridge (proxy mode) + the shipped nginx site in front of it. */
async function world (t: TestContext, env: Record<string, string> = {}): Promise<{ bridge: TestBridge, nginx: RunningNginx }> {
  const bridge = await startTestBridge(t, { ENZOIC_CLIENT_CERT: 'proxy', TRUSTED_PROXIES: '127.0.0.1', ...env })
  const nginx = await startNginx(t, { ca: ca!, upstreamPort: portOf(bridge.url) })
  return { bridge, nginx }
}

test('the shipped site file passes nginx -t once its marked values are filled in', async (t) => {
  if (missingTool(t, { nginx: true })) return
  const prefix = mkdtempSync(join(tmpdir(), 'bridge-nginx-t-'))
  t.after(() => rmSync(prefix, { recursive: true, force: true }))
  const files = writeNginxConf(prefix, renderSite({
    listenPort: 8443,
    upstreamPort: 8080,
    serverCert: ca!.file('server.crt'),
    serverKey: ca!.file('server.key'),
    clientCa: ca!.file('ca.crt'),
    logDir: join(prefix, 'logs')
  }))
  const output = await nginxTest(files)
  assert.match(output, /syntax is ok/)
  assert.match(output, /test is successful/)
})

test('renderSite fails loudly when a marked value is missing from the site file', () => {
  const source = readFileSync(SITE_FILE, 'utf8')
  const values = { listenPort: 1, upstreamPort: 2, serverCert: 'a', serverKey: 'b', clientCa: 'c', logDir: '/tmp' }
  assert.throws(() => renderSite(values, source.replace('server 127.0.0.1:8080;', 'server 10.0.0.1:80;')), /server 127\.0\.0\.1:8080;.*occurs 0 times/)
  assert.doesNotThrow(() => renderSite(values, source))
})

test('the site file follows the bridge defaults and keeps secrets out of its access log', () => {
  const source = readFileSync(SITE_FILE, 'utf8')
  const size = /^\s*client_max_body_size\s+(\d+)([km]?);/m.exec(source)
  assert.ok(size, 'client_max_body_size is set')
  const bytes = Number(size[1]) * ({ '': 1, k: 1024, m: 1024 * 1024 } as Record<string, number>)[size[2]!]!
  assert.equal(bytes, loadConfig({}).maxBodyBytes, 'client_max_body_size equals the default BRIDGE_MAX_BODY_BYTES')
  assert.match(source, /server 127\.0\.0\.1:8080;/, 'upstream is the default HOST:PORT')
  const logFormat = /log_format enzoic_bridge([^;]+);/.exec(source)
  assert.ok(logFormat)
  assert.doesNotMatch(logFormat[1]!, /http_authorization|remote_user|\$request\b|args|query_string/)
  assert.match(source, /ssl_protocols TLSv1\.2 TLSv1\.3;/)
  assert.match(source, /ssl_verify_depth 1;/)
})

test('through nginx (proxy mode): only the right client certificate gets an alert stored', async (t) => {
  if (missingTool(t, { nginx: true })) return
  const { bridge, nginx } = await world(t)

  await t.test('right certificate → 200 and stored, with nginx as the source', async () => {
    const was = (await stored(bridge))
    const res = await post(nginx, 'client')
    assert.equal(res.status, 200, `${JSON.stringify(res)}\n${nginx.errors()}`)
    assert.equal(res.body.status, 'accepted')
    assert.equal((await stored(bridge)), was + 1)
    assert.equal((await bridge.store.alerts.get(res.body.alertId))?.sourceIp, '127.0.0.1')
  })

  for (const [name, client] of REFUSED_CLIENT_CERTS) {
    await t.test(`${name} → 403, nothing stored`, async () => {
      const was = (await stored(bridge))
      const res = await post(nginx, client)
      assert.equal(res.status, 403, JSON.stringify(res))
      assert.deepEqual(res.body, { error: 'forbidden' })
      assert.equal((await stored(bridge)), was)
    })
  }

  await t.test('ssl_verify_depth 1 admits one intermediate below the trusted root (OpenSSL 1.1+ semantics)', async () => {
    // Recorded so that a change of depth is a decision: with ssl_verify_depth 0 this becomes 403.
    const res = await post(nginx, 'client-deep')
    assert.equal(res.status, 200, JSON.stringify(res))
  })

  await t.test('a client sending the verdict headers itself, without a certificate → 403', async () => {
    const was = (await stored(bridge))
    const forged = { 'x-client-verify': 'SUCCESS', 'x-client-subject-dn': 'CN=webhooks.enzoic.com', 'x-forwarded-for': '52.42.159.171' }
    assert.equal((await post(nginx, undefined, { headers: forged })).status, 403)
    assert.equal((await post(nginx, 'client-wrong-cn', { headers: forged })).status, 403)
    assert.equal((await post(nginx, 'client-other-ca', { headers: forged })).status, 403)
    assert.equal((await stored(bridge)), was)
  })

  await t.test('client-sent verdict and forwarding headers are overwritten, not merged', async () => {
    // Were nginx to pass these on next to its own, the bridge would see two DNs / verdicts and refuse.
    const res = await post(nginx, 'client', {
      headers: { 'x-client-verify': 'FAILED:forged', 'x-client-subject-dn': 'CN=attacker.example', 'x-forwarded-for': '52.42.159.171' }
    })
    assert.equal(res.status, 200, JSON.stringify(res))
    assert.equal((await bridge.store.alerts.get(res.body.alertId))?.sourceIp, '127.0.0.1')
  })

  await t.test('Basic auth is still required with the right certificate', async () => {
    const was = (await stored(bridge))
    const none = await post(nginx, 'client', { auth: null })
    assert.equal(none.status, 401)
    assert.match(String(none.headers?.['www-authenticate']), /^Basic realm="enzoic"/)
    assert.equal((await post(nginx, 'client', { auth: basic(WEBHOOK_KEY, 'wrong') })).status, 401)
    assert.equal((await stored(bridge)), was)
  })

  await t.test('only POST /webhooks/enzoic is proxied; everything else is 404', async () => {
    const call = async (method: string, path: string): Promise<number | undefined> => (await httpsRequest(nginx.url, {
      method,
      path,
      ca: ca!.read('ca.crt'),
      cert: ca!.read('client.crt'),
      key: ca!.read('client.key'),
      headers: { authorization: AUTH, 'content-type': 'application/json' },
      body: method === 'GET' || method === 'HEAD' ? undefined : alertBody()
    })).status
    const was = (await stored(bridge))
    assert.equal(await call('GET', '/webhooks/enzoic'), 404)
    assert.equal(await call('PUT', '/webhooks/enzoic'), 404)
    assert.equal(await call('POST', '/webhooks/enzoic/'), 404)
    assert.equal(await call('POST', '/webhooks/enzoicx'), 404)
    assert.equal(await call('POST', '/'), 404)
    assert.equal(await call('GET', '/healthz'), 404)
    assert.equal(await call('GET', '/metrics'), 404)
    assert.equal((await stored(bridge)), was)
  })

  await t.test('a body larger than BRIDGE_MAX_BODY_BYTES stops at nginx with 413', async () => {
    const was = (await stored(bridge))
    const res = await post(nginx, 'client', { body: JSON.stringify({ exposureID: 'big', username: 'big@email.tst', pad: 'x'.repeat(70_000) }) })
    assert.equal(res.status, 413)
    assert.equal((await stored(bridge)), was)
  })

  await t.test('TLS below 1.2 is refused', async () => {
    const res = await new Promise<string>(resolve => {
      const req = request(`${nginx.url}/webhooks/enzoic`, {
        method: 'POST',
        agent: false,
        ca: ca!.read('ca.crt'),
        cert: ca!.read('client.crt'),
        key: ca!.read('client.key'),
        // SECLEVEL=0 lets this client offer TLS 1.1 at all (a server that allows it then answers).
        ciphers: 'DEFAULT@SECLEVEL=0',
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1'
      }, r => resolve(`answered ${r.statusCode}`))
      req.on('error', err => resolve(`error ${err.message}`))
      req.end()
    })
    assert.match(res, /^error .*(protocol version|unsupported protocol)/i)
  })

  await t.test('the access log records deliveries without credentials', async () => {
    const log = readFileSync(nginx.accessLog, 'utf8')
    assert.match(log, /"POST \/webhooks\/enzoic HTTP\/1\.1" 200 /)
    assert.match(log, /cert=SUCCESS dn="CN=webhooks\.enzoic\.com,O=Enzoic,C=US" issuer="CN=Enzoic Bridge Dev Root CA/)
    assert.ok(!log.includes(WEBHOOK_KEY), 'no webhook key in the access log')
    assert.ok(!log.includes(WEBHOOK_SECRET) && !log.includes(AUTH.slice(6)), 'no webhook secret in the access log')
  })
})

test('through nginx: a bridge that does not list nginx in TRUSTED_PROXIES refuses even the right certificate', async (t) => {
  if (missingTool(t, { nginx: true })) return
  const { bridge, nginx } = await world(t, { TRUSTED_PROXIES: '192.0.2.10' })
  const res = await post(nginx, 'client')
  assert.equal(res.status, 403, JSON.stringify(res))
  assert.equal((await stored(bridge)), 0)
  assert.ok(bridge.logs.some(l => l.includes('client-certificate headers from an untrusted peer')))
})

test('through nginx: ENZOIC_ALLOWED_IPS sees the real client address, never a client-sent X-Forwarded-For', async (t) => {
  if (missingTool(t, { nginx: true })) return
  const elsewhere = await world(t, { ENZOIC_ALLOWED_IPS: '52.42.159.171' })
  const forged = await post(elsewhere.nginx, 'client', { headers: { 'x-forwarded-for': '52.42.159.171' } })
  assert.equal(forged.status, 403, JSON.stringify(forged))
  assert.equal((await stored(elsewhere.bridge)), 0)

  const here = await world(t, { ENZOIC_ALLOWED_IPS: '127.0.0.1' })
  const ok = await post(here.nginx, 'client', { headers: { 'x-forwarded-for': '52.42.159.171' } })
  assert.equal(ok.status, 200, JSON.stringify(ok))
  assert.equal((await here.bridge.store.alerts.get(ok.body.alertId))?.sourceIp, '127.0.0.1')
})

test('through nginx: FusionAuth\'s events reach /webhooks/fusionauth over TLS without a client certificate; /webhooks/enzoic still requires one', async (t) => {
  if (missingTool(t, { nginx: true })) return
  const secret = `Bearer ${randomUUID()}`
  const { bridge, nginx } = await world(t, { FUSIONAUTH_WEBHOOK_SECRET: secret })
  const event = (): string => JSON.stringify(fusionAuthEvent('user.password.breach', {
    tenantId: randomUUID(), user: { id: randomUUID(), tenantId: randomUUID(), email: 'fa-event@acme-corp.io' }
  }))
  const send = async (headers: Record<string, string>, opts: { method?: string, client?: string } = {}): Promise<HttpsResult> => await httpsRequest(nginx.url, {
    path: '/webhooks/fusionauth',
    method: opts.method,
    ca: ca!.read('ca.crt'),
    cert: opts.client === undefined ? undefined : ca!.read(`${opts.client}.crt`),
    key: opts.client === undefined ? undefined : ca!.read(`${opts.client}.key`),
    headers: { 'content-type': 'application/json', ...headers },
    body: opts.method === 'GET' ? undefined : event()
  })

  const ok = await send({ authorization: secret })
  assert.equal(ok.status, 200, `${JSON.stringify(ok)}\n${nginx.errors()}`)
  assert.equal(ok.body.status, 'accepted')
  const alert = await bridge.store.alerts.get(ok.body.alertId)
  assert.deepEqual([alert?.source, alert?.sourceIp], ['fusionauth', '127.0.0.1'])
  // A client-sent verdict is blanked there too, and does not matter: the Authorization header decides.
  const forged = await send({ authorization: secret, 'x-client-verify': 'SUCCESS', 'x-client-subject-dn': 'CN=webhooks.enzoic.com' })
  assert.equal(forged.status, 200, JSON.stringify(forged))

  const was = await stored(bridge)
  assert.equal((await send({})).status, 401, 'the bridge wants the Authorization header')
  assert.equal((await send({ authorization: 'Bearer wrong' })).status, 401)
  assert.equal((await send({ authorization: secret }, { method: 'GET' })).status, 404, 'only POST')
  assert.equal(await stored(bridge), was)

  // Enzoic's location keeps its client certificate (the handshake asks every client; only that location requires it).
  assert.equal((await post(nginx, undefined)).status, 403, 'no certificate: 403 at /webhooks/enzoic')
  assert.equal((await post(nginx, 'client')).status, 200)
  assert.match(readFileSync(nginx.accessLog, 'utf8'), /"POST \/webhooks\/fusionauth HTTP\/1\.1" 200 .*cert=NONE/)
  assert.ok(!readFileSync(nginx.accessLog, 'utf8').includes(secret.slice(7)), 'no secret in the access log')
})

test('through nginx: FUSIONAUTH_WEBHOOK_ALLOWED_IPS sees the real client address, never a client-sent X-Forwarded-For', async (t) => {
  if (missingTool(t, { nginx: true })) return
  const secret = `Bearer ${randomUUID()}`
  const body = JSON.stringify(fusionAuthEvent('user.create', { tenantId: randomUUID(), user: { id: randomUUID(), tenantId: randomUUID(), email: 'x@acme-corp.io' } }))
  const send = async (nginx: RunningNginx): Promise<number | undefined> => (await httpsRequest(nginx.url, {
    path: '/webhooks/fusionauth',
    ca: ca!.read('ca.crt'),
    headers: { 'content-type': 'application/json', authorization: secret, 'x-forwarded-for': '203.0.113.10' },
    body
  })).status
  const elsewhere = await world(t, { FUSIONAUTH_WEBHOOK_SECRET: secret, FUSIONAUTH_WEBHOOK_ALLOWED_IPS: '203.0.113.10' })
  assert.equal(await send(elsewhere.nginx), 403)
  const here = await world(t, { FUSIONAUTH_WEBHOOK_SECRET: secret, FUSIONAUTH_WEBHOOK_ALLOWED_IPS: '127.0.0.1' })
  assert.equal(await send(here.nginx), 200, 'ignored (no Enzoic API configured: enrolment does not follow), but admitted')
})
