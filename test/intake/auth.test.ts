import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import {
  AUTH, WEBHOOK_KEY, WEBHOOK_KEY_2, WEBHOOK_SECRET, WEBHOOK_SECRET_2,
  basic, postAlert, startTestBridge
} from '../helper.js'
import { encryptPayload } from '../../src/intake/decrypt.js'

const ALERT = { exposureID: 'exp-auth-1', username: 'auth-user@acme.io', date: '2024-01-02T03:04:05Z' }

/** Asserts the uniform 401 answer and returns nothing; also that nothing was stored. */
function assertUnauthorized (res: { status: number, body: any, headers: Headers }): void {
  assert.equal(res.status, 401)
  assert.deepEqual(res.body, { error: 'unauthorized' })
  const challenge = res.headers.get('www-authenticate')
  assert.ok(challenge?.startsWith('Basic realm="enzoic"'), `WWW-Authenticate was ${String(challenge)}`)
}

test('the right credentials are accepted and the alert is stored', async t => {
  const b = await startTestBridge(t)
  const res = await postAlert(b.url, ALERT)
  assert.equal(res.status, 200)
  assert.equal(res.body.status, 'accepted')
  assert.equal((await b.store.alerts.get(res.body.alertId))?.email, 'auth-user@acme.io')
})

test('the second credential pair (rotation) is accepted', async t => {
  const b = await startTestBridge(t)
  const res = await postAlert(b.url, ALERT, { authorization: basic(WEBHOOK_KEY_2, WEBHOOK_SECRET_2) })
  assert.equal(res.status, 200)
  assert.equal(res.body.status, 'accepted')
})

test('a secret containing ":" is split at the first colon only', async t => {
  assert.ok(WEBHOOK_SECRET.includes(':'), 'the helper secret must contain a colon for this test to mean anything')
  const b = await startTestBridge(t)
  assert.equal(b.config.webhookCredentials[0]?.key, WEBHOOK_KEY)
  assert.equal(b.config.webhookCredentials[0]?.secret, WEBHOOK_SECRET)
  assert.equal((await postAlert(b.url, ALERT, { authorization: basic(WEBHOOK_KEY, WEBHOOK_SECRET) })).status, 200)
  // Neither half of the secret on its own passes.
  const at = WEBHOOK_SECRET.indexOf(':')
  assertUnauthorized(await postAlert(b.url, ALERT, { authorization: basic(WEBHOOK_KEY, WEBHOOK_SECRET.slice(0, at)) }))
  assertUnauthorized(await postAlert(b.url, ALERT, { authorization: basic(WEBHOOK_KEY, WEBHOOK_SECRET.slice(at + 1)) }))
})

test('refused credentials: wrong secret, unknown key, crossed pairs, no header, malformed headers', async t => {
  const b = await startTestBridge(t)
  const cases: Array<[string, Record<string, string>]> = [
    ['wrong secret', { authorization: basic(WEBHOOK_KEY, 'not-the-secret') }],
    ['unknown key', { authorization: basic('somebody-else', WEBHOOK_SECRET) }],
    ['key of pair 1 with secret of pair 2', { authorization: basic(WEBHOOK_KEY, WEBHOOK_SECRET_2) }],
    ['empty secret', { authorization: basic(WEBHOOK_KEY, '') }],
    ['Basic !!!', { authorization: 'Basic !!!' }],
    ['Bearer x', { authorization: 'Bearer x' }],
    ['base64 with no colon', { authorization: 'Basic ' + Buffer.from(`${WEBHOOK_KEY}${WEBHOOK_SECRET}`.replace(/:/g, '')).toString('base64') }],
    ['scheme only', { authorization: 'Basic' }]
  ]
  for (const [name, headers] of cases) {
    const res = await postAlert(b.url, ALERT, headers)
    try { assertUnauthorized(res) } catch (err) { throw new Error(`${name}: ${(err as Error).message}`) }
  }
  // No header at all (postAlert always sends one).
  const res = await fetch(`${b.url}/webhooks/enzoic`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ALERT) })
  assertUnauthorized({ status: res.status, body: await res.json(), headers: res.headers })
  assert.deepEqual((await b.store.alerts.list()), [], 'nothing stored for refused callers')
  // The secrets tried never reach the logs.
  const logs = b.logs.join('\n')
  assert.ok(!logs.includes('not-the-secret'))
  assert.ok(!logs.includes(WEBHOOK_SECRET))
  assert.ok(!logs.includes(Buffer.from(`${WEBHOOK_KEY}:not-the-secret`).toString('base64')))
})

/** Raw HTTP POST that tolerates the server answering before the whole body was sent. */
function rawPost (url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number, body: string, headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/webhooks/enzoic`, { method: 'POST', headers: { 'content-length': String(body.length), ...headers } }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }))
    })
    // The server may close its side while we are still writing the refused body: that is fine.
    req.on('error', err => { if (!(err as NodeJS.ErrnoException).code?.startsWith('EPIPE') && (err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err) })
    req.end(body)
  })
}

test('authentication comes before reading, decrypting or parsing the body', async t => {
  const key = Buffer.alloc(32, 7)
  const b = await startTestBridge(t, {
    BRIDGE_MAX_BODY_BYTES: '4096',
    ENZOIC_PAYLOAD_ENCRYPTION: 'optional',
    ENZOIC_PAYLOAD_KEY: `hex:${key.toString('hex')}`
  })
  const marker = 'BODY-MARKER-7f3a9c'
  const bodies: Array<[string, Buffer, string]> = [
    ['huge (above the body limit)', Buffer.from(`{"x":"${marker}${'y'.repeat(200_000)}"}`), 'application/json'],
    ['not JSON', Buffer.from(`${marker} <<< not json`), 'text/plain'],
    ['invalid JSON', Buffer.from(`{"username": "${marker}`), 'application/json'],
    ['not an alert', Buffer.from(`{"${marker}": true}`), 'application/json'],
    ['undecryptable', Buffer.from(`${marker}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`), 'text/plain'],
    ['valid encrypted alert', Buffer.from(encryptPayload(Buffer.from(JSON.stringify({ ...ALERT, username: `${marker}@acme.io` })), key, 'cbc')), 'text/plain']
  ]
  for (const [name, body, type] of bodies) {
    for (const authorization of [undefined, basic(WEBHOOK_KEY, 'wrong')]) {
      const res = await rawPost(b.url, body, authorization === undefined ? { 'content-type': type } : { 'content-type': type, authorization })
      assert.equal(res.status, 401, `${name} (${authorization === undefined ? 'no header' : 'wrong secret'}) got ${res.status} ${res.body}`)
      assert.deepEqual(JSON.parse(res.body), { error: 'unauthorized' })
      assert.ok(String(res.headers['www-authenticate']).startsWith('Basic realm="enzoic"'))
    }
  }
  assert.deepEqual((await b.store.alerts.list()), [])
  const logs = b.logs.join('\n')
  assert.ok(b.logs.some(l => l.includes('webhook credentials refused')), 'the refusal itself is logged')
  assert.ok(!logs.includes(marker), 'nothing of a refused body is logged')
  for (const word of ['decrypt', 'not JSON', 'not an alert', 'too large', 'FST_ERR_CTP']) {
    assert.ok(!logs.includes(word), `a refused body was looked at: logs mention "${word}"`)
  }
  // The same huge body with the right credentials is refused for its size, proving the 401 above came first.
  const big = await rawPost(b.url, bodies[0]![1], { 'content-type': 'application/json', authorization: AUTH })
  assert.equal(big.status, 413)
})
