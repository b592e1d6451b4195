// A locked table or a stalled PostgreSQL: the webhook answers 503 + Retry-After within its commit deadline (never
// hangs until the socket is cut), the server ends the bridge's waiting statements itself (no abandoned backends),
// and the bridge never holds more connections than its pools allow (issue: "a long PostgreSQL lock or stall").
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { startPostgres } from '../fixtures/postgres.js'
import { postAlert, startTestBridge, tmpDir, waitFor } from '../helper.js'

const DEADLINE_MS = 1500
const STORE = { insertDeadlineMs: DEADLINE_MS, statementTimeoutMs: 3000, lockTimeoutMs: 1000 }
/** The bridge's pools: 10 connections each (webhook inserts and commands; the worker's bookkeeping), plus LISTEN. */
const MAX_CONNECTIONS = 21

test('PostgreSQL locked or stalled: 503 + Retry-After within the deadline, no abandoned backend, connections bounded', async t => {
  const pgc = await startPostgres(t)
  if (pgc === undefined) return
  const url = await pgc.createDatabase()
  const database = new URL(url).pathname.slice(1)
  const bridge = await startTestBridge(t, { BRIDGE_DATABASE: url }, tmpDir(t), { store: STORE })
  assert.equal((await postAlert(bridge.url, { exposureID: 'before', username: 'before@acme.io' })).status, 200)

  const admin = new pg.Client({ connectionString: url, ssl: false })
  admin.on('error', () => {})
  await admin.connect()
  t.after(() => admin.end().catch(() => {}))
  const bridgeBackends = async (where = 'true'): Promise<number> => Number((await pgc.query(
    `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'enzoic-fusionauth-bridge' AND ${where}`, database) as Array<{ n: string }>)[0]!.n)

  /** 20 deliveries at once; each must be answered 503 + Retry-After, none later than the deadline allows. */
  const burst = async (tag: string): Promise<void> => {
    const started = Date.now()
    const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) => await postAlert(bridge.url, { exposureID: `${tag}-${i}`, username: `${tag}-${i}@acme.io` })))
    const tookMs = Date.now() - started
    for (const a of answers) {
      assert.equal(a.status, 503, JSON.stringify(a.body))
      assert.match(a.headers.get('retry-after') ?? '', /^\d+$/)
    }
    assert.ok(tookMs < DEADLINE_MS + 2500, `answered after ${tookMs} ms`)
    assert.ok(await bridgeBackends() <= MAX_CONNECTIONS, 'the bridge stays within its pools')
  }

  await t.test('a table lock held longer than the deadline', async () => {
    await admin.query('BEGIN')
    await admin.query('LOCK TABLE alerts IN ACCESS EXCLUSIVE MODE')
    await burst('locked')
    // The server itself gives up the bridge's lock waits (lock_timeout): none is left waiting behind the lock.
    await waitFor(async () => await bridgeBackends('wait_event_type = \'Lock\'') === 0, 'no bridge backend waiting on the lock', 5000, 100)
    assert.ok(await bridgeBackends() <= MAX_CONNECTIONS)
    await admin.query('ROLLBACK')
    const after = await postAlert(bridge.url, { exposureID: 'after-lock', username: 'after-lock@acme.io' })
    assert.equal(after.status, 200)
  })

  await t.test('a stalled server (a trigger sleeping in every insert)', async () => {
    await admin.query('CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(20); RETURN NEW; END $$')
    await admin.query('CREATE TRIGGER stall BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION stall()')
    await burst('stalled')
    // statement_timeout ends the sleeping inserts on the server, well before the 20 s sleep would.
    await waitFor(async () => await bridgeBackends('wait_event = \'PgSleep\'') === 0, 'no bridge backend still sleeping', 6000, 100)
    await admin.query('DROP TRIGGER stall ON alerts')
    const after = await postAlert(bridge.url, { exposureID: 'after-stall', username: 'after-stall@acme.io' })
    assert.equal(after.status, 200)
    assert.equal(after.body.status, 'accepted')
    // The refused deliveries were refused: Enzoic's retry of one is a new alert, not a duplicate of a half-stored one.
    const retried = await postAlert(bridge.url, { exposureID: 'stalled-0', username: 'stalled-0@acme.io' })
    assert.equal(retried.status, 200)
  })
})
