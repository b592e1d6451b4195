import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Agent, fetch as undiciFetch } from 'undici'
import Database from 'better-sqlite3'
import { AUTH, basic, captureLogger, postAlert, startTestBridge, testConfig, testEnv, tmpDir, WEBHOOK_KEY, freePort } from '../helper.js'
import { SERVER_ENTRY, TSX_IMPORT } from '../fixtures/processes.js'
import { encryptPayload } from '../../src/intake/decrypt.js'
import { startBridge } from '../../src/server.js'

/** Every byte the bridge wrote to disk for its database: the main file, the WAL and the shared-memory index. */
function databaseBytes (file: string): Buffer {
  return Buffer.concat([file, `${file}-wal`, `${file}-shm`].filter(f => existsSync(f)).map(f => readFileSync(f)))
}

test('no password byte reaches the database file, its WAL or the logs', async t => {
  // Distinctive values that cannot occur by chance.
  const secret = (kind: string): string => `${kind}-${randomBytes(9).toString('hex')}-Zq`
  const plaintextPassword = secret('Plain')
  const passwordHash = secret('Hash')
  const passwordSalt = secret('Salt')
  const nestedPassword = secret('Nested')
  const values = [plaintextPassword, passwordHash, passwordSalt, nestedPassword]
  const key = randomBytes(32)
  const b = await startTestBridge(t, { ENZOIC_PAYLOAD_ENCRYPTION: 'optional', ENZOIC_PAYLOAD_KEY: `base64:${key.toString('base64')}` })
  const pw = { plaintextPassword, passwordHash, passwordSalt, passwordType: 'SHA256' }
  const bodies: Array<[unknown, number]> = [
    [{ exposureID: 'p1', username: 'pw1@acme.io', ...pw }, 200],
    [{ exposureID: 'p1', username: 'pw1@acme.io', ...pw }, 200], // duplicate
    [{ exposureID: 'p2', username: 'pw2@example.com', ...pw }, 200], // test alert
    [{ exposureID: 'p3', usernameHash: 'not-a-hash', ...pw, extraInfo: { password: nestedPassword } }, 200],
    [{ exposureID: 'p4', username: 'pw4@acme.io', ...pw, unknownField: 1, userPassword: plaintextPassword }, 200],
    [{ type: 'piiAlert', username: 'pii@acme.io', ...pw }, 200],
    [{ exposureID: 'p5', ...pw }, 400], // not an alert
    [`{"username":"broken@acme.io","plaintextPassword":"${plaintextPassword}"`, 400],
    [encryptPayload(Buffer.from(JSON.stringify({ exposureID: 'p6', username: 'pw6@acme.io', ...pw })), key, 'gcm'), 400], // wrong layout
    [encryptPayload(Buffer.from(JSON.stringify({ exposureID: 'p7', username: 'pw7@acme.io', ...pw })), key, 'cbc'), 200]
  ]
  for (const [body, status] of bodies) {
    const res = await postAlert(b.url, body, typeof body === 'string' && !body.startsWith('{') ? { 'content-type': 'text/plain' } : {})
    assert.equal(res.status, status, JSON.stringify(body).slice(0, 80))
  }
  // Refused callers with password-laden bodies.
  assert.equal((await postAlert(b.url, { username: 'x@acme.io', ...pw }, { authorization: basic(WEBHOOK_KEY, 'wrong') })).status, 401)

  const file = b.config.database
  const search = (where: string, bytes: Buffer): void => {
    for (const v of values) {
      assert.equal(bytes.indexOf(Buffer.from(v, 'utf8')), -1, `${where} holds ${v.split('-')[0]}`)
      assert.equal(bytes.indexOf(Buffer.from(v, 'utf16le')), -1, `${where} holds ${v.split('-')[0]} (utf-16)`)
    }
  }
  // The test is only meaningful if the rows really are on disk: prove a neighbour value is found.
  const onDisk = databaseBytes(file)
  assert.ok(onDisk.indexOf(Buffer.from('pw4@acme.io')) >= 0, 'the stored alerts are in the bytes searched')
  assert.ok(existsSync(`${file}-wal`), 'WAL mode: the -wal file exists')
  search('database (running)', onDisk)
  search('logs', Buffer.from(b.logs.join('\n')))
  assert.ok(b.logs.length > 10, 'logs were captured')
  const stored = (await b.store.alerts.list())
  assert.equal(stored.length, 5)
  assert.ok(stored.every(a => a.hadPassword && a.passwordType === 3))
  search('store records', Buffer.from(JSON.stringify(stored)))

  // After a clean shutdown (checkpoint into the main file), still nothing.
  await b.close()
  search('database (closed)', databaseBytes(file))
})

