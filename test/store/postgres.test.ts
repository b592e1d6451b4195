import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { startPostgres, type PgCluster } from '../fixtures/postgres.js'
import { createPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/index.js'
import { SCHEMA_VERSION } from '../../src/store/postgres/migrate.js'
import { migrateDatabase, openStore } from '../../src/store/index.js'
import type { Store } from '../../src/store/types.js'
import type { BreachAlert } from '../../src/alerts/types.js'
import { waitFor } from '../helper.js'
import { alert, storeContract } from './contract.js'

async function open (t: TestContext, url: string, options: Partial<PostgresStoreOptions> = {}): Promise<Store> {
  const store = await createPostgresStore({ url, pollMs: 1000, onConnectionError: () => undefined, ...options })
  t.after(() => store.close())
  return store
}

// One cluster for the whole file (a fresh database per case): started by the suite itself, never mocked.
test('PostgreSQL store', async t => {
  const cluster = await startPostgres(t)
  if (cluster === undefined) return
  const pgc: PgCluster = cluster

  await t.test('the contract', { concurrency: true }, async st => {
    await storeContract(st, {
      async fresh () {
        const url = await pgc.createDatabase()
        return { open: async (options = {}) => open(st, url, options) }
      }
    })
  })

  await t.test('what PostgreSQL cannot store (U+0000, a lone surrogate in jsonb) past intake\'s normalisation fails only its own row', async st => {
    const store = await open(st, await pgc.createDatabase())
    const good = Array.from({ length: 30 }, (_, i) => alert({ exposureID: `g${i}`, username: `g${i}@acme.io` }))
    const base = (id: string): BreachAlert => alert({ exposureID: id, username: `${id}@acme.io` })
    // Made after classify, so nothing makes them well-formed: each is one of the poisons.
    const poisons: Array<[BreachAlert, RegExp]> = [
      [{ ...base('p1'), email: 'p1\u0000@acme.io' }, /invalid byte sequence for encoding "UTF8": 0x00 \(SQLSTATE 22021\)/],
      [{ ...base('p2'), exposureDetails: { title: 'a\u0000b' } }, /unsupported Unicode escape sequence \(SQLSTATE 22P05\)/],
      [{ ...base('p3'), extra: { note: 'half \ud800 a pair' } }, /invalid input syntax for type json \(SQLSTATE 22P02\)/]
    ]
    const rows = [...good.slice(0, 10), poisons[0]![0], ...good.slice(10, 20), poisons[1]![0], ...good.slice(20), poisons[2]![0]]
    const settled = await Promise.allSettled(rows.map(a => store.alerts.insert(a)))
    const refused = [10, 21, 32].map(i => settled[i]!)
    for (const [i, r] of refused.entries()) {
      assert.equal(r.status, 'rejected')
      const reason = (r as PromiseRejectedResult).reason as Error
      assert.equal(reason.name, 'StoreDataError')
      assert.match(reason.message, poisons[i]![1])
    }
    const stored = settled.filter((_, i) => ![10, 21, 32].includes(i))
    assert.ok(stored.every(r => r.status === 'fulfilled'), 'every good row is stored')
    assert.equal((await store.alerts.list({ limit: 100 })).length, 30)
  })

  await t.test('replicas starting together migrate once, under the advisory lock', async st => {
    const url = await pgc.createDatabase()
    const stores = await Promise.all([1, 2, 3, 4].map(() => open(st, url)))
    assert.equal(stores.length, 4)
    const rows = await pgc.query('SELECT version FROM bridge_schema_migrations ORDER BY version', new URL(url).pathname.slice(1)) as Array<{ version: number }>
    assert.deepEqual(rows.map(r => r.version), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1))
    const again = await migrateDatabase(url)
    assert.deepEqual([again.kind, again.from, again.to], ['postgres', SCHEMA_VERSION, SCHEMA_VERSION])
  })

  await t.test('commands need a migrated schema; `migrate` brings it; a newer schema is refused', async st => {
    const url = await pgc.createDatabase()
    await assert.rejects(openStore(url, { role: 'command' }), /schema version 0 is older .*breach-bridge migrate/)
    const r = await migrateDatabase(url)
    assert.deepEqual([r.from, r.to], [0, SCHEMA_VERSION])
    const store = await openStore(url, { role: 'command' })
    st.after(() => store.close())
    await store.ping()
    await pgc.query(`INSERT INTO bridge_schema_migrations (version, name) VALUES (${SCHEMA_VERSION + 7}, 'future')`, new URL(url).pathname.slice(1))
    await assert.rejects(openStore(url, { role: 'serve' }), /newer than this bridge's/)
  })

  await t.test('the location never shows the password; connection errors name the server, not the secret', async st => {
    await pgc.query('CREATE ROLE bridge_app LOGIN PASSWORD \'s3cret-pw\'')
    const db = new URL(await pgc.createDatabase()).pathname.slice(1)
    await pgc.query(`GRANT ALL ON DATABASE "${db}" TO bridge_app; ALTER DATABASE "${db}" OWNER TO bridge_app`)
    const url = `postgres://bridge_app:s3cret-pw@127.0.0.1:${pgc.port}/${db}?sslmode=disable`
    const store = await open(st, url)
    assert.equal(store.location, `postgres://bridge_app:***@127.0.0.1:${pgc.port}/${db}?sslmode=disable`)
    const wrongPort = `postgres://bridge_app:s3cret-pw@127.0.0.1:1/${db}`
    await assert.rejects(createPostgresStore({ url: wrongPort, connectTimeoutMs: 2000 }), (err: Error) => {
      assert.equal(err.name, 'StoreUnavailableError')
      assert.ok(!err.message.includes('s3cret-pw'), err.message)
      assert.match(err.message, /127\.0\.0\.1:1/)
      return true
    })
  })

  await t.test('the LISTEN connection killed: it reconnects by itself and wakes the worker again', async st => {
    const url = await pgc.createDatabase()
    const store = await open(st, url, { pollMs: 60_000 })
    const writer = await open(st, url)
    let calls = 0
    store.changes.subscribe(() => { calls++ })
    await waitFor(() => calls >= 1, 'the first LISTEN connection')
    const db = new URL(url).pathname.slice(1)
    const killed = await pgc.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE datname = '${db}' AND query LIKE 'LISTEN%'`) as Array<{ ok: boolean }>
    assert.deepEqual(killed.map(k => k.ok), [true])
    const before = calls
    await waitFor(() => calls > before, 'the wake-up after reconnecting (notifications may have been missed)')
    const after = calls
    await writer.alerts.insert(alert({ exposureID: 'n', username: 'n@acme.io' }))
    await waitFor(() => calls > after, 'a notification on the new connection')
  })

  await t.test('PostgreSQL restarting: inserts are refused (never acknowledged) while it is down, then work without reopening', async st => {
    const url = await pgc.createDatabase()
    const store = await open(st, url, { connectTimeoutMs: 1000 })
    const { id } = await store.alerts.insert(alert({ exposureID: 'r0', username: 'r@acme.io' }))
    await pgc.stop('immediate')
    try {
      await assert.rejects(store.alerts.insert(alert({ exposureID: 'r1', username: 'r@acme.io' })), { name: 'StoreUnavailableError' })
      await assert.rejects(store.ping(), { name: 'StoreUnavailableError' })
      await assert.rejects(store.queue.claim('w', 1, 1000), { name: 'StoreUnavailableError' })
    } finally {
      await pgc.start()
    }
    const r = await waitFor(async () => store.alerts.insert(alert({ exposureID: 'r1', username: 'r@acme.io' })).catch(() => undefined), 'inserts to work again')
    assert.equal(r.duplicate, false, 'the refused insert was not stored')
    assert.equal((await store.alerts.get(id))?.email, 'r@acme.io', 'what was acknowledged before is there')
  })

  /**
   * A fresh database on a cluster whose WAL writer waits 10 s (wal_writer_delay; 200 ms by default) before it
   * flushes a commit that did not flush itself: only such a commit survives an immediate stop meanwhile.
   */
  async function slowWalWriter (st: TestContext): Promise<{ url: string, db: string }> {
    const url = await pgc.createDatabase()
    await pgc.query('ALTER SYSTEM SET wal_writer_delay = \'10s\'')
    await pgc.query('SELECT pg_reload_conf()')
    st.after(async () => {
      await pgc.start()
      await pgc.query('ALTER SYSTEM RESET wal_writer_delay')
      await pgc.query('SELECT pg_reload_conf()')
    })
    return { url, db: new URL(url).pathname.slice(1) }
  }

  await t.test('a claim the worker was answered survives a crash of PostgreSQL (its commit is flushed although the worker\'s bookkeeping may skip the flush): a lease token is never handed out twice', async st => {
    const { url, db } = await slowWalWriter(st)
    const store = await open(st, url, { asyncWorkerCommits: true, connectTimeoutMs: 1000 })
    const { id } = await store.alerts.insert(alert({ exposureID: 'c', username: 'c@acme.io' }))
    await store.outbox.add('dead:claim-test', 'dead', {})
    const [claimed] = await store.queue.claim('w1', 1, 60_000)
    const [message] = await store.outbox.claim('w1', 1, 60_000, ['dead'])
    assert.equal(claimed?.alert.id, id)
    assert.equal(message?.key, 'dead:claim-test')
    await pgc.stop('immediate')
    await pgc.start()
    const rows = await waitFor(async () => await pgc.query(`SELECT lease_owner, lease_token, attempts FROM alerts WHERE id = '${id}'`, db).catch(() => undefined), 'PostgreSQL back') as Array<Record<string, unknown>>
    assert.deepEqual(rows[0], { lease_owner: 'w1', lease_token: claimed!.lease.token, attempts: 1 }, 'the claim is there after the crash')
    const out = await pgc.query('SELECT lease_owner, lease_token FROM outbox WHERE key = \'dead:claim-test\'', db) as Array<Record<string, unknown>>
    assert.deepEqual(out[0], { lease_owner: 'w1', lease_token: message!.lease.token }, 'the outbox claim is there after the crash')
  })

  await t.test('an acknowledged alert survives a crash of PostgreSQL: the insert flushes its own commit, whatever the worker\'s bookkeeping skips', async st => {
    const { url, db } = await slowWalWriter(st)
    const store = await open(st, url, { asyncWorkerCommits: true, connectTimeoutMs: 1000 })
    const { id } = await store.alerts.insert(alert({ exposureID: 'a', username: 'acked@acme.io' }))
    await pgc.stop('immediate')
    await pgc.start()
    const rows = await waitFor(async () => await pgc.query(`SELECT email FROM alerts WHERE id = '${id}'`, db).catch(() => undefined), 'PostgreSQL back') as Array<Record<string, unknown>>
    assert.deepEqual(rows, [{ email: 'acked@acme.io' }], 'the alert whose insert was answered is there after the crash')
  })

  await t.test('a step\'s in-flight marker set by steps.start survives a crash of PostgreSQL although it runs on the worker\'s connections (its commit is flushed before it is answered), with the plan and results it carried', async st => {
    const { url, db } = await slowWalWriter(st)
    const store = await open(st, url, { asyncWorkerCommits: true, connectTimeoutMs: 1000 })
    const { id } = await store.alerts.insert(alert({ exposureID: 'm', username: 'm@acme.io' }))
    const [claimed] = await store.queue.claim('w1', 1, 60_000)
    assert.equal(claimed?.alert.id, id)
    const plan = [
      { userId: 'u1', tenantId: 't1', action: 'deactivate', phase: 'immediate' as const, dueInMs: 0 },
      { userId: 'u1', tenantId: 't1', action: 'revoke-sessions', phase: 'immediate' as const, dueInMs: 0 }
    ]
    // The attempt's first write: its plan and the first marker, the claim's flush already behind it.
    assert.equal(await store.steps.start(claimed!.lease, [{ userId: 'u1', action: 'deactivate' }], { plan }), true)
    await pgc.stop('immediate')
    await pgc.start()
    const rows = await waitFor(async () => await pgc.query(
      `SELECT s.action, s.started_at IS NOT NULL AS marked FROM steps s JOIN alerts a ON a.seq = s.alert_seq WHERE a.id = '${id}' ORDER BY s.seq`, db)
      .catch(() => undefined), 'PostgreSQL back') as Array<Record<string, unknown>>
    assert.deepEqual(rows, [{ action: 'deactivate', marked: true }, { action: 'revoke-sessions', marked: false }],
      'the plan and the marker are there after the crash: a resumed attempt knows the deactivation may have been made')
  })

  await t.test('an idle pool connection dropped by the server does not end the process', async st => {
    const url = await pgc.createDatabase()
    const errors: Error[] = []
    const store = await open(st, url, { onConnectionError: e => errors.push(e) })
    await store.ping()
    const db = new URL(url).pathname.slice(1)
    await pgc.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db}' AND pid <> pg_backend_pid()`)
    await waitFor(() => errors.length > 0, 'the pool to report the dropped connection')
    await store.ping()
  })

  await t.test('claims hold no transaction open: a claimed alert is not locked', async st => {
    const url = await pgc.createDatabase()
    const store = await open(st, url)
    await store.alerts.insert(alert({ exposureID: 'l', username: 'l@acme.io' }))
    const [c] = await store.queue.claim('w', 1, 60_000)
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    st.after(() => client.end())
    await client.query('SET lock_timeout = 200')
    const r = await client.query('SELECT id FROM alerts WHERE id = $1 FOR UPDATE NOWAIT', [c!.alert.id])
    assert.equal(r.rows.length, 1)
    const idle = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = \'idle in transaction\'')
    assert.equal(idle.rows[0].n, 0)
  })
})
