// Issue 17, "intake that one byte cannot jam": a U+0000 or a lone surrogate in an alert used to fail its whole group
// commit on PostgreSQL (503 for every alert that shared the batch, on every delivery). Intake now makes every string
// well-formed (alerts/normalise.ts), and a batch that still meets a data error is retried row by row (store tests).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { startPostgres } from '../fixtures/postgres.js'
import { randomUUID } from 'node:crypto'
import { postAlert, startTestBridge, tmpDir, type TestBridge } from '../helper.js'
import { fusionAuthEvent, postEvent } from '../fakes/fusionauth-events.js'

/** Every string of the poison is one PostgreSQL refuses as it is: U+0000 in text and jsonb, lone surrogates in jsonb. */
const POISON = {
  exposureID: 'poison\u0000exposure',
  username: 'poison\u0000@acme.io',
  customData: 'crm\u0000\ud800',
  exposureDetails: { title: 'Breach \ud800 of \u0000 doom', exposedData: ['Emails\udc00', 'Pass\u0000words'], source: '\udbff' },
  'key\u0000with\ud800nul': { deeper: ['\u0000', '\ud800\udc00 is a pair'] }
}

/** Well-formed, U+0000-free text: what every stored string must be. */
const wellFormed = (text: string): boolean => text.isWellFormed() && !text.includes('\u0000')

async function sendAmongGood (t: TestContext, bridge: TestBridge, tag: string): Promise<void> {
  const good = Array.from({ length: 40 }, (_, i) => ({ exposureID: `${tag}-${i}`, username: `good-${i}@acme.io` }))
  const bodies = [...good.slice(0, 20), POISON, ...good.slice(20)]
  const answers = await Promise.all(bodies.map(async body => await postAlert(bridge.url, body)))
  const poison = answers[20]!
  const goods = answers.filter((_, i) => i !== 20)
  t.diagnostic(`good alerts answered 200: ${goods.filter(a => a.status === 200).length} of ${goods.length}; the poison: ${poison.status}`)
  for (const [i, a] of goods.entries()) {
    assert.equal(a.status, 200, `good alert ${i}: ${JSON.stringify(a.body)}`)
    assert.equal((await bridge.store.alerts.get(a.body.alertId))?.email, `good-${i}@acme.io`, `good alert ${i} stored`)
  }
  // The poison itself is an alert like any other once its strings are made well-formed.
  assert.equal(poison.status, 200, JSON.stringify(poison.body))
  const stored = (await bridge.store.alerts.get(poison.body.alertId))!
  assert.equal(stored.email, 'poison\ufffd@acme.io', 'U+0000 becomes U+FFFD, as a lone surrogate does')
  assert.equal(stored.exposureId, 'poison\ufffdexposure')
  assert.equal(stored.customData, 'crm\ufffd\ufffd')
  assert.equal(stored.exposureDetails?.title, 'Breach \ufffd of \ufffd doom')
  assert.deepEqual(stored.exposureDetails?.exposedData, ['Emails\ufffd', 'Pass\ufffdwords'])
  assert.deepEqual(stored.extra, { 'key\ufffdwith\ufffdnul': { deeper: ['\ufffd', '\ud800\udc00 is a pair'] } }, 'keys too; a surrogate pair is kept')
  const strings: string[] = []
  JSON.stringify(stored, (k, v) => { strings.push(k); if (typeof v === 'string') strings.push(v); return v })
  assert.deepEqual(strings.filter(s => !wellFormed(s)), [], 'every stored string is well-formed')
  // A re-delivery of the same poison is a duplicate of it (the key is computed from the normalised strings).
  const again = await postAlert(bridge.url, POISON)
  assert.deepEqual([again.status, again.body.status, again.body.alertId], [200, 'duplicate', poison.body.alertId])
}

test('SQLite: one poison alert among 40 good ones sent at once: every one answered 200 and stored well-formed', async t => {
  const bridge = await startTestBridge(t)
  await sendAmongGood(t, bridge, 'sqlite')
})

test('PostgreSQL: one poison alert among 40 good ones sent at once: every one answered 200 and stored well-formed', async t => {
  const pgc = await startPostgres(t)
  if (pgc === undefined) return
  const bridge = await startTestBridge(t, { BRIDGE_DATABASE: await pgc.createDatabase() }, tmpDir(t))
  await sendAmongGood(t, bridge, 'postgres')
})

