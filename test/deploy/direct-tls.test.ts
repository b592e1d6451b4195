import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'node:https'
import { AUTH, basic, startTestBridge, WEBHOOK_KEY, type TestBridge } from '../helper.js'
import { alertBody, httpsRequest, makeDevCa, missingTool, OPENSSL, type DevCa, type HttpsResult, REFUSED_CLIENT_CERTS } from './helpers.js'

// ENZOIC_CLIENT_CERT=direct: the bridge itself serves HTTPS, asks for a client certificate and checks it.

let ca: DevCa | undefined
before(async () => { if (OPENSSL !== undefined) ca = await makeDevCa() })
after(() => ca?.remove())

const stored = async (bridge: TestBridge): Promise<number> => (await bridge.store.alerts.list({ limit: 10_000 })).length

async function directBridge (t: TestContext, env: Record<string, string> = {}): Promise<TestBridge> {
  const bridge = await startTestBridge(t, {
    ENZOIC_CLIENT_CERT: 'direct',
    TLS_CERT_FILE: ca!.file('server.crt'),
    TLS_KEY_FILE: ca!.file('server.key'),
    ENZOIC_CLIENT_CA_FILE: ca!.file('ca.crt'),
    ...env
  })
  assert.match(bridge.url, /^https:\/\//)
  return bridge
}

async function post (bridge: TestBridge, client: string | undefined, opts: { headers?: Record<string, string>, auth?: string | null } = {}): Promise<HttpsResult> {
  return await httpsRequest(bridge.url.replace('127.0.0.1', 'localhost'), {
    ca: ca!.read('ca.crt'),
    cert: client === undefined ? undefined : ca!.read(`${client}.crt`),
    key: client === undefined ? undefined : ca!.read(`${client}.key`),
    headers: {
      'content-type': 'application/json',
      ...(opts.auth === null ? {} : { authorization: opts.auth ?? AUTH }),
      ...opts.headers
    },
    body: alertBody()
  })
}

test('direct mode: only Enzoic\'s exact certificate, issued by the configured CA, gets an alert stored', async (t) => {
  if (missingTool(t, { openssl: true })) return
  const bridge = await directBridge(t)

  await t.test('right certificate → 200 and stored', async () => {
    const was = (await stored(bridge))
    const res = await post(bridge, 'client')
    assert.equal(res.status, 200, JSON.stringify(res) + '\n' + bridge.logs.slice(-3).join('\n'))
    assert.equal(res.body.status, 'accepted')
    assert.equal((await stored(bridge)), was + 1)
  })

  for (const [name, client] of REFUSED_CLIENT_CERTS) {
    await t.test(`${name} → 403, nothing stored`, async () => {
      const was = (await stored(bridge))
      const res = await post(bridge, client)
      assert.equal(res.status, 403, JSON.stringify(res))
      assert.deepEqual(res.body, { error: 'forbidden' })
      assert.equal((await stored(bridge)), was)
    })
  }

  await t.test('verification depth 1 admits one intermediate below the trusted root, as nginx does', async () => {
    const res = await post(bridge, 'client-deep')
    assert.equal(res.status, 200, JSON.stringify(res))
  })

  await t.test('verdict headers sent by the client count for nothing', async () => {
    const was = (await stored(bridge))
    const forged = { 'x-client-verify': 'SUCCESS', 'x-client-subject-dn': 'CN=webhooks.enzoic.com' }
    assert.equal((await post(bridge, undefined, { headers: forged })).status, 403)
    assert.equal((await post(bridge, 'client-wrong-cn', { headers: forged })).status, 403)
    assert.equal((await stored(bridge)), was)
  })

  await t.test('Basic auth is still required with the right certificate', async () => {
    const was = (await stored(bridge))
    const none = await post(bridge, 'client', { auth: null })
    assert.equal(none.status, 401)
    assert.match(String(none.headers?.['www-authenticate']), /^Basic realm="enzoic"/)
    assert.equal((await post(bridge, 'client', { auth: basic(WEBHOOK_KEY, 'wrong') })).status, 401)
    assert.equal((await stored(bridge)), was)
  })

  await t.test('refusals are logged with a reason', () => {
    const reasons = bridge.logs.filter(l => l.includes('webhook caller refused')).map(l => JSON.parse(l).reason as string)
    assert.ok(reasons.some(r => r.startsWith('client certificate not trusted')), reasons.join('\n'))
    assert.ok(reasons.includes('client certificate CN mismatch'))
  })
})

test('direct mode: the right certificate still passes on a resumed TLS session and a kept-alive connection', async (t) => {
  if (missingTool(t, { openssl: true })) return
  const bridge = await directBridge(t)
  // One agent: the second connection resumes the first one's TLS session; keep-alive reuses sockets.
  for (const keepAlive of [false, true]) {
    const agent = new Agent({ keepAlive, maxSockets: 1, ca: ca!.read('ca.crt'), cert: ca!.read('client.crt'), key: ca!.read('client.key') })
    t.after(() => agent.destroy())
    const sessions: boolean[] = []
    for (let i = 0; i < 3; i++) {
      const res = await new Promise<{ status?: number, reused: boolean }>((resolve, reject) => {
        const req = request(`${bridge.url.replace('127.0.0.1', 'localhost')}/webhooks/enzoic`, {
          method: 'POST', agent, servername: 'localhost', headers: { authorization: AUTH, 'content-type': 'application/json' }
        }, r => {
          const reused = (r.socket as import('node:tls').TLSSocket).isSessionReused()
          r.resume()
          r.on('end', () => resolve({ status: r.statusCode, reused }))
        })
        req.on('error', reject)
        req.end(alertBody())
      })
      assert.equal(res.status, 200, `keepAlive=${keepAlive} request ${i + 1}\n${bridge.logs.slice(-2).join('\n')}`)
      sessions.push(res.reused)
    }
    if (!keepAlive) assert.ok(sessions.slice(1).some(Boolean), `a TLS session was resumed (${sessions.join(',')})`)
  }
})

test('direct mode: ENZOIC_ALLOWED_IPS applies to the TLS peer', async (t) => {
  if (missingTool(t, { openssl: true })) return
  const refused = await directBridge(t, { ENZOIC_ALLOWED_IPS: '52.42.159.171', TRUSTED_PROXIES: '192.0.2.10' })
  const res = await post(refused, 'client', { headers: { 'x-forwarded-for': '52.42.159.171' } })
  assert.equal(res.status, 403, JSON.stringify(res))
  assert.equal((await stored(refused)), 0)

  const allowed = await directBridge(t, { ENZOIC_ALLOWED_IPS: '127.0.0.1', TRUSTED_PROXIES: '192.0.2.10' })
  assert.equal((await post(allowed, 'client')).status, 200)
})

test('direct mode: TLS below 1.2 is refused', async (t) => {
  if (missingTool(t, { openssl: true })) return
  const bridge = await directBridge(t)
  const res = await new Promise<string>(resolve => {
    const req = request(`${bridge.url}/webhooks/enzoic`, {
      method: 'POST',
      agent: false,
      ca: ca!.read('ca.crt'),
      cert: ca!.read('client.crt'),
      key: ca!.read('client.key'),
      servername: 'localhost',
      headers: { authorization: AUTH },
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

test('direct mode: /metrics, /readyz and /healthz answer only local and trusted peers', async (t) => {
  if (missingTool(t, { openssl: true })) return
  const bridge = await directBridge(t)
  const get = (path: string, localAddress: string): Promise<number> => new Promise((resolve, reject) => {
    const req = request(`${bridge.url}${path}`, { ca: ca!.read('ca.crt'), servername: 'localhost', localAddress }, res => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
  for (const path of ['/metrics', '/readyz', '/healthz']) {
    assert.equal(await get(path, '127.0.0.1'), 200, `${path} from loopback`)
    assert.equal(await get(path, '127.0.0.2'), 404, `${path} from an outside peer`)
  }
})
