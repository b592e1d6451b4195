import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startEnzoicFake } from '../fakes/enzoic.js'
import { freePort, postAlert, startTestBridge, tmpDir, waitFor } from '../helper.js'
import { cli } from '../fixtures/in-process.js'
import { RAW_CONTROLS } from './support.js'

/**
 * Breach data is attacker-controlled: a title that clears the screen (ESC[2J), plants a clickable link
 * (OSC 8, ended by BEL), rewrites the line (CR) or forges a new one (LF), a one-byte CSI (U+009B) and a
 * right-to-left override must reach the operator's terminal as visible text, not as terminal commands.
 */
const CLEAR = '\u001b[2J'
const LINK = '\u001b]8;;https://evil.example/\u0007click here\u001b]8;;\u0007'
const C1_CSI = '\u009b31m'
const RLO = '\u202e'
const hostile = (label: string): string => `${label}${CLEAR}${LINK}\r\nFORGED LINE${C1_CSI}${RLO}gpj.exe`

const ALERT = {
  username: `victim${CLEAR}\r\nforged@acme-corp.io`,
  exposureID: hostile('exp'),
  customData: hostile('crm'),
  passwordType: `MD5${LINK}`,
  exposureDetails: { title: hostile('Mega Leak'), date: '2026-01-02T00:00:00Z' }
}

function assertInert (what: string, text: string): void {
  const m = RAW_CONTROLS.exec(text)
  assert.equal(m, null, `${what}: a raw U+${m?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} at ${m?.index}: ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 40), (m?.index ?? 0) + 40))}`)
  assert.ok(!/^forged/im.test(text), `${what}: an LF in the data started a line of its own`)
}

test('alerts list / show (table, JSON, CSV): control characters in breach data are printed inert', async t => {
  const bridge = await startTestBridge(t) // no FusionAuth: the alert stays queued, as stored
  const r = await postAlert(bridge.url, ALERT)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  const id = r.body.alertId as string
  const stored = (await bridge.store.alerts.get(id))!
  // Control: the store keeps the data as it came (so the tests below see the hostile bytes).
  assert.ok(stored.exposureDetails?.title?.includes('\u001b[2J'))
  assert.ok(stored.customData?.includes('\u009b'))
  const env = { BRIDGE_DATABASE: bridge.config.database }

  const list = await cli(['alerts', 'list'], env)
  assert.equal(list.code, 0, list.stderr)
  assertInert('alerts list', list.stdout)
  assert.equal(list.stdout.trimEnd().split('\n').length, 2, 'a header and one row: the alert stays on its line')
  assert.ok(list.stdout.includes('exp\\e[2J\\e]8;;https://evil.example/\\u0007click here'), 'the escape is shown, visibly')

  const show = await cli(['alerts', 'show', id], env)
  assert.equal(show.code, 0, show.stderr)
  assertInert('alerts show', show.stdout)
  assert.match(show.stdout, /^Exposure title: +Mega Leak\\e\[2J\\e\]8;;https:\/\/evil\.example\/\\u0007click here\\e\]8;;\\u0007\\r\\nFORGED LINE\\u009b31m\\u202egpj\.exe$/m)
  assert.match(show.stdout, /^Custom data: +crm\\e\[2J/m)
  assert.match(show.stdout, /^Email: +victim\\e\[2j\\r\\nforged@acme-corp\.io$/m)

  // JSON keeps every value (a program gets the data back exactly) and escapes what JSON.stringify leaves raw.
  const json = await cli(['alerts', 'show', id, '--json'], env)
  assert.equal(json.code, 0, json.stderr)
  assertInert('alerts show --json', json.stdout)
  assert.ok(json.stdout.includes('\\u009b31m') && json.stdout.includes('\\u202e'), 'C1 and bidi controls as \\u escapes')
  const parsed = JSON.parse(json.stdout) as { exposureDetails: { title: string }, customData: string, email: string }
  assert.equal(parsed.exposureDetails.title, stored.exposureDetails!.title)
  assert.equal(parsed.customData, stored.customData)
  const listJson = await cli(['alerts', 'list', '--json'], env)
  assertInert('alerts list --json', listJson.stdout)
  assert.equal((JSON.parse(listJson.stdout) as Array<{ exposureId: string }>)[0]!.exposureId, stored.exposureId)

  const csv = await cli(['alerts', 'list', '--csv'], env)
  assert.equal(csv.code, 0, csv.stderr)
  const rows = csv.stdout.split('\r\n')
  assert.deepEqual(rows.slice(2), [''], 'a header, one record, CRLF line ends')
  assertInert('alerts list --csv', rows.join('\n'))
})

test('webhooks test --wait: the arrival line shows hostile data inert', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const dir = tmpDir(t)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/webhooks/enzoic`
  const env = { ...ez.env, BRIDGE_DATABASE: `${dir}/bridge.db` }
  const reg = await cli(['enzoic', 'webhooks', 'register', '--url', url, '--insecure-url', '--json'], env)
  assert.equal(reg.code, 0, reg.stderr)
  const credentials = (JSON.parse(reg.stdout) as { credentials: string }).credentials
  await startTestBridge(t, { PORT: String(port), ENZOIC_WEBHOOK_CREDENTIALS: credentials }, dir)
  ez.setDelivery({ extra: { username: ALERT.username, exposureID: ALERT.exposureID, customData: ALERT.customData, exposureDetails: ALERT.exposureDetails } })

  const r = await cli(['enzoic', 'webhooks', 'test', '--wait', '10s'], env)
  assert.equal(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /Received after [\d.]+ s: alert \S+ for victim\\e\[2j\\r\\nforged@acme-corp\.io, exposure exp\\e\[2J/)
  assertInert('webhooks test --wait (stdout)', r.stdout)
  assertInert('webhooks test --wait (stderr)', r.stderr)
  await waitFor(async () => (await ez.waitForDelivery(1)).status === 200, 'the delivery')
})
