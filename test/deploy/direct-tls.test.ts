import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'node:https'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { AUTH, basic, startTestBridge, WEBHOOK_KEY, type TestBridge } from '../helper.js'
import { TLS_HANDSHAKE_TIMEOUT_MS, type StartOptions } from '../../src/server.js'
import { alertBody, httpsRequest, makeDevCa, missingTool, OPENSSL, type DevCa, type HttpsResult, REFUSED_CLIENT_CERTS } from './helpers.js'

// ENZOIC_CLIENT_CERT=direct: the bridge itself serves HTTPS, asks for a client certificate and checks it.

let ca: DevCa | undefined
before(async () => { if (OPENSSL !== undefined) ca = await makeDevCa() })
after(() => ca?.remove())

const stored = async (bridge: TestBridge): Promise<number> => (await bridge.store.alerts.list({ limit: 10_000 })).length

async function directBridge (t: TestContext, env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestBridge> {
  const bridge = await startTestBridge(t, {
    ENZOIC_CLIENT_CERT: 'direct',
    TLS_CERT_FILE: ca!.file('server.crt'),
    TLS_KEY_FILE: ca!.file('server.key'),
    ENZOIC_CLIENT_CA_FILE: ca!.file('ca.crt'),
    ...env
  }, undefined, options)
  assert.match(bridge.url, /^https:\/\//)
  return bridge
}

async function post (
  bridge: TestBridge, client: string | undefined, opts: { headers?: Record<string, string>, auth?: string | null } = {}
): Promise<HttpsResult> {
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
  // A peer neither allowed nor trusted (nor loopback, which the operational endpoints answer) is dropped as it
  // connects: no TLS handshake is even started for it.
  let handshakes = 0
  refused.app.server.on('secureConnection', () => { handshakes++ })
  const outside = await httpsRequest(refused.url.replace('127.0.0.1', 'localhost'), {
    ca: ca!.read('ca.crt'), cert: ca!.read('client.crt'), key: ca!.read('client.key'), headers: { authorization: AUTH }, body: alertBody(), localAddress: '127.0.0.2'
  })
  assert.match(outside.error ?? `answered ${outside.status}`, /ECONNRESET|socket disconnected before secure TLS connection/)
  assert.equal(handshakes, 0)
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

/** The handshake time-out the TLS server was actually given (Node keeps it under a symbol of its own). */
function handshakeTimeoutOf (server: object): unknown {
  const key = Object.getOwnPropertySymbols(server).find(s => s.description === 'handshake-timeout')
  return key === undefined ? undefined : (server as Record<symbol, unknown>)[key]
}

/** Milliseconds until the server closes a TCP connection on which `first` (maybe nothing) was sent; undefined: still open after `waitMs`. */
async function closedAfter (t: TestContext, bridge: TestBridge, first: Buffer, waitMs: number): Promise<number | undefined> {
  const socket = connect({ host: '127.0.0.1', port: Number(new URL(bridge.url).port) })
  t.after(() => socket.destroy())
  socket.on('error', () => {})
  await new Promise(resolve => socket.once('connect', resolve))
  const started = Date.now()
  const closed = new Promise<number>(resolve => socket.once('close', () => resolve(Date.now() - started)))
  if (first.length > 0) socket.write(first)
  return await Promise.race([closed, new Promise<undefined>(resolve => setTimeout(() => resolve(undefined), waitMs).unref())])
}

test('direct mode: a connection that does not finish its TLS handshake is closed after the handshake time-out (10 s by default, as nginx)', async (t) => {
  if (missingTool(t, { openssl: true })) return
  // The default, read back from the TLS server the bridge runs (Node's own default is 120 s).
  const production = await directBridge(t)
  assert.equal(TLS_HANDSHAKE_TIMEOUT_MS, 10_000)
  assert.equal(handshakeTimeoutOf(production.app.server), 10_000)
  // The HTTPS server enforces the same request time-outs as the plain one (test/intake/connections.test.ts).
  const https = production.app.server as import('node:https').Server & { connectionsCheckingInterval?: number }
  assert.deepEqual([https.requestTimeout, https.headersTimeout, https.connectionsCheckingInterval], [30_000, 10_000, 1000])

  // Shortened to 1 s for the test: a connection that sends nothing, and one stuck in its ClientHello, are closed.
  const bridge = await directBridge(t, {}, { tlsHandshakeTimeoutMs: 1000 })
  assert.equal(handshakeTimeoutOf(bridge.app.server), 1000)
  const partialHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) // a record promising 512 bytes
  for (const [name, first] of [['idle, nothing sent', Buffer.alloc(0)], ['half a ClientHello', partialHello]] as const) {
    const after = await closedAfter(t, bridge, first, 8000)
    assert.ok(after !== undefined && after >= 900 && after < 3000, `${name}: closed after ${after ?? 'never (8 s)'} ms`)
  }

  // A finished handshake is not cut: a kept-alive connection idle for longer than the handshake time-out still serves.
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca!.read('ca.crt'), cert: ca!.read('client.crt'), key: ca!.read('client.key') })
  t.after(() => agent.destroy())
  const sockets = new Set<unknown>()
  for (let i = 0; i < 2; i++) {
    if (i === 1) await new Promise(resolve => setTimeout(resolve, 1500))
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${bridge.url.replace('127.0.0.1', 'localhost')}/webhooks/enzoic`, {
        method: 'POST', agent, servername: 'localhost', headers: { authorization: AUTH, 'content-type': 'application/json' }
      }, r => { sockets.add(r.socket); r.resume(); r.on('end', () => resolve(r.statusCode)) })
      req.on('error', reject)
      req.end(alertBody())
    })
    assert.equal(status, 200)
  }
  assert.equal(sockets.size, 1, 'both requests went over the one connection')
})

/** `openssl s_client -tls1_2` with Enzoic's certificate: optionally asks to renegotiate (`R`), then GETs /healthz. */
async function sClient (t: TestContext, bridge: TestBridge, renegotiate: boolean): Promise<{ output: string, endedBeforeGet: boolean }> {
  const child = spawn(OPENSSL!, [
    's_client', '-tls1_2', '-connect', `127.0.0.1:${new URL(bridge.url).port}`, '-servername', 'localhost',
    '-CAfile', ca!.file('ca.crt'), '-cert', ca!.file('client.crt'), '-key', ca!.file('client.key')
  ], { stdio: ['pipe', 'pipe', 'pipe'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill() })
  let output = ''
  const seen = new Set<() => void>()
  const onOutput = (d: Buffer): void => { output += d.toString(); for (const f of seen) f() }
  child.stdout.on('data', onOutput)
  child.stderr.on('data', onOutput)
  child.stdin.on('error', () => {})
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const until = async (what: RegExp, ms: number): Promise<boolean> => await Promise.race([
    new Promise<boolean>(resolve => {
      const f = (): void => { if (what.test(output)) { seen.delete(f); resolve(true) } }
      seen.add(f)
      f()
    }),
    exited.then(() => what.test(output)),
    new Promise<boolean>(resolve => setTimeout(() => resolve(what.test(output)), ms).unref())
  ])
  assert.ok(await until(/Verify return code: 0 \(ok\)/, 10_000), `no handshake:\n${output}`)
  let endedBeforeGet = false
  if (renegotiate) {
    child.stdin.write('R\n')
    assert.ok(await until(/RENEGOTIATING/, 5000), `no renegotiation attempted:\n${output}`)
    // Refused: the connection ends. Allowed (Node's default): the handshake completes and the session goes on.
    endedBeforeGet = await Promise.race([exited.then(() => true), new Promise<boolean>(resolve => setTimeout(() => resolve(false), 5000).unref())])
  }
  if (!endedBeforeGet) {
    child.stdin.write('GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n')
    await until(/HTTP\/1\.1 \d+/, 5000)
  }
  return { output, endedBeforeGet }
}

test('direct mode: a client-initiated renegotiation is refused and ends the connection (as nginx)', async (t) => {
  if (missingTool(t, { openssl: true })) return
  const bridge = await directBridge(t)
  // The harness works: the same session without `R` gets its answer.
  const plain = await sClient(t, bridge, false)
  assert.match(plain.output, /HTTP\/1\.1 200 /, plain.output)
  const renegotiated = await sClient(t, bridge, true)
  assert.ok(renegotiated.endedBeforeGet, `the connection survived the renegotiation:\n${renegotiated.output}`)
  assert.doesNotMatch(renegotiated.output, /HTTP\/1\.1 200 /)
})
