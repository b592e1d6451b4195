import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { TLSSocket } from 'node:tls'
import { createEnzoicClient, ENZOIC_MAX_BATCH, EnzoicApiError, type EnzoicApi, type EnzoicClientOptions } from '../../src/enzoic/client.js'
import { decryptPayload } from '../../src/intake/decrypt.js'
import { startEnzoicFake, SAMPLE_USERNAME, type EnzoicFake } from '../fakes/enzoic.js'
import { basic, tmpDir } from '../helper.js'

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')
const hashes = (n: number, prefix = 'user'): string[] => Array.from({ length: n }, (_, i) => sha256(`${prefix}${i}@example.org`))

async function setup (t: TestContext, opts: Partial<EnzoicClientOptions> = {}): Promise<{ fake: EnzoicFake, client: EnzoicApi }> {
  const fake = await startEnzoicFake()
  const client = createEnzoicClient({ baseUrl: fake.url, apiKey: fake.apiKey, apiSecret: fake.apiSecret, retryBaseMs: 10, timeoutMs: 2000, ...opts })
  t.after(async () => { await client.close(); await fake.close() })
  return { fake, client }
}

interface Received { headers: IncomingHttpHeaders, body: string, cn?: string }

/** A tiny webhook receiver: records each POST and answers 200. */
async function listen (t: TestContext, server: Server): Promise<number> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
  return (server.address() as AddressInfo).port
}
async function receiver (t: TestContext): Promise<{ url: string, received: Received[] }> {
  const received: Received[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"accepted"}')
    })
  })
  const port = await listen(t, server)
  return { url: `http://127.0.0.1:${port}/webhooks/enzoic`, received }
}

async function rejects (p: Promise<unknown>): Promise<EnzoicApiError> {
  try {
    await p
  } catch (err) {
    assert.ok(err instanceof EnzoicApiError, `expected EnzoicApiError, got ${String(err)}`)
    return err
  }
  assert.fail('expected a rejection')
}

test('register → list → delete a webhook', async t => {
  const { fake, client } = await setup(t)
  const first = await client.registerWebhook('https://bridge.example.org/webhooks/enzoic')
  assert.equal(first.url, 'https://bridge.example.org/webhooks/enzoic')
  assert.equal(first.default, true, 'the first webhook becomes the default')
  assert.ok(first.key.length > 0 && first.secret.length > 0)
  const second = await client.registerWebhook('https://other.example.org/hook', false)
  assert.equal(second.default, false)

  const listed = await client.listWebhooks()
  assert.deepEqual(listed.map(w => [w.webhookID, w.url, w.default]), [
    [first.webhookID, first.url, true],
    [second.webhookID, second.url, false]
  ])
  assert.equal(listed[0]!.dateCreated, '2025-01-01T00:00:00.0000000Z', 'unknown fields are kept')

  await client.deleteWebhook(first.webhookID)
  assert.deepEqual((await client.listWebhooks()).map(w => w.webhookID), [second.webhookID])
  const del = fake.journal.find(j => j.method === 'DELETE')!
  assert.deepEqual([del.path, del.query], ['/webhooks', { webhookID: first.webhookID }])

  const err = await rejects(client.deleteWebhook(first.webhookID))
  assert.equal(err.status, 404)
  assert.equal(err.call, 'DELETE /webhooks')
})

