import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { AUTH, basic, postAlert, startTestBridge, WEBHOOK_KEY, type TestBridge } from '../helper.js'
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
