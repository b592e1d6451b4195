import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { Webhook } from 'standardwebhooks'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { postAlert, startTestBridge, tmpDir, waitFor, type TestBridge } from '../helper.js'
import { deadMessage, pausedMessage } from '../../src/digest/message.js'

const SECRET = 'whsec_' + Buffer.from('digest-test-secret-0123456789abcdef').toString('base64')

interface Received { headers: IncomingHttpHeaders, body: string }

/** An operator's chat webhook on 127.0.0.1: records what it gets, answers `status`. */
async function receiver (t: TestContext): Promise<{ url: string, got: Received[], status: { code: number } }> {
  const got: Received[] = []
  const status = { code: 200 }
  const srv = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      if (status.code === 200) got.push({ headers: req.headers, body })
      // A refusal quotes the path, as some receivers do (the path of a Slack webhook URL is its credential).
      res.writeHead(status.code).end(status.code === 200 ? 'ok' : `down: no hook at ${req.url ?? ''}`)
    })
  })
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => { srv.closeAllConnections(); srv.close(resolve) }))
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/hooks/bridge`, got, status }
}

async function world (
  t: TestContext, url: string, dir?: string, notify: Record<string, string> = { BRIDGE_NOTIFY_URL: url }, probeIntervalMs?: number
): Promise<{ fa: FusionAuthFake, bridge: TestBridge }> {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const bridge = await startTestBridge(t, {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    ...notify,
    BRIDGE_NOTIFY_INTERVAL: '1s',
    BRIDGE_NOTIFY_SECRET: SECRET
  }, dir, { digest: { tickMs: 3_600_000, backoffMs: [100] }, worker: probeIntervalMs === undefined ? undefined : { probeIntervalMs } })
  return { fa, bridge }
}

const verify = (r: Received): any => new Webhook(SECRET).verify(r.body, r.headers as Record<string, string>)

test('several alerts in one interval: one signed digest, at most one per interval, emails masked', async t => {
  const rx = await receiver(t)
  const { fa, bridge } = await world(t, rx.url)
  for (const n of [1, 2, 3]) fa.addUser({ tenantId: fa.tenants[0]!.id, email: `digest-${n}@acme-corp.io` })
  await bridge.digest!.tick() // the first window starts now
  const ids = []
  for (const n of [1, 2, 3, 4]) ids.push((await postAlert(bridge.url, { username: `digest-${n}@acme-corp.io`, exposureID: 'exp-digest' })).body.alertId as string)
  for (const id of ids) await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alerts to finish')
  await new Promise(resolve => setTimeout(resolve, 1100))
  await bridge.digest!.tick()
  await bridge.digest!.tick() // nothing more within the interval
  assert.equal(rx.got.length, 1)
  const message = verify(rx.got[0]!)
  assert.equal(message.type, 'digest')
  assert.deepEqual(message.byOutcome, { actioned: 3, 'no-user': 1 })
  assert.equal(message.alerts.length, 4)
  assert.match(message.text, /4 alerts finished since .* actioned 3, no-user 1/)
  assert.ok(!rx.got[0]!.body.includes('digest-1@acme-corp.io'), 'emails masked (BRIDGE_LOG_EMAILS)')
  assert.match(rx.got[0]!.body, /d\*\*\*@acme-corp\.io~[0-9a-f]{4}/)
  assert.match(String(rx.got[0]!.headers['webhook-id']), /^digest:\d+$/)
  // A tampered body does not verify: the signature covers it.
  assert.throws(() => new Webhook(SECRET).verify(rx.got[0]!.body.replace('actioned', 'ignored'), rx.got[0]!.headers as Record<string, string>))
  assert.ok(bridge.logs.some(l => l.includes('"event":"digest.sent"')))
})

test('the receiver down and the bridge restarted: the digest is delivered later, not lost', async t => {
  const rx = await receiver(t)
  rx.status.code = 503
  const dir = tmpDir(t)
  const first = await world(t, rx.url, dir)
  first.fa.addUser({ tenantId: first.fa.tenants[0]!.id, email: 'late@acme-corp.io' })
  await first.bridge.digest!.tick()
  const id = (await postAlert(first.bridge.url, { username: 'late@acme-corp.io', exposureID: 'exp-late' })).body.alertId as string
  await waitFor(async () => (await first.bridge.store.alerts.get(id))?.state === 'done', 'the alert to finish')
  await new Promise(resolve => setTimeout(resolve, 1100))
  await first.bridge.digest!.tick()
  assert.equal(rx.got.length, 0)
  assert.ok(first.bridge.logs.some(l => l.includes('"event":"digest.failed"') && l.includes('503')))
  await first.bridge.close() // a crash or a restart: the message is in the database

  rx.status.code = 200
  const second = await world(t, rx.url, dir)
  await new Promise(resolve => setTimeout(resolve, 150))
  await second.bridge.digest!.tick()
  assert.equal(rx.got.length, 1)
  const message = verify(rx.got[0]!)
  assert.deepEqual(message.byOutcome, { actioned: 1 })
})

test('a dead alert and a paused worker send a message at once', async t => {
  const rx = await receiver(t)
  const { fa, bridge } = await world(t, rx.url)
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'dies@acme-corp.io' })
  fa.fail(400, { match: (m, p) => m === 'DELETE' && p.startsWith('/api/user/') })
  const id = (await postAlert(bridge.url, { username: 'dies@acme-corp.io', exposureID: 'exp-dies' })).body.alertId as string
  await waitFor(() => rx.got.some(r => verify(r).type === 'dead'), 'the dead-alert message')
  const dead = verify(rx.got.find(r => verify(r).type === 'dead')!)
  assert.equal(dead.alertId, id)
  assert.match(dead.text, new RegExp(`breach-bridge alerts replay ${id}`))
  fa.clearFaults()
  fa.revokeKey()
  await postAlert(bridge.url, { username: 'dies@acme-corp.io', exposureID: 'exp-paused' })
  await waitFor(() => rx.got.some(r => verify(r).type === 'paused'), 'the paused message')
})

/** The text chat tools render: outside code spans, nothing live in Slack, Teams or Mattermost. */
function assertInertChat (text: string): void {
  assert.ok(!/[<>]/.test(text), `Slack control characters raw: ${text}`)
  const outside = text.split('`').filter((_, i) => i % 2 === 0).join(' ')
  assert.ok(!/[@[\]]|\]\(|https?:|evil|\*\*\*/.test(outside), `a mention, link or emphasis outside a code span: ${outside}`)
}

