// Issue 17, "a purge that forgets": after a purge the email is in no byte of any file of the SQLite database's
// folder (the -wal and -shm included), the notify ledger and the digest outbox rows went with their alert. The real
// bridge (its writer thread), real intake over HTTP, the real worker against the FusionAuth fake, a real digest.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, startTestBridge, tmpDir, waitFor, type TestBridge } from '../helper.js'
import { usernameHash } from '../../src/alerts/normalise.js'
import { cli } from '../fixtures/in-process.js'
import { idempotencyKey } from '../../src/intake/alert.js'
import { purgeAlerts } from '../../src/operations/alerts.js'

const EMAIL = 'u7@corp.io'
const TOMBSTONE_KEY = 'base64:' + Buffer.from('thirty-two bytes of tombstone key').toString('base64')
/** The plain idempotency keys of the three alerts: SHA-256 of (exposure id, email, customData), which a dictionary of emails recomputes. */
const PLAIN_KEYS = [1, 2, 3].map(n => idempotencyKey(`exp-${n}`, EMAIL, `crm ${EMAIL}`))

/** A chat receiver on 127.0.0.1 that takes every message. */
async function receiver (t: TestContext): Promise<{ url: string, got: string[] }> {
  const got: string[] = []
  const srv = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => { got.push(body); res.end('ok') })
  })
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => { srv.closeAllConnections(); srv.close(resolve) }))
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/hook`, got }
}

/** Where in the database's folder `needle` occurs (UTF-8, UTF-16LE and UTF-16BE), as `file@offset`. */
function occurrences (folder: string, needle: string): string[] {
  const forms = [Buffer.from(needle, 'utf8'), Buffer.from(needle, 'utf16le'), Buffer.from(needle, 'utf16le').swap16()]
  const found: string[] = []
  for (const name of readdirSync(folder)) {
    const bytes = readFileSync(join(folder, name))
    for (const form of forms) {
      for (let at = bytes.indexOf(form); at >= 0; at = bytes.indexOf(form, at + 1)) found.push(`${name}@${at}`)
    }
  }
  return found
}

/**
 * A bridge whose every output held the email: alerts for it remediated (steps, history, users, actions), a
 * notify-user email (the ledger row), a digest with the whole address (BRIDGE_LOG_EMAILS=full) in the outbox.
 */
async function bridgeThatKnowsTheEmail (t: TestContext): Promise<{ bridge: TestBridge, ids: string[] }> {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const template = fa.addEmailTemplate('Breach notice')
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: EMAIL })
  const rx = await receiver(t)
  const bridge = await startTestBridge(t, {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    BRIDGE_ACTIONS: `notify-user:${template},deactivate,revoke-sessions`,
    BRIDGE_NOTIFY_URL: rx.url,
    BRIDGE_NOTIFY_INTERVAL: '1s',
    BRIDGE_LOG_EMAILS: 'full',
    BRIDGE_TOMBSTONE_KEY: TOMBSTONE_KEY
  }, tmpDir(t), { digest: { tickMs: 3_600_000 } })
  await bridge.digest!.tick() // the first window starts now
  const ids: string[] = []
  for (const n of [1, 2, 3]) {
    const r = await postAlert(bridge.url, { username: EMAIL.toUpperCase(), exposureID: `exp-${n}`, customData: `crm ${EMAIL}`, exposureDetails: { title: `Leak of ${EMAIL}` } })
    assert.equal(r.status, 200)
    ids.push(r.body.alertId as string)
  }
  for (const id of ids) await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alerts to be remediated')
  await new Promise(resolve => setTimeout(resolve, 1100))
  await bridge.digest!.tick()
  assert.ok(rx.got.some(m => m.includes(EMAIL)), 'the digest named the address')
  const folder = dirname(bridge.config.database)
  assert.ok(occurrences(folder, EMAIL).length > 0, 'the database holds the address before the purge')
  assert.ok(PLAIN_KEYS.every(k => occurrences(folder, k).length > 0), 'and the plain idempotency keys')
  const db = new Database(bridge.config.database, { readonly: true })
  t.after(() => db.close())
  assert.equal((db.prepare('SELECT count(*) AS n FROM meta WHERE key LIKE \'notified:%\'').get() as { n: number }).n, 3, 'one ledger row per exposure')
  assert.equal((db.prepare('SELECT count(*) AS n FROM outbox WHERE kind = \'digest\'').get() as { n: number }).n, 1)
  return { bridge, ids }
}

/** Nothing of the address in any file of the folder; its ledger and outbox rows gone; the tombstones still recognise a re-delivery. */
async function assertForgotten (bridge: TestBridge, ids: string[]): Promise<void> {
  const folder = dirname(bridge.config.database)
  const files = readdirSync(folder)
  assert.ok(files.includes('bridge.db-wal') && files.includes('bridge.db-shm'), `the WAL and shared-memory files are there to search: ${files.join(', ')}`)
  assert.deepEqual(occurrences(folder, EMAIL), [], 'no byte of the address left')
  assert.deepEqual(occurrences(folder, usernameHash(EMAIL)), [], 'nor its hash (reversible by a dictionary)')
  assert.deepEqual(PLAIN_KEYS.flatMap(k => occurrences(folder, k)), [], 'nor the plain idempotency keys: the tombstones hold HMACs under BRIDGE_TOMBSTONE_KEY')
  const db = new Database(bridge.config.database, { readonly: true })
  try {
    assert.deepEqual(db.prepare('SELECT key FROM meta WHERE key LIKE \'notified:%\'').all(), [], 'the notify ledger went with the alerts')
    assert.deepEqual(db.prepare('SELECT key FROM outbox').all(), [], 'the digest that named them too')
  } finally {
    db.close()
  }
  for (const [i, id] of ids.entries()) {
    const again = await postAlert(bridge.url, { username: EMAIL, exposureID: `exp-${i + 1}`, customData: `crm ${EMAIL}` })
    assert.deepEqual([again.status, again.body.status, again.body.alertId], [200, 'duplicate', id], 'a late re-delivery is still a duplicate')
  }
}

test('retention\'s purge (the bridge\'s writer thread): no byte of the email in the database, its -wal or -shm; ledger and outbox rows gone', async t => {
  const { bridge, ids } = await bridgeThatKnowsTheEmail(t)
  await new Promise(resolve => setTimeout(resolve, 20))
  assert.equal((await bridge.store.alerts.purge({ olderThanMs: 10 })).purged, 3)
  await assertForgotten(bridge, ids)
})

test('`alerts purge` beside the running bridge: the same, from the command\'s own connection', async t => {
  const { bridge, ids } = await bridgeThatKnowsTheEmail(t)
  await new Promise(resolve => setTimeout(resolve, 20))
  const r = await cli(['alerts', 'purge', '--older-than', '10ms', '--force', '--yes'], { BRIDGE_DATABASE: bridge.config.database, BRIDGE_TOMBSTONE_KEY: TOMBSTONE_KEY })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^Purged the personal data of 3 alerts/)
  await assertForgotten(bridge, ids)
})

test('`alerts purge` run without the tombstone key: unkeyed tombstones, keyed by the bridge\'s next purge and still recognised', async t => {
  const { bridge, ids } = await bridgeThatKnowsTheEmail(t)
  await new Promise(resolve => setTimeout(resolve, 20))
  const r = await cli(['alerts', 'purge', '--older-than', '10ms', '--force', '--yes'], { BRIDGE_DATABASE: bridge.config.database })
  assert.equal(r.code, 0, r.stderr)
  const folder = dirname(bridge.config.database)
  assert.ok(PLAIN_KEYS.every(k => occurrences(folder, k).length > 0), 'plain keys: what a purge without the key leaves')
  assert.equal((await bridge.store.alerts.purge({ olderThanMs: 10 })).purged, 0, 'the retention task finds nothing more to purge…')
  await assertForgotten(bridge, ids) // … but keys the tombstones the command left
})

test('a purge that cannot empty the WAL (another connection reads an older snapshot) says so; the next one empties it', async t => {
  const bridge = await startTestBridge(t)
  for (const n of [1, 2]) assert.equal((await postAlert(bridge.url, { username: `probe${n}@example.com`, exposureID: `exp-${n}` })).status, 200)
  const reader = new Database(bridge.config.database, { readonly: true })
  t.after(() => reader.close())
  reader.exec('BEGIN')
  reader.prepare('SELECT count(*) FROM alerts').get() // its snapshot: before the purge
  await new Promise(resolve => setTimeout(resolve, 20))
  const held = await purgeAlerts(bridge.store, 10)
  assert.equal(held.purged, 2)
  assert.match(held.warning ?? '', /the SQLite WAL could not be emptied/)
  reader.exec('COMMIT')
  const next = await purgeAlerts(bridge.store, 10)
  assert.deepEqual([next.purged, next.warning], [0, undefined])
  assert.equal(statSync(`${bridge.config.database}-wal`).size, 0, 'the WAL is empty')
})