test('the test call makes the fake POST a sample breach alert with the webhook Basic auth', async t => {
  const { fake, client } = await setup(t)
  const rx = await receiver(t)
  const hook = await client.registerWebhook(rx.url, true)

  await client.testWebhook()
  const d = await fake.waitForDelivery(1)
  assert.equal(d.status, 200)
  assert.equal(d.webhookID, hook.webhookID)
  assert.equal(rx.received.length, 1)
  const got = rx.received[0]!
  assert.equal(got.headers.authorization, basic(hook.key, hook.secret))
  assert.match(got.headers['content-type'] ?? '', /^application\/json/)
  const alert = JSON.parse(got.body)
  assert.equal(alert.username, SAMPLE_USERNAME)
  assert.equal(alert.usernameHash, sha256(SAMPLE_USERNAME))
  assert.match(alert.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/)
  assert.equal(typeof alert.passwordType, 'number')
  assert.equal(typeof alert.exposureDetails, 'object')
  assert.deepEqual(fake.journal.at(-1)!.query, { type: 'breachAlert' })

  // A fresh exposure each call, answerable through the Exposure Details API.
  await client.testWebhook('breachAlert')
  await fake.waitForDelivery(2)
  const again = JSON.parse(rx.received[1]!.body)
  assert.notEqual(again.exposureID, alert.exposureID)
  const details = await client.exposureDetails(alert.exposureID)
  assert.equal(details?.title, 'Sample Exposure')
  assert.deepEqual(details?.passwordTypes, ['MD5'])
})

test('the test call fails clearly without a default webhook', async t => {
  const { client } = await setup(t)
  const err = await rejects(client.testWebhook())
  assert.equal(err.status, 400)
  assert.equal(err.call, 'GET /webhook-test')
})

for (const cipher of ['cbc', 'gcm'] as const) {
  test(`encrypted test delivery (${cipher}) decrypts with decryptPayload`, async t => {
    const { fake, client } = await setup(t)
    const rx = await receiver(t)
    await client.registerWebhook(rx.url)
    const key = randomBytes(32)
    fake.setDelivery({ encrypt: { key, cipher }, extra: { customData: 'fusionauth:t:u' } })
    await client.testWebhook()
    await fake.waitForDelivery(1)
    const body = rx.received[0]!.body
    assert.throws(() => JSON.parse(body))
    const alert = JSON.parse(decryptPayload(Buffer.from(body), key, cipher).toString('utf8'))
    assert.equal(alert.username, SAMPLE_USERNAME)
    assert.equal(alert.customData, 'fusionauth:t:u')
  })
}

let openssl = true
try { execFileSync('openssl', ['version'], { stdio: 'ignore' }) } catch { openssl = false }

test('test delivery over HTTPS presents the client certificate (mTLS)', { skip: !openssl && 'openssl not installed' }, async t => {
  const dir = tmpDir(t, 'enzoic-mtls-')
  const ossl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }) }
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=Test Root CA')
  const issue = (name: string, cn: string, ext: string): void => {
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
    execFileSync('sh', ['-c', `printf '%s\\n' '${ext}' > ${name}.ext`], { cwd: dir })
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`)
  }
  issue('server', 'localhost', 'subjectAltName=IP:127.0.0.1')
  issue('client', 'webhooks.enzoic.com', 'extendedKeyUsage=clientAuth')
  const file = (f: string): Buffer => readFileSync(join(dir, f))

  const received: Received[] = []
  const server = createHttpsServer({ cert: file('server.crt'), key: file('server.key'), ca: file('ca.crt'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), cn: Array.isArray(cn) ? cn[0] : cn })
      res.writeHead(200).end('ok')
    })
  })
  const port = await listen(t, server)

  const { fake, client } = await setup(t)
  const hook = await client.registerWebhook(`https://127.0.0.1:${port}/webhooks/enzoic`)
  fake.setDelivery({ clientCert: { cert: file('client.crt'), key: file('client.key') }, ca: file('ca.crt') })
  await client.testWebhook()
  const d = await fake.waitForDelivery(1)
  assert.equal(d.status, 200, d.error)
  assert.equal(received[0]!.cn, 'webhooks.enzoic.com')
  assert.equal(received[0]!.headers.authorization, basic(hook.key, hook.secret))

  // Without the client certificate the handshake is refused and the failure recorded.
  fake.setDelivery({ ca: file('ca.crt') })
  await client.testWebhook()
  const failed = await fake.waitForDelivery(2)
  assert.equal(failed.status, undefined)
  assert.ok(failed.error !== undefined)
  assert.equal(received.length, 1)
})

