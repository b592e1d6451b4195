import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { AUTH, basic, postAlert, startTestBridge, waitFor, WEBHOOK_KEY, type TestBridge } from '../helper.js'
import { loadConfig } from '../../src/config/index.js'

// Early refusals end the connection, and the request time-outs really bound a slow or endless sender.
// Each test speaks raw HTTP/1.1 over a TCP socket on 127.0.0.1, so nothing in a client library hides what
// the server does; the bytes the server read are its own socket's `bytesRead`.

/** The server side of every connection the bridge accepted, by the client's port. */
function serverSockets (bridge: TestBridge): Map<number, Socket> {
  const sockets = new Map<number, Socket>()
  bridge.app.server.on('connection', (socket: Socket) => { if (socket.remotePort !== undefined) sockets.set(socket.remotePort, socket) })
  return sockets
}

interface Sent {
  /** Milliseconds from the first byte sent until the server closed the connection (undefined: still open). */
  closedAfterMs?: number
  /** Everything the server sent. */
  answer: string
  /** Bytes this client managed to write (at least what the server read: kernel buffers hold the rest). */
  written: number
  /** Bytes the server read from this connection. */
  serverRead: number
}

/**
 * Opens a connection, sends `head` (request line and headers), then body bytes until the server closes the
 * connection or `waitMs` passes: as fast as the socket takes them (`flood`), or 6 bytes every 100 ms
 * (`trickle`, a chunked body that never ends).
 */
async function stream (t: TestContext, bridge: TestBridge, head: string, how: 'flood' | 'trickle', waitMs: number): Promise<Sent> {
  const sockets = serverSockets(bridge)
  const { port } = new URL(bridge.url)
  const socket = connect({ host: '127.0.0.1', port: Number(port) })
  t.after(() => socket.destroy())
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  const localPort = socket.localPort! // read now: a closed socket no longer knows it
  const serverSide = (): Socket | undefined => sockets.get(localPort)
  let answer = ''
  let written = 0
  socket.on('data', (d: Buffer) => { answer += d.toString('latin1') })
  socket.on('error', () => {}) // EPIPE / ECONNRESET once the server has closed: expected
  const started = Date.now()
  const closed = new Promise<number>(resolve => socket.once('close', () => resolve(Date.now() - started)))
  socket.write(head)
  let timer: NodeJS.Timeout | undefined
  if (how === 'flood') {
    const chunk = Buffer.from(`10000\r\n${' '.repeat(0x10000)}\r\n`)
    const pump = (): void => {
      while (!socket.destroyed && socket.writable) {
        written += chunk.length
        if (!socket.write(chunk)) { socket.once('drain', pump); return }
      }
    }
    pump()
  } else {
    timer = setInterval(() => {
      if (socket.destroyed || !socket.writable) return
      written += 6
      socket.write('1\r\n \r\n')
    }, 100)
  }
  const closedAfterMs = await Promise.race([closed, new Promise<undefined>(resolve => setTimeout(() => resolve(undefined), waitMs).unref())])
  clearInterval(timer)
  const serverRead = serverSide()?.bytesRead ?? NaN
  socket.destroy()
  return { closedAfterMs, answer, written, serverRead }
}

const request = (path: string, headers: Record<string, string>): string =>
  `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`

const MiB = 2 ** 20
/** What "bounded" means below: the server reads a few socket reads past the headers, not the stream. */
const READ_BOUND = 4 * MiB

