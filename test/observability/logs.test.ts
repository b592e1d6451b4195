import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { AUTH, postAlert, startTestBridge, waitFor, type TestBridge } from '../helper.js'

type Line = Record<string, unknown> & { level: number, msg: string }
const INFO = 30
const WARN = 40

const parsed = (bridge: TestBridge, from = 0): Line[] => bridge.logs.slice(from).map(l => JSON.parse(l) as Line)

async function bridgeWithFusionAuth (t: TestContext, env: Record<string, string> = {}): Promise<{ fa: FusionAuthFake, bridge: TestBridge }> {
  const fa = await startFusionAuthFake()
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, FUSIONAUTH_TIMEOUT_MS: '2000', ...env }, undefined,
    { worker: { probeIntervalMs: 50, pausedLogIntervalMs: 50, readinessCacheMs: 0 }, pollMs: 100 })
  t.after(() => fa.close())
  return { fa, bridge }
}

test('health, readiness and metrics probes write no line at info or above', async t => {
  const { bridge } = await bridgeWithFusionAuth(t)
  await fetch(`${bridge.url}/readyz`) // the first readiness check warms FusionAuth's connection
  const from = bridge.logs.length
  for (let i = 0; i < 3; i++) {
    for (const path of ['/healthz', '/readyz', '/metrics']) assert.equal((await fetch(`${bridge.url}${path}`)).status, 200, path)
  }
  await new Promise(resolve => setTimeout(resolve, 100))
  const lines = parsed(bridge, from)
  const loud = lines.filter(l => l.level >= INFO)
  assert.deepEqual(loud, [], 'nothing at info or above')
  // They are still there for whoever turns LOG_LEVEL=debug on.
  assert.ok(lines.some(l => l.msg === 'request completed' && l.url === '/metrics' && l.status === 200))
})

test('one line per webhook request, with status, outcome and time; a 400 logs its reason', async t => {
  const bridge = await startTestBridge(t)
  const from = bridge.logs.length
  const ok = await postAlert(bridge.url, { exposureID: 'one-line', username: 'one@acme.io' })
  assert.equal(ok.status, 200)
  const bad = await postAlert(bridge.url, 'not json', { 'content-type': 'text/plain' })
  assert.equal(bad.status, 400)
  const notAlert = await postAlert(bridge.url, { exposureID: 'x' })
  assert.equal(notAlert.status, 400)
  await new Promise(resolve => setTimeout(resolve, 50))
  const lines = parsed(bridge, from)
  // Fastify's own pair of lines per request is gone at info.
  assert.ok(!lines.some(l => l.level >= INFO && (l.msg === 'incoming request' || l.msg === 'request completed')), 'no "incoming request"/"request completed" at info')

  const answered = lines.filter(l => l.msg === 'webhook answered')
  assert.equal(answered.length, 3, 'one line per webhook request')
  const [accepted, invalid, notAnAlert] = answered as [Line, Line, Line]
  assert.equal(accepted.level, INFO)
  assert.equal(accepted.status, 200)
  assert.equal(accepted.outcome, 'accepted')
  assert.equal(typeof accepted.responseTimeMs, 'number')
  assert.equal(accepted.url, '/webhooks/enzoic')
  // The request's one line at info carries its lifecycle event too (no second line for it).
  assert.deepEqual(lines.filter(l => l.reqId === accepted.reqId && l.level >= INFO).map(l => l.event ?? l.msg), ['alert.received'])
  assert.equal(accepted.source, 'enzoic')
  assert.equal(typeof accepted.alertId, 'string')
  assert.equal(accepted.exposureId, 'one-line')

  assert.equal(invalid.level, WARN)
  assert.equal(invalid.status, 400)
  assert.equal(invalid.outcome, 'invalid')
  assert.equal(invalid.reason, 'not JSON', 'the reason the sender was given is logged')
  assert.equal(notAnAlert.status, 400)
  assert.match(String(notAnAlert.reason), /^not an alert/)
  assert.ok(!bridge.logs.join('\n').includes(AUTH.slice(6)), 'never the credentials')
})