/** A stand-in FusionAuth that refuses every API key: a worker, if the entry point starts one, pauses. */
async function refusingFusionAuth (t: TestContext): Promise<string> {
  const server: Server = createServer((_req, res) => { res.writeHead(401).end() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => { server.closeAllConnections(); server.close(resolve) }))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

interface Child { proc: ChildProcess, url: string, stderr: () => string }

/** Runs the real entry point (src/server.ts) in a child process and waits until /healthz answers. */
async function spawnBridge (t: TestContext, dir: string, fusionAuthUrl: string): Promise<Child> {
  const port = await freePort()
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...testEnv(dir, { PORT: String(port), LOG_LEVEL: 'warn', FUSIONAUTH_URL: fusionAuthUrl, FUSIONAUTH_API_KEY: 'test-api-key' })
  }
  // In the test's folder, never the repository: a .env there must not change the result.
  const proc = spawn(process.execPath, [...TSX_IMPORT, SERVER_ENTRY], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  proc.stderr!.on('data', (c: Buffer) => { err += c.toString() })
  proc.stdout!.resume()
  t.after(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 15_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`bridge exited with ${proc.exitCode}: ${err}`)
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break
    } catch {}
    if (Date.now() > deadline) throw new Error(`bridge did not start: ${err}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return { proc, url, stderr: () => err }
}

test('kill -9 during a burst loses no acknowledged alert; the restarted bridge still knows them', { timeout: 45_000 }, async t => {
  const dir = tmpDir(t)
  const fa = await refusingFusionAuth(t)
  const first = await spawnBridge(t, dir, fa)
  const TOTAL = 300
  const dispatcher = new Agent({ connections: TOTAL, pipelining: 0 })
  t.after(() => dispatcher.destroy())
  const exited = new Promise(resolve => first.proc.once('exit', resolve))

  // 300 requests at once, and each answer launches another, so requests are always in flight; SIGKILL the
  // bridge as soon as half of the first 300 have been acknowledged.
  const acked = new Map<number, string>()
  const pending: Array<Promise<unknown>> = [] // each resolves to undefined (acknowledged) or the error
  let launched = 0
  let killedAt: number | undefined
  const launch = (): void => {
    const i = launched++
    pending.push((async () => {
      const res = await undiciFetch(`${first.url}/webhooks/enzoic`, {
        method: 'POST',
        headers: { authorization: AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ exposureID: `kill-${i}`, username: `user-${i}@acme.io`, passwordType: 1 }),
        dispatcher
      })
      const body = await res.json() as { status: string, alertId: string }
      assert.equal(res.status, 200)
      assert.equal(body.status, 'accepted')
      acked.set(i, body.alertId)
      if (killedAt !== undefined) return
      if (acked.size >= TOTAL / 2) {
        killedAt = acked.size
        first.proc.kill('SIGKILL')
      } else {
        launch()
      }
    })().then(() => undefined, (err: unknown) => err))
  }
  for (let i = 0; i < TOTAL; i++) launch()
  const results: unknown[] = []
  while (results.length < pending.length) results.push(...await Promise.all(pending.slice(results.length)))
  await exited
  assert.equal(first.proc.signalCode, 'SIGKILL')
  const failed = results.filter(r => r !== undefined).length
  for (const r of results) if (r instanceof assert.AssertionError) throw r
  t.diagnostic(`sent ${launched}, acknowledged ${acked.size} (kill after ${String(killedAt)}), unanswered ${failed}`)
  assert.ok(killedAt !== undefined && acked.size >= TOTAL / 2)
  assert.ok(failed > 0, 'some requests were still in flight when the bridge was killed')

  // Open the database the way a new process would (WAL recovery included) and look for every acknowledged id.
  const db = new Database(join(dir, 'bridge.db'))
  const rows = db.prepare('SELECT id, email, exposure_id FROM alerts').all() as Array<{ id: string, email: string, exposure_id: string }>
  db.close()
  const byId = new Map(rows.map(r => [r.id, r]))
  const missing = [...acked].filter(([, id]) => !byId.has(id))
  assert.deepEqual(missing, [], 'every acknowledged alert is on disk')
  for (const [i, id] of acked) {
    assert.equal(byId.get(id)?.email, `user-${i}@acme.io`)
    assert.equal(byId.get(id)?.exposure_id, `kill-${i}`)
  }

  // Restart on the same database: it serves, and Enzoic's retry of an acknowledged alert is a duplicate.
  const second = await spawnBridge(t, dir, fa)
  const [i, id] = [...acked][0]!
  const dup = await postAlert(second.url, { exposureID: `kill-${i}`, username: `user-${i}@acme.io` })
  assert.deepEqual(dup.body, { status: 'duplicate', alertId: id })
  // A retry of one that was never acknowledged is stored now (or found, if it was committed but not answered).
  const unacked = Array.from({ length: launched }, (_, k) => k).find(k => !acked.has(k))!
  const retried = await postAlert(second.url, { exposureID: `kill-${unacked}`, username: `user-${unacked}@acme.io` })
  assert.equal(retried.status, 200)
  assert.ok(['accepted', 'duplicate'].includes(retried.body.status))
  const fresh = await postAlert(second.url, { exposureID: 'after-restart', username: 'new@acme.io' })
  assert.equal(fresh.body.status, 'accepted')
  const ready = await fetch(`${second.url}/healthz`)
  assert.equal(ready.status, 200)
  second.proc.kill('SIGTERM')
  await new Promise(resolve => second.proc.once('exit', resolve))
  assert.equal(second.proc.exitCode, 0, `graceful exit on SIGTERM: ${second.stderr()}`)
})

test('when the store cannot commit, the answer is 503 with Retry-After; once it can, 200', async t => {
  const dir = tmpDir(t)
  const config = testConfig(dir)
  const { logger, lines } = captureLogger()
  const bridge = await startBridge(config, logger, { busyTimeoutMs: 300 })
  t.after(() => bridge.close())

  // Another connection holds the write lock for longer than the bridge's busy timeout.
  const other = new Database(config.database)
  t.after(() => { if (other.inTransaction) other.exec('ROLLBACK'); other.close() })
  other.pragma('busy_timeout = 0')
  other.exec('BEGIN IMMEDIATE')
  const started = Date.now()
  const refused = await postAlert(bridge.url, { exposureID: 'locked', username: 'locked@acme.io' })
  assert.equal(refused.status, 503)
  assert.deepEqual(refused.body, { error: 'unavailable' })
  assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/)
  assert.ok(Date.now() - started >= 250, 'the store waited for its busy timeout first')
  const notReady = await fetch(`${bridge.url}/readyz`)
  assert.equal(notReady.status, 503, 'readiness fails while the store cannot commit')
  assert.ok(lines.some(l => l.includes('alert store cannot commit')))

  other.exec('ROLLBACK')
  const ok = await postAlert(bridge.url, { exposureID: 'locked', username: 'locked@acme.io' })
  assert.equal(ok.status, 200)
  assert.equal(ok.body.status, 'accepted', 'the refused delivery was not half-stored')
  assert.equal((await bridge.store.alerts.list()).length, 1)
  assert.equal((await fetch(`${bridge.url}/readyz`)).status, 200)
  const metrics = await (await fetch(`${bridge.url}/metrics`)).text()
  assert.match(metrics, /bridge_webhook_requests_total\{status="503",outcome="unavailable"\} 1/)
})

/** Starts a POST whose headers and first bytes are sent now and the rest on finish(). */
function slowPost (port: string, body: Buffer): { finish: () => void, response: Promise<{ status: number, text: string, connection?: string }> } {
  let req!: ReturnType<typeof request>
  const response = new Promise<{ status: number, text: string, connection?: string }>((resolve, reject) => {
    req = request({ host: '127.0.0.1', port, path: '/webhooks/enzoic', method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json', 'content-length': body.length } }, res => {
      let text = ''
      res.on('data', (c: Buffer) => { text += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, connection: res.headers.connection }))
    })
    req.on('error', reject)
    req.write(body.subarray(0, 10))
  })
  return { finish: () => req.end(body.subarray(10)), response }
}

test('graceful shutdown: requests in flight at close() finish, are stored, and close() does not wait for keep-alive', async t => {
  const b = await startTestBridge(t)
  const file = b.config.database
  const port = new URL(b.url).port

  // Count the requests whose headers the server has parsed (they are in flight from then on).
  let arrived = 0
  b.app.server.on('request', () => { arrived++ })
  // Requests whose bodies are still arriving when close() is called; the node client keeps connections alive.
  const slow = Array.from({ length: 20 }, (_, i) => slowPost(port, Buffer.from(JSON.stringify({ exposureID: `slow-${i}`, username: `slow-${i}@acme.io` }))))
  // An idle keep-alive connection (its request already answered) must not hold close() up either.
  const agent = new Agent({ keepAliveTimeout: 30_000 })
  t.after(() => agent.destroy())
  const earlier = await undiciFetch(`${b.url}/webhooks/enzoic`, { method: 'POST', headers: { authorization: AUTH }, body: JSON.stringify({ exposureID: 'before', username: 'before@acme.io' }), dispatcher: agent })
  assert.equal(earlier.status, 200)
  await earlier.text()
  while (arrived < slow.length + 1) await new Promise(resolve => setTimeout(resolve, 10))

  const t0 = Date.now()
  const closed = b.close().then(() => Date.now() - t0)
  while (b.app.server.listening) await new Promise(resolve => setTimeout(resolve, 5)) // close() has begun
  for (const s of slow) s.finish()
  const answers = await Promise.all(slow.map(s => s.response))
  const closeMs = await closed
  t.diagnostic(`close() took ${closeMs} ms`)
  for (const a of answers) {
    assert.equal(a.status, 200, a.text)
    assert.equal(a.connection, 'close', 'answers during shutdown end their connection')
  }
  assert.ok(closeMs < 2000, `close() returned after ${closeMs} ms: it waited for idle keep-alive connections`)

  const db = new Database(file, { readonly: true })
  const ids = new Set((db.prepare('SELECT id FROM alerts').all() as Array<{ id: string }>).map(r => r.id))
  db.close()
  assert.equal(ids.size, 21)
  for (const a of answers) assert.ok(ids.has((JSON.parse(a.text) as { alertId: string }).alertId), 'every in-flight request\'s alert is stored')
  // Closed means closed.
  await assert.rejects(fetch(`${b.url}/healthz`))
  await assert.rejects(b.store.alerts.insert({ test: false, idempotencyKey: 'k', hadPassword: false, warnings: [] }), { name: 'StoreUnavailableError' })
})
