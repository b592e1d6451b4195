import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { tmpDir } from '../helper.js'
import { createSqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite.js'
import { classify, type BreachAlert } from '../../src/intake/alert.js'
import type { AlertStore } from '../../src/store/types.js'

/** A parsed alert, as intake hands it to the store. */
function alert (payload: Record<string, unknown>): BreachAlert {
  const c = classify(payload)
  assert.equal(c.kind, 'alert')
  return (c as { alert: BreachAlert }).alert
}

function open (t: TestContext, file: string, options: Partial<SqliteStoreOptions> = {}): AlertStore {
  const store = createSqliteStore({ file, ...options })
  t.after(() => store.close())
  return store
}

test('creates its folder and a WAL database at the current schema version', async t => {
  const file = join(tmpDir(t), 'nested', 'deeper', 'bridge.db')
  const store = open(t, file)
  assert.ok(existsSync(file))
  await store.insert(alert({ username: 'a@acme.io' }))
  const db = new Database(file, { readonly: true })
  t.after(() => db.close())
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  assert.equal(db.pragma('user_version', { simple: true }), 1)
  assert.ok(existsSync(`${file}-wal`))
})

test('insert → get keeps every field; password material was never part of it', async t => {
  const clock = { now: Date.parse('2024-03-04T05:06:07.000Z') }
  const store = open(t, join(tmpDir(t), 'b.db'), { now: () => clock.now })
  const a = alert({
    exposureID: 'e1',
    username: ' Someone@Acme.IO ',
    customData: 'fusionauth:t1:u1',
    date: '2017-01-17T04:51:05.1915231Z',
    plaintextPassword: 'never-stored',
    passwordType: 'MD5',
    exposureDetails: { title: 'T', entries: 5 },
    region: 'eu'
  })
  const r = await store.insert(a, { sourceIp: '203.0.113.9' })
  assert.deepEqual({ duplicate: r.duplicate, test: r.test }, { duplicate: false, test: false })
  assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7')
  const rec = store.get(r.id)!
  assert.deepEqual(rec, {
    id: r.id,
    test: false,
    state: 'queued',
    receivedAt: '2024-03-04T05:06:07.000Z',
    updatedAt: '2024-03-04T05:06:07.000Z',
    exposureId: 'e1',
    email: 'someone@acme.io',
    usernameHash: a.usernameHash,
    customData: 'fusionauth:t1:u1',
    exposureDate: '2017-01-17T04:51:05.191Z',
    hadPassword: true,
    passwordType: 1,
    passwordTypeName: 'MD5',
    exposureDetails: { title: 'T', entries: 5 },
    extra: { region: 'eu' },
    warnings: [],
    sourceIp: '203.0.113.9',
    deliveries: 1,
    attempts: 0,
    nextAttemptAt: '2024-03-04T05:06:07.000Z',
    leaseOwner: undefined,
    leaseUntil: undefined,
    outcome: undefined,
    users: [],
    actions: [],
    lastError: undefined,
    completedAt: undefined
  })
  assert.ok(!JSON.stringify(rec).includes('never-stored'))
  assert.deepEqual(store.events(r.id), [{ at: '2024-03-04T05:06:07.000Z', state: 'queued', note: 'received' }])
  assert.equal(store.get('no-such-id'), undefined)
})

test('inserts made in the same turn share one commit; duplicates inside and across batches find the first row', async t => {
  const commits: number[] = []
  const store = open(t, join(tmpDir(t), 'b.db'), { onCommit: n => commits.push(n) })
  const batch = await Promise.all([
    store.insert(alert({ exposureID: 'x', username: 'one@acme.io' })),
    store.insert(alert({ exposureID: 'x', username: 'two@acme.io' })),
    store.insert(alert({ exposureID: 'x', username: 'ONE@acme.io' })), // same key as the first
    store.insert(alert({ exposureID: 'x', username: 'three@example.com' }))
  ])
  assert.deepEqual(commits, [4])
  assert.deepEqual(batch.map(r => [r.duplicate, r.test]), [[false, false], [false, false], [true, false], [false, true]])
  assert.equal(batch[2]!.id, batch[0]!.id)
  const again = await store.insert(alert({ exposureID: 'x', username: 'one@acme.io' }))
  assert.deepEqual(again, { id: batch[0]!.id, duplicate: true, test: false })
  assert.deepEqual(commits, [4, 1])
  assert.equal(store.get(batch[0]!.id)!.deliveries, 3)
  assert.equal(store.list().length, 3)
  assert.deepEqual(store.countByState(), { queued: 2, processing: 0, retrying: 0, done: 1, dead: 0 })
  assert.deepEqual(store.countByOutcome(), { test: 1 })
  assert.deepEqual(store.list({ state: 'done' }).map(r => r.email), ['three@example.com'])
  assert.deepEqual(store.list({ limit: 2 }).map(r => r.email), ['three@example.com', 'two@acme.io'], 'newest first')
})

test('a test alert is stored finished: done, outcome test, nothing due', async t => {
  const store = open(t, join(tmpDir(t), 'b.db'))
  const r = await store.insert(alert({ username: 'sample@email.tst' }))
  const rec = store.get(r.id)!
  assert.equal(rec.state, 'done')
  assert.equal(rec.outcome, 'test')
  assert.ok(rec.completedAt !== undefined)
  assert.equal(rec.nextAttemptAt, undefined)
  assert.equal(store.nextDueAt(), undefined)
  assert.deepEqual(store.claim('w', 10, 1000), [])
  assert.deepEqual(store.events(r.id).map(e => e.state), ['queued', 'done'])
})

test('what was committed survives closing and reopening; close() commits inserts still waiting', async t => {
  const file = join(tmpDir(t), 'b.db')
  const first = createSqliteStore({ file })
  const a = await first.insert(alert({ exposureID: 'p', username: 'persist@acme.io' }))
  const waiting = first.insert(alert({ exposureID: 'p', username: 'late@acme.io' })) // not yet flushed
  await first.close()
  const late = await waiting
  await assert.rejects(first.insert(alert({ username: 'closed@acme.io' })), { name: 'StoreUnavailableError' })
  await first.close() // idempotent

  const second = open(t, file)
  assert.equal(second.get(a.id)?.email, 'persist@acme.io')
  assert.equal(second.get(late.id)?.email, 'late@acme.io')
  assert.deepEqual(await second.insert(alert({ exposureID: 'p', username: 'persist@acme.io' })), { id: a.id, duplicate: true, test: false })
})

test('a locked database: the whole batch is refused with StoreUnavailableError, nothing half-written; then it recovers', async t => {
  const file = join(tmpDir(t), 'b.db')
  const commits: number[] = []
  const store = open(t, file, { busyTimeoutMs: 100, onCommit: n => commits.push(n) })
  await store.ping()
  const other = new Database(file)
  t.after(() => other.close())
  other.exec('BEGIN IMMEDIATE')
  const results = await Promise.allSettled([
    store.insert(alert({ exposureID: 'l', username: 'l1@acme.io' })),
    store.insert(alert({ exposureID: 'l', username: 'l2@acme.io' }))
  ])
  for (const r of results) {
    assert.equal(r.status, 'rejected')
    assert.equal((r.reason as Error).name, 'StoreUnavailableError')
    assert.equal((r.reason as { code?: string }).code, 'BRIDGE_STORE_UNAVAILABLE')
    assert.match(String(((r.reason as Error).cause as Error).message), /locked|busy/i)
  }
  await assert.rejects(store.ping(), { name: 'StoreUnavailableError' })
  assert.deepEqual(commits, [])
  other.exec('ROLLBACK')
  const ok = await store.insert(alert({ exposureID: 'l', username: 'l1@acme.io' }))
  assert.equal(ok.duplicate, false)
  assert.equal(store.list().length, 1)
  await store.ping()
})

test('a database from a newer bridge is refused with a clear error', t => {
  const file = join(tmpDir(t), 'b.db')
  const db = new Database(file)
  db.pragma('user_version = 99')
  db.close()
  assert.throws(() => createSqliteStore({ file }), /schema version 99 is newer than this bridge/)
})

test('worker lifecycle: claim with a lease, finish, retry, dead, replay, release, expired leases', async t => {
  const clock = { now: 1_700_000_000_000 }
  const store = open(t, join(tmpDir(t), 'b.db'), { now: () => clock.now })
  const ids = await Promise.all(['a', 'b', 'c', 'd'].map(async x => (await store.insert(alert({ exposureID: x, username: `${x}@acme.io` }))).id))
  assert.equal(store.nextDueAt(), clock.now)

  const claimed = store.claim('w1', 3, 60_000)
  assert.equal(claimed.length, 3)
  assert.ok(claimed.every(r => r.state === 'processing' && r.leaseOwner === 'w1' && r.attempts === 1))
  assert.equal(store.claim('w2', 10, 60_000).length, 1, 'only the unclaimed one is left for another worker')
  assert.deepEqual(store.claim('w2', 10, 60_000), [])
  const [a, b, c] = claimed.map(r => r.id) as [string, string, string]

  // Only the lease holder can finish.
  const finish = { outcome: 'no-user' as const, users: [], actions: [{ at: new Date(clock.now).toISOString(), action: 'lookup', status: 'ok' as const }] }
  assert.equal(store.finish(a, 'w2', finish), false)
  assert.equal(store.finish(a, 'w1', finish), true)
  assert.equal(store.finish(a, 'w1', finish), false, 'not twice')
  assert.equal(store.get(a)?.state, 'done')
  assert.equal(store.get(a)?.outcome, 'no-user')
  assert.deepEqual(store.get(a)?.actions, finish.actions)

  assert.equal(store.retry(b, 'w1', clock.now + 5000, 'FusionAuth 503', []), true)
  assert.equal(store.get(b)?.state, 'retrying')
  assert.equal(store.get(b)?.lastError, 'FusionAuth 503')
  assert.equal(store.claim('w1', 10, 60_000).length, 0, 'not due yet')
  clock.now += 5000
  const again = store.claim('w1', 10, 60_000)
  assert.deepEqual(again.map(r => [r.id, r.attempts]), [[b, 2]])
  assert.equal(store.kill(b, 'w1', 'retries exhausted', []), true)
  assert.equal(store.get(b)?.state, 'dead')
  assert.equal(store.get(b)?.outcome, 'failed')
  assert.deepEqual(store.replay('dead'), [b])
  assert.equal(store.get(b)?.state, 'queued')
  assert.equal(store.get(b)?.attempts, 0)
  assert.deepEqual(store.replay([b]), [], 'only dead alerts are replayed')

  // A lease that runs out (crashed worker) is claimed again by someone else.
  clock.now += 60_001
  const reclaimed = store.claim('w3', 10, 60_000).map(r => r.id).sort()
  assert.deepEqual(reclaimed, [b, c, ids[3]!].sort())
  assert.equal(store.finish(c, 'w1', finish), false, 'the old holder lost it')
  assert.equal(store.releaseAll('w3'), 3)
  // Released with the attempt refunded: b had none before (queued), c and d one each (retrying), all due now.
  assert.deepEqual(store.countByState(), { queued: 1, processing: 0, retrying: 2, done: 1, dead: 0 })
  assert.equal(store.get(c)?.attempts, 1)
  assert.equal(store.nextDueAt(), clock.now)
  assert.deepEqual(store.events(b).map(e => e.state), ['queued', 'processing', 'retrying', 'processing', 'dead', 'queued', 'processing', 'queued'])
})

test('exposure cache, meta values and changes made by another process', async t => {
  const clock = { now: 1_000_000 }
  const file = join(tmpDir(t), 'b.db')
  const store = open(t, file, { now: () => clock.now })
  store.putExposure('e1', { title: 'Breach', entries: 3 })
  assert.deepEqual(store.getExposure('e1', 1000), { title: 'Breach', entries: 3 })
  clock.now += 1001
  assert.equal(store.getExposure('e1', 1000), undefined, 'too old')
  assert.equal(store.getExposure('missing', 1000), undefined)

  store.setMeta('cursor', 'abc')
  assert.equal(store.getMeta('cursor'), 'abc')
  store.setMeta('cursor', undefined)
  assert.equal(store.getMeta('cursor'), undefined)

  store.changedElsewhere()
  assert.equal(store.changedElsewhere(), false)
  const other = new Database(file)
  other.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('from-cli', '1')
  other.close()
  assert.equal(store.changedElsewhere(), true)
  assert.equal(store.changedElsewhere(), false)
})
