// BRIDGE_NOTIFY_URL: `notify test` posts one signed message as the digest does and reports the answer; `check`
// proves the receiver reachable (TCP, TLS with the system's CAs) without posting. Real receivers on 127.0.0.1.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { join } from 'node:path'
import { Webhook } from 'standardwebhooks'
import { cli } from '../fixtures/in-process.js'
import { freePort, testEnv, tmpDir } from '../helper.js'

const SECRET = 'whsec_' + Buffer.from('notify-test-secret-0123456789abcdef').toString('base64')

interface Receiver { url: string, got: Array<{ headers: IncomingHttpHeaders, body: string }>, reply: { status: number, body: string } }

async function receiver (t: TestContext): Promise<Receiver> {
  const got: Array<{ headers: IncomingHttpHeaders, body: string }> = []
  const reply = { status: 200, body: 'ok' }
  const srv = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => { got.push({ headers: req.headers, body }); res.writeHead(reply.status).end(reply.body) })
  })
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => { srv.closeAllConnections(); srv.close(resolve) }))
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/services/T0/B0/chat-token-42`, got, reply }
}

test('notify test: one signed test message, the receiver\'s answer reported; its refusal or absence in the exit code', async t => {
  const rx = await receiver(t)
  const env = testEnv(tmpDir(t), { BRIDGE_NOTIFY_URL: rx.url, BRIDGE_NOTIFY_SECRET: SECRET })
  const r = await cli(['notify', 'test'], env)
  assert.equal(r.code, 0, r.stderr)
  const port = new URL(rx.url).port
  assert.match(r.stdout, new RegExp(`^Sent a test message to http://127\\.0\\.0\\.1:${port}/…, signed \\(BRIDGE_NOTIFY_SECRET\\), webhook-id test:\\d+: the receiver answered 200 ok\\.\\n$`))
  assert.ok(!r.stdout.includes('chat-token-42'), 'a chat webhook\'s path is its secret: never printed')
  assert.equal(rx.got.length, 1)
  const message = new Webhook(SECRET).verify(rx.got[0]!.body, rx.got[0]!.headers as Record<string, string>) as { type: string, text: string }
  assert.equal(message.type, 'test')
  assert.match(message.text, /a test message \(breach-bridge notify test, \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\)/)

  const json = await cli(['notify', 'test', '--json'], { ...env, BRIDGE_NOTIFY_SECRET: undefined })
  assert.equal(json.code, 0, json.stderr)
  const doc = JSON.parse(json.stdout) as { ok: boolean, signed: boolean, status: number }
  assert.deepEqual([doc.ok, doc.signed, doc.status], [true, false, 200])
  assert.equal(rx.got[1]!.headers['webhook-signature'], undefined)

  for (const [status, code] of [[403, 2], [404, 1], [503, 3]] as const) {
    rx.reply.status = status
    rx.reply.body = 'no_service'
    const refused = await cli(['notify', 'test'], env)
    assert.equal(refused.code, code, `${status}: ${refused.stderr}`)
    assert.match(refused.stderr, new RegExp(`^breach-bridge: test message to http://127\\.0\\.0\\.1:${port}/… \\(signed .*\\) not delivered: the receiver answered ${status}: no_service\\n$`))
  }
  const down = await cli(['notify', 'test'], { ...env, BRIDGE_NOTIFY_URL: `http://127.0.0.1:${await freePort()}/hook` })
  assert.equal(down.code, 3)
  assert.match(down.stderr, /not delivered: the receiver did not answer: ECONNREFUSED/)
  const unset = await cli(['notify', 'test'], { ...env, BRIDGE_NOTIFY_URL: undefined, BRIDGE_NOTIFY_SECRET: undefined })
  assert.equal(unset.code, 2)
  assert.match(unset.stderr, /BRIDGE_NOTIFY_URL is not set/)
})

test('check proves BRIDGE_NOTIFY_URL reachable without posting: a TCP connection, a TLS handshake that verifies the certificate', async t => {
  const rx = await receiver(t)
  const dir = tmpDir(t)
  const ok = await cli(['check'], testEnv(dir, { BRIDGE_NOTIFY_URL: rx.url }))
  assert.match(ok.stdout, /^OK +digest +BRIDGE_NOTIFY_URL http:\/\/127\.0\.0\.1:\d+\/…: 127\.0\.0\.1:\d+ accepts connections .*; messages unsigned/m)
  assert.equal(rx.got.length, 0, 'nothing posted')

  // A receiver whose certificate no CA of this system vouches for: the digest would never be delivered.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  const tls = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('ok'))
  await new Promise<void>(resolve => tls.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => { tls.closeAllConnections(); tls.close(resolve) }))
  const selfSigned = await cli(['check'], testEnv(dir, { BRIDGE_NOTIFY_URL: `https://127.0.0.1:${(tls.address() as { port: number }).port}/hook`, BRIDGE_NOTIFY_SECRET: SECRET }))
  assert.equal(selfSigned.code, 1)
  assert.match(selfSigned.stdout, /^FAIL +digest +BRIDGE_NOTIFY_URL https:\/\/127\.0\.0\.1:\d+\/…: 127\.0\.0\.1:\d+: TLS: the receiver's certificate is not trusted here \(DEPTH_ZERO_SELF_SIGNED_CERT\)/m)
  const closed = await cli(['check'], testEnv(dir, { BRIDGE_NOTIFY_URL: `https://127.0.0.1:${await freePort()}/hook` }))
  assert.match(closed.stdout, /^FAIL +digest +.*: cannot connect \(ECONNREFUSED\): check BRIDGE_NOTIFY_URL/m)
})
