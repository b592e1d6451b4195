// Waiting for a test notification (src/operations/delivery.ts): what counts as its arrival in the store of a
// real bridge — a new alert, a re-delivery of a stored one, a notification acknowledged without storing it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { markDeliveries, waitForArrival } from '../../src/operations/delivery.js'
import { postAlert, startTestBridge } from '../helper.js'
import { commandStore, send } from './support.js'

const SAMPLE = { username: 'sample@email.tst', exposureID: 'enzoic-sample-exposure' }

test('waitForArrival: nothing new → undefined at the deadline; then a new alert, a re-delivery, an ignored notification', async t => {
  const bridge = await startTestBridge(t)
  const store = await commandStore(t, bridge)

  const quiet = await markDeliveries(store)
  const started = Date.now()
  assert.equal(await waitForArrival(store, quiet, Date.now() + 300, { everyMs: 50 }), undefined)
  assert.ok(Date.now() - started >= 250, 'it waited until the deadline')

  const beforeNew = await markDeliveries(store)
  const id = await send(bridge, SAMPLE)
  const fresh = await waitForArrival(store, beforeNew, Date.now() + 5000, { everyMs: 20 })
  assert.equal(fresh?.kind, 'new')
  assert.equal(fresh?.kind === 'new' ? fresh.alert.id : undefined, id)

  // The same notification again: the bridge answers "duplicate" and counts a delivery on the stored alert.
  const beforeAgain = await markDeliveries(store)
  assert.equal((await postAlert(bridge.url, SAMPLE)).body.status, 'duplicate')
  const again = await waitForArrival(store, beforeAgain, Date.now() + 5000, { everyMs: 20 })
  assert.equal(again?.kind, 'redelivery')
  assert.deepEqual(again?.kind === 'redelivery' ? [again.alert.id, again.alert.deliveries] : [], [id, 2])

  // Another Enzoic product on the same webhook: acknowledged, not stored.
  const beforeIgnored = await markDeliveries(store)
  assert.equal((await postAlert(bridge.url, { ...SAMPLE, type: 'piiAlert' })).body.status, 'ignored')
  const ignored = await waitForArrival(store, beforeIgnored, Date.now() + 5000, { everyMs: 20 })
  assert.deepEqual(ignored?.kind === 'ignored' ? ignored.reason : ignored, 'identity (piiAlert) alert')
  assert.equal((await store.alerts.list()).length, 1, 'still one stored alert')
})

test('waitForArrival stops when its signal aborts', async t => {
  const bridge = await startTestBridge(t)
  const store = await commandStore(t, bridge)
  const mark = await markDeliveries(store)
  const abort = new AbortController()
  setTimeout(() => abort.abort(), 100)
  const started = Date.now()
  assert.equal(await waitForArrival(store, mark, Date.now() + 60_000, { signal: abort.signal, everyMs: 20 }), undefined)
  assert.ok(Date.now() - started < 5000)
})