test('an unauthenticated sender streaming an endless body gets its 401 and the connection closed at once', async t => {
  const bridge = await startTestBridge(t)
  for (const [name, auth] of [['no credentials', undefined], ['wrong secret', basic(WEBHOOK_KEY, 'wrong')]] as const) {
    const sent = await stream(t, bridge, request('/webhooks/enzoic', { 'transfer-encoding': 'chunked', ...(auth === undefined ? {} : { authorization: auth }) }), 'flood', 5000)
    const label = `${name}: wrote ${(sent.written / MiB).toFixed(1)} MiB, server read ${(sent.serverRead / MiB).toFixed(2)} MiB, closed after ${sent.closedAfterMs ?? 'never'} ms`
    t.diagnostic(label)
    assert.match(sent.answer, /^HTTP\/1\.1 401 /, label)
    assert.match(sent.answer, /\r\nconnection: close\r\n/i, label)
    assert.ok(sent.closedAfterMs !== undefined && sent.closedAfterMs < 2000, `the connection stays open: ${label}`)
    assert.ok(sent.serverRead < READ_BOUND, `the server read the stream: ${label}`)
  }
  assert.deepEqual(await bridge.store.alerts.list(), [])
})

test('every answer given before the body is read closes the connection: 403, 404, 413 (declared and streamed), 503', async t => {
  const cases: Array<{ name: string, status: number, env?: Record<string, string>, path?: string, headers: Record<string, string>, hold?: boolean }> = [
    { name: '403 source not allowed', status: 403, env: { ENZOIC_ALLOWED_IPS: '192.0.2.1' }, headers: { authorization: AUTH, 'transfer-encoding': 'chunked' } },
    { name: '403 proxy verdict missing', status: 403, env: { ENZOIC_CLIENT_CERT: 'proxy' }, headers: { authorization: AUTH, 'transfer-encoding': 'chunked' } },
    { name: '404 another path', status: 404, path: '/elsewhere', headers: { 'transfer-encoding': 'chunked' } },
    { name: '413 declared too large', status: 413, headers: { authorization: AUTH, 'content-length': String(50 * 2 ** 30) } },
    { name: '413 streamed past the limit', status: 413, headers: { authorization: AUTH, 'transfer-encoding': 'chunked' } },
    { name: '503 past the in-flight bound', status: 503, env: { BRIDGE_MAX_IN_FLIGHT: '1' }, hold: true, headers: { authorization: AUTH, 'transfer-encoding': 'chunked' } }
  ]
  for (const c of cases) {
    const bridge = await startTestBridge(t, c.env)
    let holder: Socket | undefined
    if (c.hold === true) {
      // One admitted request whose body never finishes holds the only slot.
      holder = connect({ host: '127.0.0.1', port: Number(new URL(bridge.url).port) })
      t.after(() => holder?.destroy())
      holder.on('error', () => {})
      holder.write(request('/webhooks/enzoic', { authorization: AUTH, 'content-length': '100' }) + '{')
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    const sent = await stream(t, bridge, request(c.path ?? '/webhooks/enzoic', c.headers), 'flood', 5000)
    const label = `${c.name}: wrote ${(sent.written / MiB).toFixed(1)} MiB, server read ${(sent.serverRead / MiB).toFixed(2)} MiB, closed after ${sent.closedAfterMs ?? 'never'} ms`
    t.diagnostic(label)
    assert.match(sent.answer, new RegExp(`^HTTP/1\\.1 ${c.status} `), `${label}\n${sent.answer.slice(0, 200)}`)
    assert.match(sent.answer, /\r\nconnection: close\r\n/i, label)
    if (c.status === 503) assert.match(sent.answer, /\r\nretry-after: 5\r\n/i, label)
    assert.ok(sent.closedAfterMs !== undefined && sent.closedAfterMs < 2000, `the connection stays open: ${label}`)
    assert.ok(sent.serverRead < READ_BOUND, `the server read the stream: ${label}`)
    assert.deepEqual(await bridge.store.alerts.list(), [], c.name)
    holder?.destroy() // else close() waits for its request
    await bridge.close()
  }
})

test('an authenticated sender trickling a body forever is cut off at BRIDGE_REQUEST_TIMEOUT with a 408, and frees its slot', async t => {
  const bridge = await startTestBridge(t, { BRIDGE_REQUEST_TIMEOUT: '1s', BRIDGE_MAX_IN_FLIGHT: '1' })
  const sent = await stream(t, bridge, request('/webhooks/enzoic', { authorization: AUTH, 'transfer-encoding': 'chunked' }), 'trickle', 8000)
  const label = `closed after ${sent.closedAfterMs ?? 'never'} ms, wrote ${sent.written} bytes`
  t.diagnostic(label)
  // Node checks the time-out every 100 ms here (a tenth of it, at most 1 s): cut between 1 s and ~1.1 s, and
  // well under 3 s on a loaded machine. Before, a 30 s time-out let a trickling sender stay 30–90 s.
  assert.ok(sent.closedAfterMs !== undefined && sent.closedAfterMs >= 900 && sent.closedAfterMs < 3000, label)
  assert.match(sent.answer, /^HTTP\/1\.1 408 /, sent.answer)
  assert.match(sent.answer, /\r\nconnection: close\r\n/i)
  assert.ok(sent.answer.endsWith('\r\n\r\n{"error":"request timeout"}'), sent.answer)
  // Its in-flight slot (the only one) was given back: the next alert is admitted.
  assert.equal((await postAlert(bridge.url, { exposureID: 'after-trickle', username: 'after-trickle@acme.io' })).status, 200)
  assert.equal((await bridge.store.alerts.list()).length, 1)
})

test('a sender trickling its headers is cut off too (headers time-out: 10 s, or the request time-out if shorter)', async t => {
  const bridge = await startTestBridge(t, { BRIDGE_REQUEST_TIMEOUT: '1s' })
  const sockets = serverSockets(bridge)
  const socket = connect({ host: '127.0.0.1', port: Number(new URL(bridge.url).port) })
  t.after(() => socket.destroy())
  socket.on('error', () => {})
  let answer = ''
  socket.on('data', (d: Buffer) => { answer += d.toString('latin1') })
  await new Promise(resolve => socket.once('connect', resolve))
  const localPort = socket.localPort!
  const started = Date.now()
  const closed = new Promise<number>(resolve => socket.once('close', () => resolve(Date.now() - started)))
  socket.write('POST /webhooks/enzoic HTTP/1.1\r\n')
  const timer = setInterval(() => { if (socket.writable) socket.write('x-slow: 1\r\n') }, 100)
  const after = await Promise.race([closed, new Promise<undefined>(resolve => setTimeout(() => resolve(undefined), 8000).unref())])
  clearInterval(timer)
  assert.ok(after !== undefined && after >= 900 && after < 3000, `closed after ${after ?? 'never'} ms`)
  assert.match(answer, /^HTTP\/1\.1 408 /, answer)
  assert.ok((sockets.get(localPort)?.bytesRead ?? Infinity) < 4096)
})

test('the production time-outs are the ones the server runs with: 30 s per request, 10 s for headers, checked every second', async t => {
  assert.equal(loadConfig({}).requestTimeoutMs, 30_000)
  const bridge = await startTestBridge(t)
  const server = bridge.app.server as import('node:http').Server & { connectionsCheckingInterval?: number }
  assert.equal(server.requestTimeout, 30_000)
  assert.equal(server.headersTimeout, 10_000)
  assert.equal(server.connectionsCheckingInterval, 1000)
})

/** Opens `n` connections from `localAddress` that never send a byte; counts those the server closes. */
async function idleSockets (t: TestContext, bridge: TestBridge, n: number, localAddress: string): Promise<{ sockets: Socket[], closed: () => number }> {
  const port = Number(new URL(bridge.url).port)
  let closed = 0
  const sockets = await Promise.all(Array.from({ length: n }, async () => {
    const socket = connect({ host: '127.0.0.1', port, localAddress })
    t.after(() => socket.destroy())
    socket.on('error', () => {}) // a reset by the server: expected for those it drops
    socket.resume() // read what the server sends (a 408), so its close is seen
    socket.once('close', () => { closed++ })
    await new Promise(resolve => { socket.once('connect', resolve); socket.once('close', resolve) })
    return socket
  }))
  return { sockets, closed: () => closed }
}

const metric = async (bridge: TestBridge, reason: string): Promise<number | undefined> => {
  const text = await (await fetch(`${bridge.url}/metrics`).catch(() => undefined))?.text()
  if (text === undefined) return undefined
  return Number(new RegExp(`^enzoic_bridge_connections_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
}

test('a flood of idle connections from one address cannot keep alerts out: past the per-address cap they are dropped as they arrive', async t => {
  // Loopback is not a trusted proxy here (trusted proxies are exempt from the per-address cap: nginx is one peer).
  // The flood comes from 127.0.0.2, the real sender from 127.0.0.1. Without the per-address cap, the flood would
  // hold every one of the BRIDGE_MAX_CONNECTIONS (the fd limit it stands for) until the headers time-out.
  const bridge = await startTestBridge(t, { BRIDGE_MAX_CONNECTIONS: '40', BRIDGE_MAX_CONNECTIONS_PER_ADDRESS: '8', TRUSTED_PROXIES: '192.0.2.10' })
  assert.equal(bridge.app.server.maxConnections, 40)
  const flood = await idleSockets(t, bridge, 60, '127.0.0.2')
  const answer = await postAlert(bridge.url, { exposureID: 'past-the-flood', username: 'past-the-flood@acme.io' })
  assert.equal(answer.status, 200, JSON.stringify(answer.body))
  await waitFor(() => flood.closed() >= 52, 'the connections past the cap to be dropped', 5000)
  assert.equal(flood.closed(), 52, 'the first 8 stay (until the headers time-out), the other 52 were dropped')
  assert.equal(await metric(bridge, 'per-address'), 52)
  assert.ok(bridge.logs.some(l => l.includes('connections refused')), 'one aggregated warning')
  // Each dropped connection frees its place: the address may connect again once its idle ones are gone.
  for (const s of flood.sockets) s.destroy()
  await waitFor(async () => (await idleSockets(t, bridge, 1, '127.0.0.2')).closed() === 0, 'the address to be admitted again', 5000)
})

test('the per-address cap spares the addresses of ENZOIC_ALLOWED_IPS (Enzoic\'s sender, in direct mode) as it spares TRUSTED_PROXIES', async t => {
  const bridge = await startTestBridge(t, { BRIDGE_MAX_CONNECTIONS_PER_ADDRESS: '8', ENZOIC_ALLOWED_IPS: '127.0.0.2', TRUSTED_PROXIES: '127.0.0.3' })
  const allowed = await idleSockets(t, bridge, 20, '127.0.0.2')
  const trusted = await idleSockets(t, bridge, 20, '127.0.0.3')
  const connections = async (): Promise<number> => await new Promise(resolve => bridge.app.server.getConnections((_err, n) => resolve(n)))
  await waitFor(async () => await connections() === 40, 'the server to hold all 40', 5000)
  assert.deepEqual([allowed.closed(), trusted.closed()], [0, 0])
  assert.equal(await metric(bridge, 'per-address'), 0)
})

test('BRIDGE_MAX_CONNECTIONS bounds the connections of all addresses together; the excess is dropped, counted and logged once', async t => {
  const bridge = await startTestBridge(t, { BRIDGE_MAX_CONNECTIONS: '20', BRIDGE_MAX_CONNECTIONS_PER_ADDRESS: '8', TRUSTED_PROXIES: '192.0.2.10' })
  const floods = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map(async a => await idleSockets(t, bridge, 8, a)))
  await waitFor(() => floods.reduce((n, f) => n + f.closed(), 0) >= 4, 'the connections past 20 to be dropped', 5000)
  for (const f of floods) for (const s of f.sockets) s.destroy()
  const connections = async (): Promise<number> => await new Promise(resolve => bridge.app.server.getConnections((_err, n) => resolve(n)))
  await waitFor(async () => await connections() === 0, 'the flood to be gone', 5000)
  assert.equal(await metric(bridge, 'max-connections'), 4)
  assert.ok(bridge.logs.some(l => l.includes('connections refused')), 'one aggregated warning')
})

test('a connection that sends nothing is closed after the headers time-out (10 s, or BRIDGE_REQUEST_TIMEOUT if shorter)', async t => {
  const bridge = await startTestBridge(t, { BRIDGE_REQUEST_TIMEOUT: '1s' })
  const started = Date.now()
  const idle = await idleSockets(t, bridge, 3, '127.0.0.1')
  await waitFor(() => idle.closed() === 3, 'the idle connections to be closed', 8000, 50)
  const after = Date.now() - started
  assert.ok(after >= 900 && after < 3000, `closed after ${after} ms`)
})

test('ENZOIC_ALLOWED_IPS: a peer neither allowed nor trusted is dropped as it connects, before a byte is read', async t => {
  const bridge = await startTestBridge(t, { ENZOIC_ALLOWED_IPS: '192.0.2.1', TRUSTED_PROXIES: '192.0.2.10' })
  const sockets = serverSockets(bridge)
  const outside = connect({ host: '127.0.0.1', port: Number(new URL(bridge.url).port), localAddress: '127.0.0.2' })
  t.after(() => outside.destroy())
  outside.on('error', () => {})
  let answer = ''
  outside.on('data', (d: Buffer) => { answer += d.toString('latin1') })
  outside.write(request('/webhooks/enzoic', { authorization: AUTH, 'content-length': '2' }) + '{}')
  await new Promise(resolve => outside.once('close', resolve))
  assert.equal(answer, '', 'no answer at all: the connection was dropped')
  assert.equal([...sockets.values()].reduce((n, s) => n + s.bytesRead, 0), 0, 'the server read nothing of it')
  assert.equal(await metric(bridge, 'not-allowed'), 1)
  assert.deepEqual(await bridge.store.alerts.list(), [])
  // Loopback (127.0.0.1 and ::1) stays for the operational endpoints; the webhook still refuses an address not allowed.
  assert.equal((await fetch(`${bridge.url}/healthz`)).status, 200)
  assert.equal((await postAlert(bridge.url, { exposureID: 'x', username: 'x@acme.io' })).status, 403)
})

test('FusionAuth\'s route on the same listener: peers are dropped as they connect only when both routes have an allow-list', async t => {
  const outsideAnswer = async (bridge: TestBridge): Promise<string> => {
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(bridge.url).port), localAddress: '127.0.0.2' })
    t.after(() => socket.destroy())
    socket.on('error', () => {})
    let answer = ''
    socket.on('data', (d: Buffer) => { answer += d.toString('latin1') })
    socket.write(request('/webhooks/fusionauth', { 'content-length': '2' }) + '{}')
    await new Promise(resolve => socket.once('close', resolve))
    return answer
  }
  const base = { ENZOIC_ALLOWED_IPS: '192.0.2.1', TRUSTED_PROXIES: '192.0.2.10', FUSIONAUTH_WEBHOOK_SECRET: 'a-long-fusionauth-webhook-secret' }
  const open = await startTestBridge(t, base)
  assert.match(await outsideAnswer(open), /^HTTP\/1\.1 401 /, 'FusionAuth\'s route takes any address: the peer is heard (and refused by the route)')
  const listed = await startTestBridge(t, { ...base, FUSIONAUTH_WEBHOOK_ALLOWED_IPS: '192.0.2.5' })
  assert.equal(await outsideAnswer(listed), '', 'both routes list their senders: a peer on neither list is dropped unread')
  assert.equal(await metric(listed, 'not-allowed'), 1)
})