test('hostile email domains reach chat as inert code spans (Slack: & < > as entities), and whole in the JSON beside the text', async t => {
  const rx = await receiver(t)
  const { bridge } = await world(t, rx.url)
  await bridge.digest!.tick()
  const hostile = ['x@<!channel>', 'h@<!here|here>', 'r@<https://evil.example/reset|reset-your-password>', 'm@[reset](https://evil.example/r)', 'e@**bold** _it_ @all']
  const ids: string[] = []
  for (const [i, username] of hostile.entries()) {
    const r = await postAlert(bridge.url, { username, exposureID: `exp-chat-${i}` })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    ids.push(r.body.alertId as string)
  }
  for (const id of ids) await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alerts to finish')
  await new Promise(resolve => setTimeout(resolve, 1100))
  await bridge.digest!.tick()
  assert.equal(rx.got.length, 1)
  const message = verify(rx.got[0]!)
  assertInertChat(message.text)
  assert.match(message.text, /`x\*\*\*@&lt;!channel&gt;~[0-9a-f]{4}`/)
  assert.match(message.text, /`r\*\*\*@&lt;https:\/\/evil\.example\/reset\|reset-your-password&gt;~[0-9a-f]{4}`/)
  assert.match(message.text, /`m\*\*\*@\[reset\]\(https:\/\/evil\.example\/r\)~[0-9a-f]{4}`/)
  const emails = (message.alerts as Array<{ email: string }>).map(a => a.email).sort()
  assert.ok(emails.some(e => /^x\*\*\*@<!channel>~[0-9a-f]{4}$/.test(e)), 'the JSON field keeps the masked email as it is')
})

