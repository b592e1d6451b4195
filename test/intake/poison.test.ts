// Issue 17, "intake that one byte cannot jam": a U+0000 or a lone surrogate in an alert used to fail its whole group
// commit on PostgreSQL (503 for every alert that shared the batch, on every delivery). Intake now makes every string
// well-formed (alerts/normalise.ts), and a batch that still meets a data error is retried row by row (store tests).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startPostgres } from '../fixtures/postgres.js'
import { postAlert, startTestBridge, tmpDir, type TestBridge } from '../helper.js'

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
