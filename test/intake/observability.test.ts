import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { AUTH, WEBHOOK_KEY, basic, postAlert, startTestBridge } from '../helper.js'
import { sample } from '../observability/shipped.js'

test('/healthz answers 200 and /readyz reports the store check', async t => {
  const b = await startTestBridge(t)
  const health = await fetch(`${b.url}/healthz`)
  assert.equal(health.status, 200)
  assert.deepEqual(await health.json(), { status: 'ok' })
  const ready = await fetch(`${b.url}/readyz`)
  assert.equal(ready.status, 200)
  assert.deepEqual(await ready.json(), { status: 'ready', checks: { store: 'ok' } })
  // Neither needs credentials; unknown paths are a uniform 404.
  const missing = await fetch(`${b.url}/nope`)
  assert.equal(missing.status, 404)
  assert.deepEqual(await missing.json(), { error: 'not found' })
  // After the store is closed, readiness fails (the process still answers /healthz until the server closes).
  await b.store.close()
  const notReady = await fetch(`${b.url}/readyz`)
  assert.equal(notReady.status, 503)
  const body = await notReady.json() as { status: string, checks: Record<string, string> }
  assert.equal(body.status, 'not ready')
  assert.notEqual(body.checks.store, 'ok')
})

test('/metrics counts webhook requests by status and outcome, and alerts by state', async t => {
  const b = await startTestBridge(t, { BRIDGE_MAX_BODY_BYTES: '1024' })
  const alert = { exposureID: 'm1', username: 'metrics@acme.io' }
  await postAlert(b.url, alert) // accepted
  await postAlert(b.url, alert) // duplicate
  await postAlert(b.url, alert) // duplicate
  await postAlert(b.url, { exposureID: 'm2', username: 'm@example.com' }) // test
  await postAlert(b.url, { type: 'piiAlert', username: 'p@acme.io' }) // ignored
  await postAlert(b.url, 'not json', { 'content-type': 'text/plain' }) // invalid
  await postAlert(b.url, alert, { authorization: basic(WEBHOOK_KEY, 'wrong') }) // unauthorized
  await postAlert(b.url, alert, { authorization: 'Bearer nope' }) // unauthorized
  await postAlert(b.url, { ...alert, pad: 'x'.repeat(2000) }) // too large

  const res = await fetch(`${b.url}/metrics`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
  const text = await res.text()
  const count = (status: string, outcome: string): number | undefined => sample(text, 'enzoic_bridge_webhook_requests_total', { status, outcome })
  assert.equal(count('200', 'accepted'), 1)
  assert.equal(count('200', 'duplicate'), 2)
  assert.equal(count('200', 'test'), 1)
  assert.equal(count('200', 'ignored'), 1)
  assert.equal(count('400', 'invalid'), 1)
  assert.equal(count('401', 'unauthorized'), 2)
  assert.equal(count('413', 'too-large'), 1)
  assert.equal(sample(text, 'enzoic_bridge_webhook_request_duration_seconds_count', { status: '200' }), 5)
  assert.equal(sample(text, 'enzoic_bridge_stored_alerts', { state: 'queued' }), 1)
  assert.equal(sample(text, 'enzoic_bridge_stored_alerts', { state: 'done' }), 1)
  assert.equal(sample(text, 'enzoic_bridge_stored_alerts', { state: 'waiting' }), 0, 'every state, the grace period included')
  assert.ok((sample(text, 'enzoic_bridge_oldest_queued_alert_age_seconds') ?? -1) >= 0, 'the queued alert has an age')
  // Health and metrics calls are not webhook requests.
  await fetch(`${b.url}/healthz`)
  const again = await (await fetch(`${b.url}/metrics`)).text()
  assert.equal(sample(again, 'enzoic_bridge_webhook_requests_total', { status: '200', outcome: 'accepted' }), 1)
  assert.ok((sample(again, 'process_resident_memory_bytes') ?? 0) > 0, 'process metrics are exported under their standard names')
  // The metrics never carry an email or a credential.
  assert.ok(!again.includes('metrics@acme.io'))
  assert.ok(!again.includes(AUTH.slice(6)))
})

/**
 * Sends n requests at the same instant: n sockets are connected first, then every request is written in
 * one synchronous loop, so they reach the server together (as from n independent senders).
 */
async function simultaneous (url: string, bodies: string[]): Promise<Array<{ status: number, body: any }>> {
  const { hostname, port } = new URL(url)
  const sockets = await Promise.all(bodies.map(() => new Promise<Socket>((resolve, reject) => {
    const s = connect(Number(port), hostname, () => resolve(s))
    s.on('error', reject)
  })))
  await new Promise(resolve => setTimeout(resolve, 50)) // let the server accept them all
  const answers = sockets.map(s => new Promise<{ status: number, body: any }>(resolve => {
    let raw = ''
    s.setEncoding('utf8')
    s.on('data', (c: string) => { raw += c })
    s.on('end', () => {
      const [head, body] = raw.split('\r\n\r\n', 2) as [string, string]
      resolve({ status: Number(head.split(' ')[1]), body: body === undefined ? raw : JSON.parse(body) })
    })
  }))
  sockets.forEach((s, i) => {
    const body = Buffer.from(bodies[i]!)
    s.write(`POST /webhooks/enzoic HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: ${AUTH}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString()}`)
  })
  return Promise.all(answers)
}

test('a concurrent burst of 100 alerts is group-committed: batches larger than one', async t => {
  const b = await startTestBridge(t)
  const answers = await simultaneous(b.url, Array.from({ length: 100 }, (_, i) => JSON.stringify({ exposureID: `burst-${i}`, username: `burst-${i}@acme.io` })))
  assert.ok(answers.every(a => a.status === 200 && a.body.status === 'accepted'), JSON.stringify(answers.find(a => a.status !== 200)))
  assert.equal(new Set(answers.map(a => a.body.alertId)).size, 100)
  assert.equal((await b.store.alerts.countByState()).queued, 100)

  const text = await (await fetch(`${b.url}/metrics`)).text()
  const commits = sample(text, 'enzoic_bridge_store_commit_batch_alerts_count')!
  const alerts = sample(text, 'enzoic_bridge_store_commit_batch_alerts_sum')!
  const single = sample(text, 'enzoic_bridge_store_commit_batch_alerts_bucket', { le: '1' })!
  t.diagnostic(`${alerts} alerts in ${commits} commits (${single} of size 1)`)
  assert.equal(alerts, 100)
  assert.ok(commits < 50, 'far fewer commits than alerts')
  assert.ok(single < commits, 'batches held more than one alert')
  assert.equal(sample(text, 'enzoic_bridge_store_commit_duration_seconds_count'), commits)
})

test('request logs carry the outcome but never the Authorization header', async t => {
  const b = await startTestBridge(t)
  await postAlert(b.url, { exposureID: 'log-1', username: 'log@acme.io', passwordType: 'Rot99' })
  const logs = b.logs.map(l => JSON.parse(l) as Record<string, unknown>)
  // The request's one line (`webhook answered`) carries the alert.received event and its fields.
  const stored = logs.find(l => l.event === 'alert.received')
  assert.ok(stored !== undefined)
  assert.equal(stored.msg, 'webhook answered')
  assert.match(String(stored.email), /^l\*\*\*@acme\.io~[0-9a-f]{4}$/, 'masked by default (BRIDGE_LOG_EMAILS)')
  assert.deepEqual(stored.warnings, ['passwordType name not recognised'])
  assert.ok(typeof stored.alertId === 'string')
  const answered = logs.filter(l => l.msg === 'webhook answered')
  assert.equal(answered.length, 1, 'one line for the request')
  assert.equal(answered[0]!.outcome, 'accepted')
  assert.equal(answered[0]!.status, 200)
  assert.ok(!b.logs.join('\n').includes(AUTH.slice(6)), 'the Basic credentials are not logged')
})