test('dead and paused messages: a reason that quotes hostile text is a code span in the chat text', () => {
  for (const m of [deadMessage('a1', 'FusionAuth said <!channel> [reset](https://evil.example/r) @here'), pausedMessage('<https://evil.example|x> `code` @all', 'now')]) {
    assertInertChat(m.text)
    assert.ok(m.text.includes('&lt;'))
  }
})

test('BRIDGE_NOTIFY_URL_FILE: the URL read from a file, and never printed — not even when the receiver quotes it', async t => {
  const rx = await receiver(t)
  rx.status.code = 404
  const dir = tmpDir(t)
  const secretPath = '/services/T0000/B0000/XXXXsecretXXXX'
  const file = join(dir, 'notify-url')
  writeFileSync(file, `${rx.url.replace('/hooks/bridge', secretPath)}\n`, { mode: 0o600 })
  const { fa, bridge } = await world(t, '', undefined, { BRIDGE_NOTIFY_URL_FILE: file })
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'url@acme-corp.io' })
  await bridge.digest!.tick()
  const id = (await postAlert(bridge.url, { username: 'url@acme-corp.io', exposureID: 'exp-url' })).body.alertId as string
  await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alert to finish')
  await new Promise(resolve => setTimeout(resolve, 1100))
  await bridge.digest!.tick()
  const failed = bridge.logs.find(l => l.includes('"event":"digest.failed"'))
  assert.ok(failed !== undefined, 'the delivery was tried (the URL came from the file)')
  assert.match(failed, /the receiver answered 404: down: no hook at BRIDGE_NOTIFY_URL/)
  assert.ok(!bridge.logs.join('\n').includes('XXXXsecretXXXX'), 'never in a log line')
})

test('a paused worker\'s message is followed by a resumed one; times are for people; one period, not two', async t => {
  const rx = await receiver(t)
  const { fa, bridge } = await world(t, rx.url, undefined, undefined, 100)
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'dies@acme-corp.io' })
  fa.fail(400, { match: (m, p) => m === 'DELETE' && p.startsWith('/api/user/') })
  await postAlert(bridge.url, { username: 'dies@acme-corp.io', exposureID: 'exp-dies' })
  await waitFor(() => rx.got.some(r => verify(r).type === 'dead'), 'the dead-alert message')
  const dead = verify(rx.got.find(r => verify(r).type === 'dead')!)
  assert.ok(!dead.text.includes('..'), dead.text)
  assert.match(dead.text, /[^.]\. Fix the cause, then: breach-bridge alerts replay /)
  fa.clearFaults()
  fa.revokeKey()
  await postAlert(bridge.url, { username: 'dies@acme-corp.io', exposureID: 'exp-paused' })
  await waitFor(() => rx.got.some(r => verify(r).type === 'paused'), 'the paused message')
  fa.restoreKey()
  await waitFor(() => rx.got.some(r => verify(r).type === 'resumed'), 'the resumed message')
  const kinds = rx.got.map(r => verify(r).type as string).filter(k => k !== 'digest')
  assert.deepEqual(kinds.slice(kinds.indexOf('paused')), ['paused', 'resumed'])
  const paused = verify(rx.got.find(r => verify(r).type === 'paused')!)
  const resumed = verify(rx.got.find(r => verify(r).type === 'resumed')!)
  for (const m of [paused, resumed]) {
    assert.match(m.text, / at \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/, m.text)
    assert.ok(!/\d{2}:\d{2}:\d{2}\.\d{3}Z/.test(m.text), `no raw ISO time in ${m.text}`)
    assert.ok(!m.text.includes('..'), m.text)
  }
  assert.match(resumed.text, /resumed .*FusionAuth accepts the API key again/)
})