test('a paused worker logs at error, once at once and then at intervals, without a stack trace', async t => {
  const { fa, bridge } = await bridgeWithFusionAuth(t)
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'paused@acme-corp.io' })
  fa.revokeKey()
  await postAlert(bridge.url, { username: 'paused@acme-corp.io', exposureID: 'paused-1' })
  await waitFor(() => bridge.worker!.paused, 'the worker to pause')
  // pausedLogIntervalMs is 50 ms here: the reminder comes quickly.
  await waitFor(() => bridge.logs.some(l => l.includes('still paused')), 'the "still paused" reminder')
  const lines = parsed(bridge).filter(l => /paused/.test(l.msg))
  for (const l of lines) {
    assert.ok(!JSON.stringify(l).includes('"stack"'), `${l.msg}: no stack trace`)
    assert.equal(l.err, undefined, `${l.msg}: no error object`)
  }
  const paused = lines.find(l => l.event === 'worker.paused')
  assert.ok(paused !== undefined, 'the worker.paused event')
  assert.equal(paused.level, 50)
  assert.match(String(paused.reason), /401/)
  const still = lines.find(l => /still paused/.test(l.msg))!
  assert.ok(still.level >= WARN)
  assert.match(String(still.reason), /401/, 'the reminder says why')
})

test('a dead alert logs its reason at error, without a stack trace', async t => {
  const { fa, bridge } = await bridgeWithFusionAuth(t)
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'dead@acme-corp.io' })
  fa.fail(400, { match: (m, p) => m === 'DELETE' && p.startsWith('/api/user/') })
  const r = await postAlert(bridge.url, { username: 'dead@acme-corp.io', exposureID: 'dead-1' })
  await waitFor(async () => (await bridge.store.alerts.get(r.body.alertId as string))?.state === 'dead', 'the alert to die')
  await waitFor(() => bridge.logs.some(l => l.includes('"event":"alert.dead"')), 'the alert.dead event')
  const lines = parsed(bridge).filter(l => l.alertId === r.body.alertId && l.level >= WARN)
  const dead = lines.find(l => l.event === 'alert.dead')!
  assert.equal(dead.level, 50)
  assert.match(String(dead.reason), /400/)
  assert.ok(lines.some(l => l.event === 'step.failed'), 'the refused step too')
  for (const l of lines) assert.ok(!JSON.stringify(l).includes('"stack"'), `${String(l.event ?? l.msg)}: no stack trace`)
})

test('a flood of unauthenticated requests (401, 403) writes a bounded number of lines, and the count is reported', async t => {
  const open = await startTestBridge(t)
  const walled = await startTestBridge(t, { ENZOIC_ALLOWED_IPS: '192.0.2.1' })
  const send = async (url: string, headers: Record<string, string>, n: number, status: number): Promise<void> => {
    for (let i = 0; i < n; i += 25) {
      const answers = await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => postAlert(url, { username: 'x@acme.io' }, headers)))
      for (const a of answers) assert.equal(a.status, status)
    }
  }
  await send(open.url, { authorization: 'Basic ' + Buffer.from('enzoic-webhook-key:wrong').toString('base64') }, 200, 401)
  await send(open.url, { authorization: '' }, 100, 401)
  await send(walled.url, {}, 150, 403)
  // Closing reports what the current interval counted (a running bridge reports it when the interval ends).
  await open.close()
  await walled.close()

  for (const [bridge, total, reasons] of [[open, 300, ['credentials refused', 'no credentials']], [walled, 150, ['source address not allowed']]] as const) {
    const lines = parsed(bridge).filter(l => l.level >= INFO && l.msg !== 'bridge listening' && l.msg !== 'routes registered')
    assert.ok(lines.length <= 3 * reasons.length, `${lines.length} lines for ${total} refusals:\n${lines.map(l => JSON.stringify(l)).join('\n')}`)
    assert.ok(!lines.some(l => l.msg === 'webhook answered'), 'no line per refused request')
    const single = lines.filter(l => l.msg === 'webhook credentials refused' || l.msg === 'webhook caller refused')
    const summaries = lines.filter(l => String(l.msg).startsWith('webhook refusals'))
    assert.deepEqual([...new Set(single.map(l => l.reason))].sort(), [...reasons], 'the first refusal of each reason, with its address')
    assert.ok(single.every(l => l.address === '127.0.0.1' && l.level === WARN))
    assert.ok(summaries.length >= 1)
    const counted = summaries.reduce((n, l) => n + (l.notLoggedOneByOne as number), 0)
    assert.equal(counted + single.length, total, 'every refusal is accounted for')
    assert.deepEqual(Object.keys(summaries.at(-1)!.addresses as object), ['127.0.0.1'])
    assert.equal(summaries.reduce((n, l) => n + (l.refused as number), 0) <= total, true)
  }
})