test('add, list with paging, check and remove monitored users', async t => {
  const { fake, client } = await setup(t)
  const hook = await client.registerWebhook('https://bridge.example.org/hook')
  const users = hashes(25).map((usernameHash, i) => ({ usernameHash, customData: `fusionauth:tenant:user-${i}` }))

  assert.deepEqual(await client.addMonitoredUsers(users.slice(0, 20)), { added: 20, alreadyExisted: 0 })
  assert.deepEqual(await client.addMonitoredUsers(users.slice(15), hook.webhookID), { added: 5, alreadyExisted: 5 })
  const post = fake.journal.filter(j => j.method === 'POST' && j.path === '/breach-monitoring-for-users').at(-1)!
  assert.equal((post.body as { webhookID: string }).webhookID, hook.webhookID)

  const seen: string[] = []
  let pagingToken: string | undefined
  let pages = 0
  do {
    const page = await client.listMonitoredUsers({ pageSize: 10, pagingToken })
    assert.equal(page.count, 25)
    seen.push(...page.users.map(u => u.usernameHash))
    assert.equal(page.users[0]!.webhookURL, hook.url)
    pagingToken = page.pagingToken
    pages++
  } while (pagingToken !== undefined)
  assert.equal(pages, 3)
  assert.deepEqual(seen.sort(), users.map(u => u.usernameHash).sort())
  const list = fake.journal.find(j => j.method === 'GET' && j.path === '/breach-monitoring-for-users')!
  assert.equal(list.query.includeExtendedInfo, 'true')
  const first = (await client.listMonitoredUsers()).users.find(u => u.usernameHash === users[0]!.usernameHash)
  assert.equal(first?.customData, 'fusionauth:tenant:user-0')

  assert.equal(await client.isMonitored(users[0]!.usernameHash), true)
  assert.equal(await client.isMonitored(sha256('nobody@example.org')), false)

  assert.deepEqual(await client.removeMonitoredUsers([users[0]!.usernameHash, sha256('nobody@example.org')]), { deleted: 1, notFound: 1 })
  assert.deepEqual(await client.removeMonitoredByCustomData('fusionauth:tenant:user-1'), { deleted: 1, notFound: 0 })
  const del = fake.journal.at(-1)!
  assert.deepEqual(del.body, { customData: 'fusionauth:tenant:user-1', usernameCustomData: 'fusionauth:tenant:user-1' })
  assert.equal(fake.monitored.size, 23)
})