/** 40 good alerts and one the database refuses (a trigger stands for any data error normalisation cannot foresee). */
async function refusedAmongGood (t: TestContext, bridge: TestBridge): Promise<void> {
  const good = Array.from({ length: 40 }, (_, i) => ({ exposureID: `r-${i}`, username: `good-${i}@acme.io` }))
  const bodies = [...good.slice(0, 20), { exposureID: 'r-x', username: 'refused@acme.io' }, ...good.slice(20)]
  const answers = await Promise.all(bodies.map(async body => await postAlert(bridge.url, body)))
  const refused = answers[20]!
  t.diagnostic(`good alerts answered 200: ${answers.filter((a, i) => i !== 20 && a.status === 200).length} of 40; the refused one: ${refused.status} ${JSON.stringify(refused.body)}`)
  for (const [i, a] of answers.filter((_, i) => i !== 20).entries()) {
    assert.equal(a.status, 200, `good alert ${i}: ${JSON.stringify(a.body)}`)
    assert.equal((await bridge.store.alerts.get(a.body.alertId))?.email, `good-${i}@acme.io`)
  }
  assert.equal(refused.status, 400, 'not 503: sending it again cannot help')
  assert.match(refused.body.error, /^the alert cannot be stored: .*refused by a test trigger/)
  assert.equal(refused.headers.get('retry-after'), null)
  assert.deepEqual(await bridge.store.alerts.list({ email: 'refused@acme.io' }), [])
  assert.equal((await bridge.store.alerts.list({ limit: 100 })).length, 40)
  assert.ok(bridge.logs.some(l => l.includes('the store refused this alert\'s data')), 'logged')
}

test('SQLite: an alert the database still refuses is answered 400 with the reason; the 40 sent beside it are stored', async t => {
  const bridge = await startTestBridge(t)
  const db = new Database(bridge.config.database)
  db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON alerts WHEN NEW.email LIKE 'refused%'
    BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END`)
  db.close()
  await refusedAmongGood(t, bridge)
})

test('PostgreSQL: an alert the database still refuses is answered 400 with the reason; the 40 sent beside it are stored', async t => {
  const pgc = await startPostgres(t)
  if (pgc === undefined) return
  const url = await pgc.createDatabase()
  const bridge = await startTestBridge(t, { BRIDGE_DATABASE: url }, tmpDir(t))
  await pgc.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF NEW.email LIKE 'refused%' THEN RAISE EXCEPTION 'refused by a test trigger' USING ERRCODE = 'data_exception'; END IF;
      RETURN NEW; END $$;
    CREATE TRIGGER refuse BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION refuse()`, new URL(url).pathname.slice(1))
  await refusedAmongGood(t, bridge)
})

test('PostgreSQL, FusionAuth\'s route: the same rule — a breach event whose email holds U+0000 among 20 good ones, every one 200', async t => {
  const pgc = await startPostgres(t)
  if (pgc === undefined) return
  const secret = 'Bearer poison-test-fusionauth-secret'
  const bridge = await startTestBridge(t, { BRIDGE_DATABASE: await pgc.createDatabase(), FUSIONAUTH_WEBHOOK_SECRET: secret }, tmpDir(t))
  const tenantId = randomUUID()
  const breach = (email: string): unknown => fusionAuthEvent('user.password.breach', { tenantId, user: { id: randomUUID(), tenantId, email, firstName: 'x\ud800' }, note: '\u0000' })
  const events = [...Array.from({ length: 10 }, (_, i) => breach(`fa-good-${i}@acme.io`)), breach('fa-po\u0000ison\udc00@acme.io'),
    ...Array.from({ length: 10 }, (_, i) => breach(`fa-good-${10 + i}@acme.io`))]
  const answers = await Promise.all(events.map(async e => await postEvent(bridge.url, e, { authorization: secret })))
  t.diagnostic(`answered 200: ${answers.filter(a => a.status === 200).length} of ${answers.length}`)
  for (const a of answers) assert.equal(a.status, 200, a.text)
  assert.equal((await bridge.store.alerts.get(answers[10]!.body.alertId))?.email, 'fa-po\ufffdison\ufffd@acme.io')
  assert.equal((await bridge.store.alerts.list({ limit: 100 })).length, 21)
})
