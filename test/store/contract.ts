// The store contract (docs/design.md §9): every backend runs these same cases against a real database.
// Durations are real and short (the PostgreSQL backend keeps time by the database's clock).
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { classify } from '../../src/intake/alert.js'
import type { BreachAlert, Finish, NewStep } from '../../src/alerts/types.js'
import { KV, OUTBOX_KEYS, type InsertResult, type Lease, type Store } from '../../src/store/types.js'
import { waitFor } from '../helper.js'

export interface StoreOptions {
  onCommit?: (inserts: number, seconds: number) => void
  pollMs?: number
  /** BRIDGE_TOMBSTONE_KEY. */
  tombstoneKey?: Buffer
}

/** A fresh, empty database of one backend; `open` may be called again for a second connection (another process). */
export interface Backend {
  fresh (t: TestContext): Promise<{ open (options?: StoreOptions): Promise<Store> }>
}

/** A parsed alert, as intake hands it to the store. */
export function alert (payload: Record<string, unknown>): BreachAlert {
  const c = classify(payload)
  assert.equal(c.kind, 'alert')
  return (c as { alert: BreachAlert }).alert
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const done: Finish = { outcome: 'no-user', users: [], actions: [{ at: '2026-01-01T00:00:00.000Z', action: 'lookup', status: 'skipped' }] }
const stale = (l: Lease): Lease => ({ ...l, token: l.token - 1 })

/**
 * Every case of the contract, on a fresh database each: they run side by side (`t` is created with
 * `{ concurrency: true }`), as most of their time is spent waiting for leases and due times to pass.
 */
export async function storeContract (t: TestContext, backend: Backend): Promise<void> {
  const subtests: Array<Promise<void>> = []
  async function world (st: TestContext, options?: StoreOptions): Promise<{ store: Store, open: (o?: StoreOptions) => Promise<Store> }> {
    const db = await backend.fresh(st)
    return { store: await db.open(options), open: db.open }
  }

  subtests.push(t.test('insert → get keeps every field; password material was never part of it', async st => {
    const { store } = await world(st)
    const before = Date.now()
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
    const r = await store.alerts.insert(a, { sourceIp: '203.0.113.9' })
    assert.deepEqual({ duplicate: r.duplicate, test: r.test }, { duplicate: false, test: false })
    assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7')
    const rec = (await store.alerts.get(r.id))!
    const received = Date.parse(rec.receivedAt)
    assert.ok(received >= before - 1000 && received <= Date.now() + 1000, 'received now (the database clock)')
    assert.equal(rec.nextAttemptAt, rec.receivedAt, 'due at once')
    assert.deepEqual({ ...rec, receivedAt: undefined, updatedAt: undefined, nextAttemptAt: undefined }, {
      id: r.id,
      source: 'enzoic',
      test: false,
      state: 'queued',
      receivedAt: undefined,
      updatedAt: undefined,
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
      nextAttemptAt: undefined,
      leaseOwner: undefined,
      leaseUntil: undefined,
      outcome: undefined,
      users: [],
      actions: [],
      lastError: undefined,
      completedAt: undefined,
      purgedAt: undefined
    })
    assert.ok(!JSON.stringify(rec).includes('never-stored'))
    assert.deepEqual(await store.alerts.events(r.id), [{ at: rec.receivedAt, state: 'queued', note: 'received' }])
    assert.equal(await store.alerts.get('no-such-id'), undefined)
    assert.deepEqual(await store.alerts.events('no-such-id'), [])
    const fa = await store.alerts.insert({ ...alert({ username: 'someone@acme.io' }), idempotencyKey: 'fusionauth-event:e1', source: 'fusionauth' })
    assert.equal((await store.alerts.get(fa.id))!.source, 'fusionauth', 'FusionAuth\'s own detection is told apart')
  }))

  subtests.push(t.test('inserts made together share one commit; duplicates inside and across batches find the first row', async st => {
    const commits: number[] = []
    const { store } = await world(st, { onCommit: n => commits.push(n) })
    const batch = await Promise.all([
      store.alerts.insert(alert({ exposureID: 'x', username: 'one@acme.io' })),
      store.alerts.insert(alert({ exposureID: 'x', username: 'two@acme.io' })),
      store.alerts.insert(alert({ exposureID: 'x', username: 'ONE@acme.io' })), // same key as the first
      store.alerts.insert(alert({ exposureID: 'x', username: 'three@example.com' }))
    ])
    assert.deepEqual(commits, [4])
    assert.deepEqual(batch.map(r => [r.duplicate, r.test]), [[false, false], [false, false], [true, false], [false, true]])
    assert.equal(batch[2]!.id, batch[0]!.id)
    const again = await store.alerts.insert(alert({ exposureID: 'x', username: 'one@acme.io' }))
    assert.deepEqual(again, { id: batch[0]!.id, duplicate: true, test: false })
    assert.deepEqual(commits, [4, 1])
    assert.equal((await store.alerts.get(batch[0]!.id))!.deliveries, 3)
    assert.equal((await store.alerts.list()).length, 3)
    assert.deepEqual(await store.alerts.countByState(), { queued: 2, processing: 0, retrying: 0, waiting: 0, done: 1, dead: 0 })
    assert.deepEqual(await store.alerts.countByOutcome(), { test: 1 })
    assert.deepEqual((await store.alerts.list({ state: 'done' })).map(r => r.email), ['three@example.com'])
    assert.deepEqual((await store.alerts.list({ limit: 2 })).map(r => r.email), ['three@example.com', 'two@acme.io'], 'newest first')
  }))

  subtests.push(t.test('a row the database refuses (a data error) fails alone: its batch neighbours commit, it is refused as data, not as an outage', async st => {
    const commits: number[] = []
    const { store } = await world(st, { onCommit: n => commits.push(n) })
    const good = Array.from({ length: 10 }, (_, i) => alert({ exposureID: `n${i}`, username: `n${i}@acme.io` }))
    // Past intake's checks: no idempotency key, which both schemas declare NOT NULL.
    const poison = { ...alert({ exposureID: 'poison', username: 'poison@acme.io' }), idempotencyKey: null as unknown as string }
    const inserts = [...good.slice(0, 5), poison, ...good.slice(5), good[0]!].map(a => store.alerts.insert(a))
    const settled = await Promise.allSettled(inserts)
    const refused = settled[5]!
    assert.equal(refused.status, 'rejected')
    assert.equal((refused as PromiseRejectedResult).reason.name, 'StoreDataError', String((refused as PromiseRejectedResult).reason))
    assert.match((refused as PromiseRejectedResult).reason.message, /^the alert cannot be stored/)
    const answers = settled.filter((_, i) => i !== 5).map(r => { assert.equal(r.status, 'fulfilled', String((r as PromiseRejectedResult).reason)); return (r as PromiseFulfilledResult<InsertResult>).value })
    assert.deepEqual(answers.map(a => a.duplicate), [...good.map(() => false), true], 'one row each; the repeat is a duplicate of the first')
    assert.equal(answers[10]!.id, answers[0]!.id)
    for (const [i, a] of answers.slice(0, 10).entries()) assert.equal((await store.alerts.get(a.id))?.email, `n${i}@acme.io`)
    assert.equal((await store.alerts.get(answers[0]!.id))!.deliveries, 2)
    assert.equal((await store.alerts.list({ limit: 100 })).length, 10, 'nothing of the refused row')
    assert.deepEqual(commits, [12], 'one commit for the batch, the refused row counted in it')
  }))

  subtests.push(t.test('the same alert from two connections at once (two replicas): one row, one id', async st => {
    const { store, open } = await world(st)
    const other = await open()
    const a = alert({ exposureID: 'race', username: 'race@acme.io' })
    for (let i = 0; i < 5; i++) {
      const b = alert({ exposureID: `race-${i}`, username: 'race@acme.io' })
      const [r1, r2] = await Promise.all([store.alerts.insert(b), other.alerts.insert(b)])
      assert.equal(r1.id, r2.id)
      assert.deepEqual([r1.duplicate, r2.duplicate].sort(), [false, true])
    }
    const [x, y] = await Promise.all([store.alerts.insert(a), other.alerts.insert(a)])
    assert.equal(x.id, y.id)
    assert.equal((await store.alerts.list({ limit: 100 })).length, 6)
    assert.equal((await other.alerts.get(x.id))!.deliveries, 2)
  }))

  subtests.push(t.test('list filters: state, outcome, email (or its hash), since, source, id prefix', async st => {
    const { store } = await world(st)
    const a = await store.alerts.insert(alert({ exposureID: 'f', username: 'Finder@Acme.io' }))
    const hashOnly = await store.alerts.insert(alert({ exposureID: 'f', usernameHash: alert({ username: 'finder@acme.io' }).usernameHash }))
    await sleep(20)
    const cut = Date.now()
    await sleep(20)
    const b = await store.alerts.insert(alert({ exposureID: 'f', username: 'other@acme.io' }))
    const t1 = await store.alerts.insert(alert({ exposureID: 'f', username: 'x@example.com' }))
    const ids = (list: Array<{ id: string }>): string[] => list.map(r => r.id)
    assert.deepEqual(ids(await store.alerts.list({ email: ' FINDER@acme.io' })), [hashOnly.id, a.id], 'by email or by its hash')
    assert.deepEqual(ids(await store.alerts.list({ since: cut })), [t1.id, b.id])
    assert.deepEqual(ids(await store.alerts.list({ outcome: 'test' })), [t1.id])
    assert.deepEqual(ids(await store.alerts.list({ state: 'queued', since: cut })), [b.id])
    assert.deepEqual(ids(await store.alerts.list({ idPrefix: b.id.slice(0, 30) })), [b.id])
    assert.equal((await store.alerts.list({ idPrefix: b.id.slice(0, 4) })).length, 4, 'all four share the time prefix')
    assert.deepEqual(await store.alerts.list({ idPrefix: '%' }), [], 'no wildcard of the caller\'s')
    assert.deepEqual(ids(await store.alerts.list({ limit: 1 })), [t1.id])
    const fromFusionAuth = await store.alerts.insert({ ...alert({ exposureID: 'fa', username: 'finder@acme.io' }), source: 'fusionauth', idempotencyKey: 'fusionauth:e1' })
    assert.deepEqual(ids(await store.alerts.list({ source: 'fusionauth' })), [fromFusionAuth.id])
    assert.equal((await store.alerts.list({ source: 'enzoic' })).length, 4)
    assert.equal((await store.alerts.get(fromFusionAuth.id))!.source, 'fusionauth')
  }))

  subtests.push(t.test('a test alert is stored finished: done, outcome test, nothing due', async st => {
    const { store } = await world(st)
    const r = await store.alerts.insert(alert({ username: 'sample@email.tst' }))
    const rec = (await store.alerts.get(r.id))!
    assert.equal(rec.state, 'done')
    assert.equal(rec.outcome, 'test')
    assert.ok(rec.completedAt !== undefined)
    assert.equal(rec.nextAttemptAt, undefined)
    assert.equal(await store.queue.nextDueIn(), undefined)
    assert.deepEqual(await store.queue.claim('w', 10, 1000), [])
    assert.deepEqual((await store.alerts.events(r.id)).map(e => e.state), ['queued', 'done'])
  }))

  subtests.push(t.test('what was committed survives closing and reopening; close() commits inserts still waiting', async st => {
    const { store: first, open } = await world(st)
    const a = await first.alerts.insert(alert({ exposureID: 'p', username: 'persist@acme.io' }))
    const waiting = first.alerts.insert(alert({ exposureID: 'p', username: 'late@acme.io' })) // not yet flushed
    await first.close()
    const late = await waiting
    await assert.rejects(first.alerts.insert(alert({ username: 'closed@acme.io' })), { name: 'StoreUnavailableError' })
    await first.close() // idempotent

    const second = await open()
    assert.equal((await second.alerts.get(a.id))?.email, 'persist@acme.io')
    assert.equal((await second.alerts.get(late.id))?.email, 'late@acme.io')
    assert.deepEqual(await second.alerts.insert(alert({ exposureID: 'p', username: 'persist@acme.io' })), { id: a.id, duplicate: true, test: false })
  }))

  subtests.push(t.test('queue: claim with a fenced lease, finish, retry, dead, replay, release', async st => {
    const { store } = await world(st)
    const ids = []
    for (const x of ['a', 'b', 'c', 'd']) ids.push((await store.alerts.insert(alert({ exposureID: x, username: `${x}@acme.io` }))).id)
    const due = await store.queue.nextDueIn()
    assert.ok(due !== undefined && due <= 0, `due now (${due})`)

    const claimed = await store.queue.claim('w1', 3, 60_000)
    assert.equal(claimed.length, 3)
    assert.deepEqual(claimed.map(c => c.alert.id), ids.slice(0, 3), 'oldest first')
    assert.ok(claimed.every(c => c.alert.state === 'processing' && c.alert.leaseOwner === 'w1' && c.alert.attempts === 1 && c.lease.owner === 'w1'))
    const leaseEnd = Date.parse(claimed[0]!.alert.leaseUntil!)
    assert.ok(leaseEnd > Date.now() + 50_000 && leaseEnd < Date.now() + 70_000, 'leased for a minute')
    assert.equal((await store.queue.claim('w2', 10, 60_000)).length, 1, 'only the unclaimed one is left for another worker')
    assert.deepEqual(await store.queue.claim('w2', 10, 60_000), [])
    const [a, b, c] = claimed as [typeof claimed[0], typeof claimed[0], typeof claimed[0]]

    // Only the holder of the current token can finish.
    assert.equal(await store.queue.finish(stale(a.lease), done), false)
    assert.equal(await store.queue.finish(a.lease, done), true)
    assert.equal(await store.queue.finish(a.lease, done), false, 'not twice')
    const fin = (await store.alerts.get(a.alert.id))!
    assert.deepEqual([fin.state, fin.outcome, fin.leaseOwner], ['done', 'no-user', undefined])
    assert.deepEqual(fin.actions, done.actions)

    // A delay of 1.5 s: the cases run side by side, and "not due yet" must hold however slow the next statements are.
    assert.equal(await store.queue.retry(b.lease, 1500, 'FusionAuth 503', []), true)
    const r = (await store.alerts.get(b.alert.id))!
    assert.deepEqual([r.state, r.lastError], ['retrying', 'FusionAuth 503'])
    assert.ok(Date.parse(r.nextAttemptAt!) - Date.parse(r.updatedAt) >= 1490, 'due after the delay')
    assert.equal((await store.queue.claim('w1', 10, 60_000)).length, 0, 'not due yet')
    const wait = (await store.queue.nextDueIn())!
    assert.ok(wait > 0 && wait <= 1500, `next due in ${wait} ms`)
    await sleep(wait + 50)
    const again = await store.queue.claim('w1', 10, 60_000)
    assert.deepEqual(again.map(x => [x.alert.id, x.alert.attempts]), [[b.alert.id, 2]])
    assert.ok(again[0]!.lease.token > b.lease.token, 'a new claim, a greater token')
    assert.equal(await store.queue.kill(b.lease, 'old token', []), false)
    assert.equal(await store.queue.kill(again[0]!.lease, 'retries exhausted', []), true)
    const dead = (await store.alerts.get(b.alert.id))!
    assert.deepEqual([dead.state, dead.outcome, dead.lastError], ['dead', 'failed', 'retries exhausted'])
    assert.deepEqual(await store.queue.replay('dead'), [b.alert.id])
    const replayed = (await store.alerts.get(b.alert.id))!
    assert.deepEqual([replayed.state, replayed.attempts, replayed.outcome], ['queued', 0, undefined])
    assert.deepEqual(await store.queue.replay([b.alert.id, 'no-such-id']), [], 'only dead alerts are replayed')

    // Release: due now again; a refund un-counts the attempt.
    assert.equal(await store.queue.release(c.lease, true), true)
    const rel = (await store.alerts.get(c.alert.id))!
    assert.deepEqual([rel.state, rel.attempts], ['queued', 0])
    assert.equal(await store.queue.release(c.lease, true), false, 'a released lease is gone')
    assert.deepEqual(await store.queue.leaseOwners(), ['w2'])
    assert.equal(await store.queue.releaseAll('w2', 'released at shutdown', true), 1)
    assert.deepEqual(await store.queue.leaseOwners(), [])
    assert.deepEqual(await store.alerts.countByState(), { queued: 3, processing: 0, retrying: 0, waiting: 0, done: 1, dead: 0 })
    assert.deepEqual((await store.alerts.events(b.alert.id)).map(e => e.state), ['queued', 'processing', 'retrying', 'processing', 'dead', 'queued'])
    assert.ok((await store.alerts.events(b.alert.id)).some(e => e.note === 'attempt 2 by w1'), 'history names the holder')
  }))

  subtests.push(t.test('expedite: alerts waiting for a retry become due now, nothing else moves', async st => {
    const { store } = await world(st)
    for (const x of ['e1', 'e2', 'e3']) await store.alerts.insert(alert({ exposureID: x, username: 'exp@acme.io' }))
    const [a, b, c] = await store.queue.claim('w', 3, 60_000) as [Awaited<ReturnType<Store['queue']['claim']>>[0], Awaited<ReturnType<Store['queue']['claim']>>[0], Awaited<ReturnType<Store['queue']['claim']>>[0]]
    await store.queue.retry(a.lease, 3_600_000, 'FusionAuth down', [])
    await store.queue.retry(b.lease, 3_600_000, 'FusionAuth down', [])
    assert.deepEqual(await store.queue.claim('w', 3, 60_000), [])
    assert.equal(await store.queue.expedite(), 2)
    assert.equal(await store.queue.expedite(), 0, 'already due')
    const again = (await store.queue.claim('w', 3, 60_000)).map(x => x.alert.id).sort()
    assert.deepEqual(again, [a.alert.id, b.alert.id].sort())
    assert.equal((await store.alerts.get(c.alert.id))!.state, 'processing', 'a leased alert is not touched')
  }))

  subtests.push(t.test('oldestQueuedAge: seconds since the oldest queued or retrying alert arrived', async st => {
    const { store } = await world(st)
    assert.equal(await store.queue.oldestQueuedAge(), undefined)
    const before = Date.now()
    await store.alerts.insert(alert({ exposureID: 'o1', username: 'o1@acme.io' }))
    await sleep(300)
    await store.alerts.insert(alert({ exposureID: 'o2', username: 'o2@acme.io' }))
    const age = (await store.queue.oldestQueuedAge())!
    // At least the sleep, at most the time this took (a loaded machine makes that long; the clock is the database's).
    assert.ok(age >= 0.25 && age <= (Date.now() - before) / 1000 + 1, `age ${age}`)
    const [first] = await store.queue.claim('w', 1, 60_000)
    await store.queue.retry(first!.lease, 60_000, 'x', [])
    assert.ok((await store.queue.oldestQueuedAge())! >= 0.25, 'a retrying alert still waits')
    const claimed = await store.queue.claim('w', 5, 60_000)
    assert.equal(claimed.length, 1)
    await store.queue.finish(claimed[0]!.lease, done)
    assert.ok((await store.queue.oldestQueuedAge())! >= 0.25)
    await store.alerts.insert(alert({ username: 'sample@email.tst' }))
    assert.ok((await store.queue.oldestQueuedAge())! >= 0.25, 'test alerts are not waiting')
  }))

  subtests.push(t.test('an expired lease is claimed again; the old holder can no longer change the alert', async st => {
    const { store } = await world(st)
    const { id } = await store.alerts.insert(alert({ exposureID: 'lease', username: 'lease@acme.io' }))
    const claimedAt = Date.now()
    const [first] = await store.queue.claim('w1', 1, 1000)
    assert.equal(first!.alert.id, id)
    // Renewal keeps it past the claim's own second (margins of a second or more: the cases run side by side).
    await sleep(100)
    assert.deepEqual(await store.queue.renew('w1', 4000, [first!.lease], true), [id])
    await sleep(Math.max(0, claimedAt + 1200 - Date.now()))
    assert.deepEqual(await store.queue.claim('w2', 1, 60_000), [], 'still leased after the renewal')
    // A last renewal of 1 ms: then the lease expires, and another claims it.
    assert.deepEqual(await store.queue.renew('w1', 1, [first!.lease], true), [id])
    await sleep(50)
    const [second] = await store.queue.claim('w2', 1, 60_000)
    assert.equal(second?.alert.id, id)
    assert.equal(second!.alert.attempts, 2)
    assert.deepEqual(await store.queue.renew('w1', 60_000, [first!.lease], true), [], 'the old holder renews nothing')
    assert.equal(await store.queue.finish(first!.lease, done), false, 'the old holder lost it')
    assert.equal(await store.queue.retry(first!.lease, 0, 'x', []), false)
    assert.equal(await store.queue.release(first!.lease, false), false)
    assert.equal((await store.alerts.get(id))!.leaseOwner, 'w2')
    assert.equal(await store.queue.finish(second!.lease, done), true)
  }))

  subtests.push(t.test('concurrent claimers never share an alert', async st => {
    const { store, open } = await world(st)
    const others = [store, await open(), await open()]
    const n = 60
    await Promise.all(Array.from({ length: n }, (_, i) => store.alerts.insert(alert({ exposureID: `c${i}`, username: `c${i}@acme.io` }))))
    const seen = new Map<string, string>()
    await Promise.all(others.flatMap((s, si) => [0, 1].map(async wi => {
      const owner = `w${si}.${wi}`
      for (;;) {
        const got = await s.queue.claim(owner, 3, 60_000)
        if (got.length === 0) return
        for (const g of got) {
          assert.equal(seen.get(g.alert.id), undefined, `${g.alert.id} claimed twice`)
          seen.set(g.alert.id, owner)
          assert.equal(await s.queue.finish(g.lease, done), true)
        }
      }
    })))
    assert.equal(seen.size, n)
    assert.deepEqual(await store.alerts.countByState(), { queued: 0, processing: 0, retrying: 0, waiting: 0, done: n, dead: 0 })
  }))

  subtests.push(t.test('change feed: own commits, another connection\'s commits, unsubscribe', async st => {
    const { store, open } = await world(st, { pollMs: 50 })
    let calls = 0
    const off = store.changes.subscribe(() => { calls++ })
    await sleep(300) // PostgreSQL: the LISTEN connection wakes once when it is up
    const base = calls
    await store.alerts.insert(alert({ exposureID: 'f1', username: 'feed@acme.io' }))
    await waitFor(() => calls > base, 'a wake-up after our own insert', 5000)
    const other = await open({ pollMs: 50 })
    const [c] = await other.queue.claim('cli', 1, 60_000)
    await other.queue.kill(c!.lease, 'x', [])
    const before = calls
    assert.deepEqual(await other.queue.replay('dead'), [c!.alert.id]) // e.g. `alerts replay` from the CLI
    await waitFor(() => calls > before, 'a wake-up after another connection replayed', 5000)
    off()
    const after = calls
    await other.alerts.insert(alert({ exposureID: 'f2', username: 'feed@acme.io' }))
    await store.alerts.insert(alert({ exposureID: 'f3', username: 'feed@acme.io' }))
    await sleep(300)
    assert.equal(calls, after, 'no calls after unsubscribing')
  }))

  subtests.push(t.test('steps: planned once per user and action under the lease, updated only by the holder, reported per user and exposure', async st => {
    const { store } = await world(st)
    const { id } = await store.alerts.insert(alert({ exposureID: 'steps', username: 'steps@acme.io' }))
    const [c] = await store.queue.claim('w1', 1, 60_000)
    assert.equal(c!.planned, false, 'a first claim: nothing planned yet')
    const plan = [
      { userId: 'u1', tenantId: 't1', email: 'steps@acme.io', action: 'deactivate', phase: 'immediate' as const, dueInMs: 0 },
      { userId: 'u1', tenantId: 't1', email: 'steps@acme.io', action: 'revoke-sessions', phase: 'immediate' as const, dueInMs: 0 },
      { userId: 'u2', tenantId: 't2', email: 'steps@acme.io', action: 'deactivate', phase: 'immediate' as const, dueInMs: 0, skipped: 'protected user' },
      { userId: 'u1', tenantId: 't1', email: 'steps@acme.io', action: 'deactivate-later', phase: 'grace' as const, dueInMs: 3_600_000 }
    ]
    const steps = (await store.steps.plan(c!.lease, plan))!
    assert.deepEqual(steps.map(x => [x.userId, x.action, x.phase, x.state, x.detail]), [
      ['u1', 'deactivate', 'immediate', 'pending', undefined],
      ['u1', 'revoke-sessions', 'immediate', 'pending', undefined],
      ['u2', 'deactivate', 'immediate', 'skipped', 'protected user'],
      ['u1', 'deactivate-later', 'grace', 'pending', undefined]
    ])
    const grace = Date.parse(steps[3]!.dueAt) - Date.parse(steps[0]!.dueAt)
    assert.ok(grace > 3_500_000 && grace < 3_700_000, `grace step due an hour later (${grace})`)
    assert.equal((await store.steps.plan(c!.lease, plan))!.length, 4, 'planning again adds nothing')
    assert.equal(await store.steps.plan(stale(c!.lease), plan), undefined, 'a stale lease plans nothing')

    assert.equal(await store.steps.update(c!.lease, steps[0]!.id, { state: 'done', httpStatus: 200, undo: { wasActive: true } }), true)
    assert.equal(await store.steps.update(stale(c!.lease), steps[1]!.id, { state: 'done' }), false, 'only the lease holder records')
    await store.steps.update(c!.lease, steps[1]!.id, { state: 'failed', detail: 'HTTP 400 [NotAllowed]', httpStatus: 400 })
    const listed = await store.steps.list(id)
    assert.deepEqual(listed.map(x => [x.state, x.httpStatus ?? null, x.undo ?? null]), [['done', 200, { wasActive: true }], ['failed', 400, null], ['skipped', null, null], ['pending', null, null]])
    assert.deepEqual(await store.steps.list('no-such-alert'), [])

    // The alert waits for its grace step; it is not claimable until then.
    // 1.5 s: the cases run side by side, and "not claimable yet" must hold however slow the statements between are.
    assert.equal(await store.queue.wait(c!.lease, 1500, [{ userId: 'u1', tenantId: 't1', outcome: 'actioned' }], [], 'grace period: deactivate-later due later'), true)
    const waiting = (await store.alerts.get(id))!
    assert.deepEqual([waiting.state, waiting.users.length], ['waiting', 1])
    assert.deepEqual(await store.alerts.countByState(), { queued: 0, processing: 0, retrying: 0, waiting: 1, done: 0, dead: 0 })
    assert.deepEqual(await store.queue.claim('w2', 1, 60_000), [])
    await sleep(1550)
    const [again] = await store.queue.claim('w2', 1, 60_000)
    assert.equal(again?.alert.id, id, 'claimed at the deadline like any due work')
    assert.equal(again!.planned, true, 'the claim says its steps are planned')
    assert.equal(again!.alert.attempts, 2)

    const report = await store.steps.report({})
    assert.deepEqual(report.map(r => [r.userId, r.tenantId, r.exposureId, r.source, r.alertIds, r.steps.map(x => x.state)]), [
      ['u1', 't1', 'steps', 'enzoic', [id], ['done', 'failed', 'pending']],
      ['u2', 't2', 'steps', 'enzoic', [id], ['skipped']]
    ])
    assert.deepEqual((await store.steps.report({ tenantId: 't2' })).map(r => r.userId), ['u2'])
    assert.deepEqual(await store.steps.report({ sinceMs: Date.now() + 60_000 }), [])
    assert.deepEqual(await store.steps.tenants(), ['t1', 't2'], 'the tenants of the steps, once each')
    assert.deepEqual(await store.steps.tenants('T2'), ['t2'], 'by prefix, in any case')
    assert.deepEqual(await store.steps.tenants('x'), [])
    assert.deepEqual(await store.steps.tenants('', 1), ['t1'])
  }))

  subtests.push(t.test('a step\'s in-flight marker: set only under the current, unexpired lease; cleared when the step is recorded', async st => {
    const { store } = await world(st)
    const { id } = await store.alerts.insert(alert({ exposureID: 'marker', username: 'marker@acme.io' }))
    const [c] = await store.queue.claim('w1', 1, 60_000)
    const [s1, s2] = (await store.steps.plan(c!.lease, [
      { userId: 'u1', action: 'deactivate', phase: 'immediate' as const, dueInMs: 0 },
      { userId: 'u1', action: 'revoke-sessions', phase: 'immediate' as const, dueInMs: 0 }
    ]))!
    assert.equal(await store.steps.begin(stale(c!.lease), s1!.id), false, 'a stale token marks nothing')
    assert.equal(await store.steps.begin(c!.lease, s1!.id), true)
    const marked = (await store.steps.list(id))[0]!
    assert.equal(marked.state, 'pending')
    assert.ok(marked.startedAt !== undefined && Math.abs(Date.parse(marked.startedAt) - Date.now()) < 60_000, 'the marker is a time')
    await store.steps.update(c!.lease, s1!.id, { state: 'done', httpStatus: 200 })
    assert.equal((await store.steps.list(id))[0]!.startedAt, undefined, 'recording the step clears its marker')
    // The lease expires by the store's clock (renewed for 1 ms): the holder's token is still current, but it may
    // not start a call.
    assert.deepEqual(await store.queue.renew('w1', 1, [c!.lease], true), [id])
    await sleep(50)
    assert.equal(await store.steps.begin(c!.lease, s2!.id), false, 'an expired lease marks nothing')
    assert.equal((await store.steps.list(id))[1]!.startedAt, undefined)
    // A renewal by the holder (its lease not yet claimed by another) makes it current again.
    assert.deepEqual(await store.queue.renew('w1', 60_000, [c!.lease], true), [id])
    assert.equal(await store.steps.begin(c!.lease, s2!.id), true)
  }))

  subtests.push(t.test('steps.start: a first attempt\'s plan and its results ride with the markers, one write under the current, unexpired lease', async st => {
    const { store } = await world(st)
    const { id } = await store.alerts.insert(alert({ exposureID: 'start', username: 'start@acme.io' }))
    const [c] = await store.queue.claim('w1', 1, 60_000)
    const deactivate = { userId: 'u1', action: 'deactivate' }
    const revoke = { userId: 'u1', action: 'revoke-sessions' }
    const plan = [
      { userId: 'u1', tenantId: 't1', email: 'start@acme.io', action: 'deactivate', phase: 'immediate' as const, dueInMs: 0 },
      { userId: 'u1', tenantId: 't1', email: 'start@acme.io', action: 'revoke-sessions', phase: 'immediate' as const, dueInMs: 0 },
      { userId: 'u2', tenantId: 't2', action: 'deactivate', phase: 'immediate' as const, dueInMs: 0, skipped: 'protected user', verdict: 'protected' },
      { userId: 'u3', tenantId: 't1', action: 'deactivate', phase: 'immediate' as const, dueInMs: 0, change: { state: 'skipped' as const, detail: 'already inactive' } },
      { userId: 'u1', tenantId: 't1', action: 'deactivate-later', phase: 'grace' as const, dueInMs: 3_600_000 }
    ]
    assert.equal(await store.steps.start(stale(c!.lease), [deactivate], { plan }), false, 'a stale token writes nothing')
    assert.deepEqual(await store.steps.list(id), [])
    assert.equal(await store.steps.start(c!.lease, [deactivate, revoke], { plan }), true)
    const listed = await store.steps.list(id)
    assert.deepEqual(listed.map(x => [x.userId, x.action, x.state, x.detail, x.result, x.startedAt !== undefined]), [
      ['u1', 'deactivate', 'pending', undefined, undefined, true],
      ['u1', 'revoke-sessions', 'pending', undefined, undefined, true],
      ['u2', 'deactivate', 'skipped', 'protected user', { verdict: 'protected' }, false],
      ['u3', 'deactivate', 'skipped', 'already inactive', undefined, false],
      ['u1', 'deactivate-later', 'pending', undefined, undefined, false]
    ])
    const grace = Date.parse(listed[4]!.dueAt) - Date.parse(listed[0]!.dueAt)
    assert.ok(grace > 3_500_000 && grace < 3_700_000, `the grace step due an hour later (${grace})`)
    assert.equal((await store.queue.claim('w2', 1, 60_000)).length, 0)

    // Results recorded since ride with the next marker; a marker without a result is cleared alone.
    const later = { userId: 'u1', action: 'deactivate-later' }
    const changes = [{ ...deactivate, change: { state: 'done' as const, httpStatus: 200, undo: { wasActive: true } } }, { ...revoke }]
    assert.equal(await store.steps.start(c!.lease, [later], { changes }), true)
    const after = await store.steps.list(id)
    assert.deepEqual(after.map(x => [x.action, x.state, x.httpStatus ?? null, x.undo ?? null, x.startedAt !== undefined]), [
      ['deactivate', 'done', 200, { wasActive: true }, false],
      ['revoke-sessions', 'pending', null, null, false],
      ['deactivate', 'skipped', null, null, false],
      ['deactivate', 'skipped', null, null, false],
      ['deactivate-later', 'pending', null, null, true]
    ])
    assert.equal(await store.steps.start(c!.lease, [deactivate], {}), false, 'a step that is not pending is not started')
    // The lease expires by the store's clock: the token is still current, but nothing is written nor started.
    const { id: other } = await store.alerts.insert(alert({ exposureID: 'start-expired', username: 'expired@acme.io' }))
    const [e] = await store.queue.claim('w3', 1, 1000)
    assert.equal(e!.alert.id, other)
    await sleep(1500)
    assert.equal(await store.steps.start(e!.lease, [deactivate], { plan: plan.slice(0, 1) }), false, 'an expired lease starts nothing')
    assert.deepEqual(await store.steps.list(other), [])
  }))

  subtests.push(t.test('the transitions carry the attempt\'s step writes: written with the transition, not at all when the lease is lost', async st => {
    const { store } = await world(st)
    const a = await store.alerts.insert(alert({ exposureID: 'carry', username: 'carry-a@acme.io' }))
    const b = await store.alerts.insert(alert({ exposureID: 'carry', username: 'carry-b@acme.io' }))
    const claims = await store.queue.claim('w1', 2, 60_000)
    const lease = (id: string): Lease => claims.find(c => c.alert.id === id)!.lease
    const plan = [
      { userId: 'u1', action: 'deactivate', phase: 'immediate' as const, dueInMs: 0, change: { state: 'done' as const, httpStatus: 200, undo: { wasActive: true } } },
      { userId: 'u1', action: 'revoke-sessions', phase: 'immediate' as const, dueInMs: 0, change: { state: 'failed' as const, detail: 'HTTP 400', httpStatus: 400 } }
    ]
    assert.equal(await store.queue.finish(stale(lease(a.id)), done, { plan }), false)
    assert.deepEqual(await store.steps.list(a.id), [], 'a lost lease writes no step')
    assert.equal(await store.queue.kill(lease(a.id), 'FusionAuth refused revoke-sessions', [], { outcome: 'failed' }, { plan }), true)
    assert.deepEqual((await store.steps.list(a.id)).map(x => [x.action, x.state, x.httpStatus, x.undo ?? null]), [
      ['deactivate', 'done', 200, { wasActive: true }], ['revoke-sessions', 'failed', 400, null]
    ])

    // A retry carries the results so far and clears the marker of a call that certainly did not happen.
    const deactivate = { userId: 'u1', action: 'deactivate' }
    const revoke = { userId: 'u1', action: 'revoke-sessions' }
    const pending = plan.map(({ change: _, ...p }) => p)
    assert.equal(await store.steps.start(lease(b.id), [deactivate, revoke], { plan: pending }), true)
    const changes = [{ ...deactivate, change: { state: 'done' as const, httpStatus: 200 } }, revoke]
    assert.equal(await store.queue.retry(lease(b.id), 60_000, 'HTTP 503', [], { changes }), true)
    assert.deepEqual((await store.steps.list(b.id)).map(x => [x.action, x.state, x.startedAt !== undefined]), [['deactivate', 'done', false], ['revoke-sessions', 'pending', false]])
    assert.equal((await store.alerts.get(b.id))!.state, 'retrying')
    await store.queue.expedite()
    const [again] = await store.queue.claim('w2', 1, 60_000)
    assert.equal(again!.planned, true)
    const done2 = { ...done, outcome: 'actioned' as const }
    assert.equal(await store.queue.finish(again!.lease, done2, { changes: [{ ...revoke, change: { state: 'done', httpStatus: 200 } }] }), true)
    assert.deepEqual((await store.steps.list(b.id)).map(x => x.state), ['done', 'done'])
    assert.deepEqual([(await store.alerts.get(b.id))!.state, (await store.alerts.get(b.id))!.outcome], ['done', 'actioned'])
  }))

  subtests.push(t.test('takeover: an operator claims an alert in any state unless a worker holds it now', async st => {
    const { store } = await world(st)
    const { id } = await store.alerts.insert(alert({ exposureID: 'op', username: 'op@acme.io' }))
    const [c] = await store.queue.claim('worker', 1, 60_000)
    assert.equal(await store.queue.takeover(id, 'cli/alice', 30_000), 'busy')
    assert.equal(await store.queue.takeover('no-such-alert', 'cli/alice', 30_000), undefined)
    await store.queue.finish(c!.lease, done)
    const taken = await store.queue.takeover(id, 'cli/alice', 30_000)
    assert.ok(taken !== undefined && taken !== 'busy')
    assert.deepEqual([taken.alert.state, taken.alert.attempts, taken.lease.owner], ['processing', 1, 'cli/alice'], 'no attempt counted')
    assert.equal(await store.queue.finish(c!.lease, done), false, 'the worker\'s old lease is void')
    assert.equal(await store.queue.finish(taken.lease, { outcome: 'restored', users: [], actions: [], note: 'restored by alice: false positive' }), true)
    const history = await store.alerts.events(id)
    assert.ok(history.some(e => e.note === 'taken over by cli/alice'))
    assert.equal(history.at(-1)!.note, 'restored by alice: false positive')
    assert.equal((await store.alerts.get(id))!.outcome, 'restored')
  }))

  subtests.push(t.test('outbox: each key once, delivered at least once under a lease, retried until sent', async st => {
    const { store, open } = await world(st)
    assert.equal(await store.outbox.add('digest:1', 'digest', { n: 1 }), true)
    assert.equal(await store.outbox.add('digest:1', 'digest', { n: 'again' }), false, 'one message per key, whichever replica adds it')
    await store.outbox.add('dead:a', 'dead', { id: 'a' })
    const other = await open()
    const [first] = await store.outbox.claim('r1', 1, 60_000, ['digest'])
    assert.deepEqual([first!.key, first!.payload, first!.attempts], ['digest:1', { n: 1 }, 1])
    const rest = await other.outbox.claim('r2', 5, 60_000, ['digest', 'dead'])
    assert.deepEqual(rest.map(o => o.key), ['dead:a'], 'another replica gets the others')
    assert.equal(await store.outbox.retry(first!.lease, 1500, 'receiver answered 502'), true)
    assert.deepEqual(await store.outbox.claim('r1', 5, 60_000, ['digest']), [], 'not due yet')
    await sleep(1550)
    const [again] = await other.outbox.claim('r2', 5, 60_000, ['digest'])
    assert.deepEqual([again!.key, again!.attempts], ['digest:1', 2])
    assert.equal(await store.outbox.sent(first!.lease), false, 'a stale lease cannot mark it sent')
    assert.equal(await other.outbox.sent(again!.lease), true)
    assert.equal(await other.outbox.sent(rest[0]!.lease), true)
    await sleep(20)
    assert.deepEqual(await store.outbox.claim('r1', 5, 0, ['digest', 'dead']), [], 'sent messages are never claimed again')
    assert.equal(await store.outbox.add('digest:1', 'digest', { n: 'late' }), false, 'a sent message\'s key is still known')
  }))

  subtests.push(t.test('outbox: each consumer claims only its own kinds, oldest first; a sent message keeps no payload', async st => {
    const { store } = await world(st)
    await store.outbox.add('fusionauth-event:1', 'fusionauth.enrolment', { emails: ['u1@corp.io'] })
    await store.outbox.add('digest:9', 'digest', { n: 9 })
    await store.outbox.add('fusionauth-event:2', 'fusionauth.enrolment', { emails: ['u2@corp.io'] })
    const digest = await store.outbox.claim('r1', 5, 60_000, ['digest', 'dead'])
    assert.deepEqual(digest.map(i => i.key), ['digest:9'])
    const events = await store.outbox.claim('r2', 5, 60_000, ['fusionauth.enrolment'])
    assert.deepEqual(events.map(i => i.key), ['fusionauth-event:1', 'fusionauth-event:2'], 'in the order they were added')
    assert.equal(await store.outbox.sent(events[0]!.lease), true)
    assert.equal(await store.outbox.retry(events[1]!.lease, 0, 'Enzoic answered 503'), true)
    await sleep(20)
    const again = await store.outbox.claim('r2', 5, 60_000, ['fusionauth.enrolment'])
    assert.deepEqual(again.map(i => [i.key, i.payload]), [['fusionauth-event:2', { emails: ['u2@corp.io'] }]], 'an unsent one keeps its payload')
    assert.equal(await store.outbox.sent(again[0]!.lease), true)
    if (store.kind === 'sqlite') {
      // The payload of a delivered message is gone from the row (personal data kept no longer than needed).
      const { default: Database } = await import('better-sqlite3')
      const db = new Database(store.location, { readonly: true })
      try {
        const payloads = db.prepare("SELECT payload FROM outbox WHERE key LIKE 'fusionauth-event:%'").all() as Array<{ payload: string }>
        assert.deepEqual(payloads.map(p => p.payload), ['{}', '{}'])
      } finally {
        db.close()
      }
    }
  }))

  subtests.push(t.test('outbox: the leases of a holder that is gone are given back at once, not at expiry', async st => {
    const { store } = await world(st)
    await store.outbox.add('dead-holder:1', 'digest', { n: 1 })
    await store.outbox.add('dead-holder:2', 'digest', { n: 2 })
    const held = await store.outbox.claim('host/123/digest', 5, 120_000, ['digest'])
    assert.equal(held.length, 2)
    assert.deepEqual(await store.outbox.claim('host/456/digest', 5, 120_000, ['digest']), [], 'leased: not due before expiry')
    assert.deepEqual(await store.outbox.leaseOwners(), ['host/123/digest'])
    assert.equal(await store.outbox.sent(held[0]!.lease), true)
    assert.equal(await store.outbox.releaseAll('host/123/digest'), 1, 'only the unsent one')
    const again = await store.outbox.claim('host/456/digest', 5, 120_000, ['digest'])
    assert.deepEqual(again.map(i => i.key), ['dead-holder:2'])
    assert.equal(await store.outbox.sent(held[1]!.lease), false, 'the gone holder can no longer mark it sent')
    assert.deepEqual(await store.outbox.leaseOwners(), ['host/456/digest'])
  }))

  subtests.push(t.test('summary: what finished in a window, by outcome, with the first few alerts and their users', async st => {
    const { store } = await world(st)
    const from = Date.now() - 1000
    for (const x of ['s1', 's2', 's3']) await store.alerts.insert(alert({ exposureID: x, username: `${x}@acme.io` }))
    const claimed = await store.queue.claim('w', 3, 60_000)
    await store.queue.finish(claimed[0]!.lease, { outcome: 'actioned', users: [{ userId: 'u1', email: 's1@acme.io', outcome: 'actioned' }], actions: [] })
    await store.queue.finish(claimed[1]!.lease, { outcome: 'no-user', users: [], actions: [] })
    await store.queue.kill(claimed[2]!.lease, 'HTTP 400', [])
    const sum = await store.alerts.summary(from, Date.now() + 1000, 2)
    assert.deepEqual(sum.byOutcome, { actioned: 1, 'no-user': 1, failed: 1 })
    assert.deepEqual(sum.alerts.map(a => [a.id, a.outcome, a.users.map(u => u.userId)]), [[claimed[0]!.alert.id, 'actioned', ['u1']], [claimed[1]!.alert.id, 'no-user', []]])
    assert.deepEqual([sum.dead, sum.waiting], [1, 0])
    assert.deepEqual((await store.alerts.summary(from - 60_000, from, 5)).byOutcome, {}, 'nothing before the window')
  }))

  subtests.push(t.test('key/value and the exposure cache', async st => {
    const { store, open } = await world(st)
    await store.exposures.put('e1', { title: 'Breach', entries: 3 })
    assert.deepEqual(await store.exposures.get('e1', 60_000), { title: 'Breach', entries: 3 })
    await sleep(30)
    assert.equal(await store.exposures.get('e1', 10), undefined, 'too old')
    assert.equal(await store.exposures.get('missing', 60_000), undefined)
    await store.exposures.put('e1', { title: 'Breach v2' })
    assert.deepEqual(await store.exposures.get('e1', 10_000), { title: 'Breach v2' })

    await store.kv.set('cursor', 'abc')
    assert.equal(await store.kv.get('cursor'), 'abc')
    assert.equal(await (await open()).kv.get('cursor'), 'abc', 'visible to another connection')
    await store.kv.set('cursor', 'def')
    assert.equal(await store.kv.get('cursor'), 'def')
    await store.kv.set('cursor', undefined)
    assert.equal(await store.kv.get('cursor'), undefined)
    const twice = await Promise.all([store.kv.putIfAbsent('notified:u1:e1', 'a'), (await open()).kv.putIfAbsent('notified:u1:e1', 'b')])
    assert.deepEqual(twice.sort(), [false, true], 'exactly one claim wins')
    assert.ok(['a', 'b'].includes((await store.kv.get('notified:u1:e1'))!))
    await store.ping()
  }))

  subtests.push(t.test('purge: finished alerts lose their personal data, the tombstone keeps a re-delivery a duplicate', async st => {
    const { store } = await world(st)
    const kept = await store.alerts.insert(alert({ exposureID: 'k', username: 'keep@acme.io' }))
    const gone = await store.alerts.insert(alert({ exposureID: 'g', username: 'gone@acme.io', customData: 'fusionauth:x:y', exposureDetails: { title: 'Big' }, region: 'eu' }), { sourceIp: '198.51.100.7' })
    const dead = await store.alerts.insert(alert({ exposureID: 'd', username: 'dead@acme.io' }))
    const claims = await store.queue.claim('w', 3, 60_000)
    const lease = (id: string): Lease => claims.find(c => c.alert.id === id)!.lease
    assert.equal(await store.queue.finish(lease(gone.id), { outcome: 'actioned', users: [{ userId: 'u1', email: 'gone@acme.io', outcome: 'actioned' }], actions: done.actions }), true)
    assert.equal(await store.queue.kill(lease(dead.id), 'FusionAuth said no about dead@acme.io', []), true)
    await store.queue.release(lease(kept.id), true)

    assert.equal((await store.alerts.purge({ olderThanMs: 60_000 })).purged, 0, 'nothing old enough')
    await sleep(20)
    assert.equal((await store.alerts.purge({ olderThanMs: 10 })).purged, 2)
    const tomb = (await store.alerts.get(gone.id))!
    assert.ok(tomb.purgedAt !== undefined)
    assert.deepEqual([tomb.state, tomb.outcome, tomb.exposureId], ['done', 'actioned', 'g'])
    const tombstoneFields = [tomb.email, tomb.usernameHash, tomb.customData, tomb.exposureDetails, tomb.extra, tomb.sourceIp, tomb.lastError]
    for (const v of tombstoneFields) assert.equal(v, undefined)
    assert.deepEqual([tomb.users, tomb.actions, tomb.warnings], [[], [], []])
    const text = JSON.stringify([await store.alerts.list({ limit: 10 }), await store.alerts.events(gone.id), await store.alerts.events(dead.id)])
    assert.ok(!text.includes('gone@') && !text.includes('dead@'), 'no email left in records or history')
    assert.ok(text.includes('keep@acme.io'), 'unfinished alerts keep theirs')
    const again = await store.alerts.insert(alert({ exposureID: 'g', username: 'gone@acme.io', customData: 'fusionauth:x:y' }))
    assert.deepEqual(again, { id: gone.id, duplicate: true, test: false }, 'a late re-delivery stays a duplicate')
    assert.deepEqual(await store.queue.replay('dead'), [], 'a purged dead alert cannot be replayed (nothing left to act on)')
    assert.equal((await store.alerts.purge({ olderThanMs: 10 })).purged, 0, 'purge is idempotent')
  }))
  subtests.push(t.test('purge: the notify-ledger rows an alert holds and the operator messages that name it go with it', async st => {
    const { store } = await world(st)
    const gone = await store.alerts.insert(alert({ exposureID: 'g', username: 'gone@acme.io' }))
    const kept = await store.alerts.insert(alert({ exposureID: 'k', username: 'kept@acme.io' }))
    const claims = await store.queue.claim('w', 2, 60_000)
    const lease = (id: string): Lease => claims.find(c => c.alert.id === id)!.lease
    const notify = (userId: string): NewStep => ({ userId, tenantId: 't1', email: 'x@acme.io', action: 'notify-user:tpl', phase: 'immediate', dueInMs: 0 })
    await store.steps.plan(lease(gone.id), [notify('u1'), notify('u2')])
    await store.steps.plan(lease(kept.id), [notify('u3')])
    const holds = (alertId: string): string => JSON.stringify({ alertId, at: new Date().toISOString() })
    await store.kv.putIfAbsent(KV.notified('t1', 'u1', 'g'), holds(gone.id))
    await store.kv.putIfAbsent(KV.notified('t1', 'u2', 'g'), holds('another-alert-of-exposure-g'))
    await store.kv.putIfAbsent(KV.notified('t1', 'u3', 'k'), holds(kept.id))
    await store.queue.finish(lease(gone.id), done)
    await store.queue.release(lease(kept.id), true)
    await store.outbox.add('paused:w:old', 'paused', { text: 'made before the cut-off' })
    await store.outbox.add('fusionauth-event:old-unsent', 'fusionauth.enrolment', { emails: ['x@acme.io'] })
    await sleep(1100)
    const completed = Date.parse((await store.alerts.get(gone.id))!.completedAt!)
    await store.outbox.add(OUTBOX_KEYS.dead(gone.id, completed), 'dead', { alertId: gone.id })
    await store.outbox.add(OUTBOX_KEYS.dead(kept.id, completed), 'dead', { alertId: kept.id })
    await store.outbox.add(OUTBOX_KEYS.digest(completed - 500), 'digest', { text: 'gone@acme.io was done', alerts: [{ id: gone.id }] })
    const later = OUTBOX_KEYS.digest(Date.now() + 120_000)
    await store.outbox.add(later, 'digest', { text: 'a later window' })

    assert.equal((await store.alerts.purge({ olderThanMs: 1000 })).purged, 1)
    assert.equal(await store.kv.get(KV.notified('t1', 'u1', 'g')), undefined, 'the ledger row the purged alert held')
    assert.ok(await store.kv.get(KV.notified('t1', 'u2', 'g')), 'a row of its user and exposure held by another alert stays')
    assert.ok(await store.kv.get(KV.notified('t1', 'u3', 'k')), 'an unfinished alert keeps its own')
    const left = (await store.outbox.claim('check', 100, 60_000, ['digest', 'dead', 'paused', 'fusionauth.enrolment'])).map(m => m.key).sort()
    assert.deepEqual(left, [OUTBOX_KEYS.dead(kept.id, completed), later, 'fusionauth-event:old-unsent'].sort(),
      'its dead message, the digest of its window and the operator message older than the cut-off are gone; unsent work stays')
  }))

  subtests.push(t.test('tombstones under a key (BRIDGE_TOMBSTONE_KEY): re-deliveries recognised only with the key; older unkeyed tombstones keyed by the next purge', async st => {
    const key = Buffer.from('a tombstone key kept outside the database')
    const { store: keyless, open } = await world(st)
    const keyed = await open({ tombstoneKey: key })
    const finishAll = async (s: Store): Promise<void> => { for (const c of await s.queue.claim('w', 10, 60_000)) await s.queue.finish(c.lease, done) }
    const old = alert({ exposureID: 'before-the-key', username: 'old@acme.io' })
    const made = await keyless.alerts.insert(old)
    await finishAll(keyless)
    await sleep(20)
    assert.equal((await keyless.alerts.purge({ olderThanMs: 10 })).purged, 1, 'purged before any key was set: its tombstone is the plain SHA-256')
    assert.deepEqual(await keyed.alerts.insert(old), { id: made.id, duplicate: true, test: false }, 'still recognised with the key')

    const later = alert({ exposureID: 'after-the-key', username: 'new@acme.io', customData: 'crm-1' })
    const laterRow = await keyed.alerts.insert(later)
    await finishAll(keyed)
    await sleep(20)
    assert.equal((await keyed.alerts.purge({ olderThanMs: 10 })).purged, 1)
    assert.deepEqual(await keyed.alerts.insert(later), { id: laterRow.id, duplicate: true, test: false }, 'a late re-delivery: a duplicate')
    assert.deepEqual(await keyed.alerts.insert(old), { id: made.id, duplicate: true, test: false }, 'the older tombstone, now keyed too')
    assert.equal((await keyed.alerts.get(laterRow.id))!.deliveries, 2)

    // Without the key (lost, or never given) nothing in the tombstones matches: they hold no hash anyone can recompute.
    for (const a of [later, old]) {
      const r = await keyless.alerts.insert(a)
      assert.equal(r.duplicate, false, 'not recognised without the key the tombstone was made with')
      assert.ok(r.id !== laterRow.id && r.id !== made.id)
    }
  }))

  await Promise.all(subtests)
}