test('100,000 monitored users: batches of 15,000 in, pages out', async t => {
  const { fake, client } = await setup(t)
  const all = hashes(100_000)
  const started = Date.now()
  for (let i = 0; i < all.length; i += ENZOIC_MAX_BATCH) {
    await client.addMonitoredUsers(all.slice(i, i + ENZOIC_MAX_BATCH).map(usernameHash => ({ usernameHash })))
  }
  assert.equal(fake.monitored.size, 100_000)
  let n = 0
  let pagingToken: string | undefined
  do {
    const page = await client.listMonitoredUsers({ pageSize: 10_000, pagingToken })
    n += page.users.length
    pagingToken = page.pagingToken
  } while (pagingToken !== undefined)
  assert.equal(n, 100_000)
  assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`)
})

test('more than 15,000 users are refused before any call', async t => {
  const { fake, client } = await setup(t)
  const big = hashes(ENZOIC_MAX_BATCH + 1, 'big')
  const err = await rejects(client.addMonitoredUsers(big.map(usernameHash => ({ usernameHash }))))
  assert.equal(err.status, undefined)
  assert.equal(err.retryable, false)
  assert.match(err.message, /15000/)
  await rejects(client.removeMonitoredUsers(big))
  assert.equal(fake.journal.length, 0)
  assert.deepEqual(await client.addMonitoredUsers([]), { added: 0, alreadyExisted: 0 })
  assert.equal(fake.journal.length, 0)
})

test('429 with Retry-After is waited out and retried', async t => {
  const retries: Array<{ status?: number, waitMs: number }> = []
  const { fake, client } = await setup(t, { onRetry: info => retries.push(info) })
  fake.fail(429, { times: 1, retryAfter: 1 })
  const started = Date.now()
  assert.deepEqual(await client.listWebhooks(), [])
  assert.ok(Date.now() - started >= 950)
  assert.deepEqual(fake.journal.map(j => j.status), [429, 200])
  assert.equal(retries.length, 1)
  assert.equal(retries[0]!.status, 429)
  assert.equal(retries[0]!.waitMs, 1000)
})

test('5xx is retried with back-off', async t => {
  const retries: Array<{ call: string, attempt: number, waitMs: number }> = []
  const { fake, client } = await setup(t, { onRetry: info => retries.push(info) })
  fake.fail(500, { times: 2 })
  assert.deepEqual(await client.addMonitoredUsers([{ usernameHash: sha256('a@example.org') }]), { added: 1, alreadyExisted: 0 })
  assert.deepEqual(fake.journal.map(j => j.status), [500, 500, 201])
  assert.deepEqual(retries.map(r => [r.call, r.attempt]), [['POST /breach-monitoring-for-users', 1], ['POST /breach-monitoring-for-users', 2]])
  assert.ok(retries[1]!.waitMs > retries[0]!.waitMs, 'the wait grows')
})

test('5xx exhausts the retries and reports the last status', async t => {
  const { fake, client } = await setup(t, { retries: 2 })
  fake.fail(503)
  const err = await rejects(client.listMonitoredUsers())
  assert.equal(err.status, 503)
  assert.equal(err.retryable, true)
  assert.equal(err.attempts, 3)
  assert.equal(fake.journal.length, 3)
})

test('other 4xx are not retried', async t => {
  const { fake, client } = await setup(t)
  fake.fail(400, { times: 1 })
  const err = await rejects(client.removeMonitoredUsers([sha256('a@example.org')]))
  assert.equal(err.status, 400)
  assert.equal(err.retryable, false)
  assert.equal(err.call, 'DELETE /breach-monitoring-for-users')
  assert.equal(fake.journal.length, 1)
})

test('registering a webhook is not repeated after an ambiguous failure', async t => {
  const { fake, client } = await setup(t)
  fake.fail(502, { times: 1, match: (method, path) => method === 'POST' && path === '/webhooks' })
  const err = await rejects(client.registerWebhook('https://bridge.example.org/hook'))
  assert.equal(err.status, 502)
  assert.equal(fake.journal.length, 1)
  fake.fail(429, { times: 1, retryAfter: 0 })
  await client.registerWebhook('https://bridge.example.org/hook')
  assert.deepEqual(fake.journal.map(j => j.status), [502, 429, 201])
})

test('a time-out is retried, then reported', async t => {
  const { fake, client } = await setup(t, { timeoutMs: 150, retries: 1 })
  fake.setLatency(600)
  const err = await rejects(client.exposureDetails('abc'))
  assert.equal(err.status, undefined)
  assert.equal(err.retryable, true)
  assert.equal(err.attempts, 2)
  assert.match(err.message, /GET \/exposure-details: no answer from Enzoic within 150 ms/)
  await new Promise(resolve => setTimeout(resolve, 700))
  assert.equal(fake.journal.length, 2, 'both attempts reached the server')
})

test('an unreachable API is a network error naming the call, the URL (without credentials) and ENZOIC_API_URL', async t => {
  const { fake } = await setup(t)
  const url = fake.url
  await fake.close()
  const client = createEnzoicClient({ baseUrl: url.replace('http://', 'http://user:Url-Pw-77@'), apiKey: 'k', apiSecret: 's', retries: 1, retryBaseMs: 5 })
  t.after(() => client.close())
  const err = await rejects(client.listWebhooks())
  assert.equal(err.call, 'GET /webhooks')
  assert.match(err.message, /cannot reach Enzoic at http:\/\/127\.0\.0\.1:\d+\/v1 \(ECONNREFUSED\): check ENZOIC_API_URL \(the API base URL, ending in \/v1\) and the network$/)
  assert.ok(!err.message.includes('Url-Pw-77'))
  assert.equal(err.attempts, 2)
})

test('bad API credentials: the error names the variables, never the secret', async t => {
  const { fake } = await setup(t)
  const secret = 'wrong-secret-value-1234'
  const client = createEnzoicClient({ baseUrl: fake.url, apiKey: 'wrong-key', apiSecret: secret, retryBaseMs: 5 })
  t.after(() => client.close())
  const err = await rejects(client.registerWebhook('https://bridge.example.org/hook'))
  assert.equal(err.status, 401)
  assert.equal(err.code, 'BRIDGE_ENZOIC_API')
  assert.match(err.message, /ENZOIC_API_KEY/)
  assert.match(err.message, /ENZOIC_API_SECRET/)
  assert.match(err.message, /^POST \/webhooks: /)
  const everything = `${err.message} ${err.stack ?? ''} ${JSON.stringify(err)}`
  assert.ok(!everything.includes(secret))
  assert.ok(!everything.includes(Buffer.from(`wrong-key:${secret}`).toString('base64')))
  assert.ok(!everything.includes('Basic '))
  assert.equal(fake.journal.length, 1, '401 is not retried')
})

test('exposure details: mapped, tolerant, and undefined for an unknown id', async t => {
  const { fake, client } = await setup(t)
  fake.exposures.set('5820469ffdb8780510b329cc', {
    id: '5820469ffdb8780510b329cc',
    title: 'last.fm',
    entries: 81967007,
    date: '2012-03-01T00:00:00.000Z',
    category: 'Music',
    source: 'Cybercrime Forums',
    passwordType: 'MD5',
    exposedData: ['Emails', 'Passwords', 'Usernames'],
    dateAdded: '2016-09-16T20:41:07.1915231Z',
    sourceURLs: [],
    domainsAffected: '1219053',
    sourceFileCount: 1,
    somethingNew: { nested: true }
  })
  assert.deepEqual(await client.exposureDetails('5820469ffdb8780510b329cc'), {
    title: 'last.fm',
    entries: 81967007,
    date: '2012-03-01T00:00:00.000Z',
    category: 'Music',
    source: 'Cybercrime Forums',
    passwordTypes: ['MD5'],
    exposedData: ['Emails', 'Passwords', 'Usernames'],
    dateAdded: '2016-09-16T20:41:07.191Z',
    sourceURLs: [],
    domainsAffected: 1219053
  })
  assert.equal(await client.exposureDetails('nope'), undefined)
  assert.deepEqual(fake.journal.at(-1)!.query, { id: 'nope' })
})

test('tolerates other list shapes: a bare webhook array, plain-string users', async t => {
  const server = createServer((req, res) => {
    const answer = req.url!.startsWith('/v1/webhooks')
      ? [{ id: 'w1', url: 'https://a.example.org', default: 'true', extra: 1 }, { nothing: true }]
      : { count: 2, usernameHashes: ['aa', 'bb'], pagingToken: '' }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
  })
  const port = await listen(t, server)
  const client = createEnzoicClient({ baseUrl: `http://127.0.0.1:${port}/v1/`, apiKey: 'k', apiSecret: 's' })
  t.after(() => client.close())
  const hooks = await client.listWebhooks()
  assert.equal(hooks.length, 1)
  assert.equal(hooks[0]!.webhookID, 'w1')
  assert.equal(hooks[0]!.default, true)
  assert.deepEqual(await client.listMonitoredUsers(), { count: 2, users: [{ usernameHash: 'aa' }, { usernameHash: 'bb' }] })
})

test('a closed client refuses further calls', async t => {
  const { client } = await setup(t)
  await client.close()
  const err = await rejects(client.listWebhooks())
  assert.match(err.message, /closed/)
})
