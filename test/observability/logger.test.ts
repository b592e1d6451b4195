import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { captureLogger, postAlert, startTestBridge, waitFor } from '../helper.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { HashedEmail, loggerOptions, maskEmail, PRETTY_OPTIONS } from '../../src/observability/logger.js'
import { sha256Hex } from '../../src/alerts/normalise.js'
import { inert } from '../../src/alerts/text.js'
import { inert as cliInert } from '../../src/cli/output.js'

// Password fields are dropped at parse time and never handed to a logger; redaction is the second line
// of defence, and this proves it holds for the shapes it covers.
test('the logger blanks credentials and password fields wherever they are expected', () => {
  const { logger, lines } = captureLogger()
  logger.info({
    plaintextPassword: 'P1',
    passwordHash: 'H1',
    passwordSalt: 'S1',
    authorization: 'Basic QUJD',
    alert: { plaintextPassword: 'P2', passwordHash: 'H2', passwordSalt: 'S2', username: 'kept@acme.io' },
    body: { password: 'P3' },
    req: { headers: { authorization: 'Basic REVG' } }
  }, 'shaped like a payload')
  const line = JSON.parse(lines[0]!) as Record<string, any>
  for (const secret of ['P1', 'H1', 'S1', 'P2', 'H2', 'S2', 'P3', 'QUJD', 'REVG']) assert.ok(!lines[0]!.includes(secret), secret)
  assert.equal(line.plaintextPassword, '[redacted]')
  assert.equal(line.alert.passwordHash, '[redacted]')
  assert.equal(line.alert.username, 'kept@acme.io')
  assert.equal(line.req.headers.authorization, '[redacted]')
})

test('emails are masked in every log line by default: enough to correlate, not to harvest; BRIDGE_LOG_EMAILS=full logs them whole', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'jane.doe@acme-corp.io' })
  const masked = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  const r = await postAlert(masked.url, { username: 'Jane.Doe@acme-corp.io', exposureID: 'e-mask' })
  await waitFor(async () => (await masked.store.alerts.get(r.body.alertId as string))?.state === 'done', 'the alert to finish')
  await waitFor(() => masked.logs.some(l => l.includes('"msg":"alert finished"')), 'the finished line (logged just after the commit)')
  const text = masked.logs.join('\n')
  assert.ok(!text.includes('jane.doe'), 'no full address in any line')
  const lines = masked.logs.map(l => JSON.parse(l) as Record<string, unknown>)
  const stored = lines.find(l => l.event === 'alert.received')!
  const finished = lines.find(l => l.msg === 'alert finished')!
  assert.match(String(stored.email), /^j\*\*\*@acme-corp\.io~[0-9a-f]{4}$/)
  assert.equal(finished.email, stored.email, 'the same address masks the same way')
  assert.equal(maskEmail('john.roe@acme-corp.io') === stored.email, false, 'another address with the same initial differs')
  assert.equal(maskEmail(new HashedEmail('jane.doe@acme-corp.io', sha256Hex('jane.doe@acme-corp.io'))), stored.email, 'a known digest masks as hashing would')

  const full = await startTestBridge(t, { BRIDGE_LOG_EMAILS: 'full' })
  await postAlert(full.url, { username: 'Jane.Doe@acme-corp.io', exposureID: 'e-full' })
  assert.ok(full.logs.some(l => l.includes('"email":"jane.doe@acme-corp.io"')))
})

/**
 * Every logged string is inert (docs/design.md §11): C1 controls, bidi overrides and isolates, the line
 * separators, invisible format characters and lone surrogates never reach a log file or a terminal raw —
 * wherever the string sits: the message, a field, a nested value, a key, an error's message, a child's bindings.
 */
const HOSTILE = 'csi\u009b31m rlo\u202egpj.exe lri\u2066 ls\u2028ps\u2029 zw\u200b shy\u00ad tag\u{e0041} lone\ud800 esc\u001b[2J'
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\p{Cf}\u2028\u2029\p{Cs}]/u

function logHostile (logger: import('pino').Logger): void {
  logger.child({ component: `child ${HOSTILE}` }).warn({ title: HOSTILE, nested: { list: [HOSTILE] }, [`key ${HOSTILE}`]: 1, err: new Error(`failed: ${HOSTILE}`) }, `message ${HOSTILE}`)
}

test('logs (JSON): every unsafe character is a \\u escape in the line, and the values come back whole when parsed', () => {
  const { logger, lines } = captureLogger()
  logHostile(logger)
  assert.equal(lines.length, 1)
  const m = RAW_UNSAFE.exec(lines[0]!)
  assert.equal(m, null, `a raw U+${m?.[0].codePointAt(0)?.toString(16)} in ${lines[0]}`)
  for (const escape of ['\\u009b', '\\u202e', '\\u2066', '\\u2028', '\\u2029', '\\u200b', '\\u00ad', '\\udb40\\udc41', '\\ud800', '\\u001b']) {
    assert.ok(lines[0]!.includes(escape), `${escape} written as an escape`)
  }
  const line = JSON.parse(lines[0]!) as Record<string, any>
  assert.equal(line.title, HOSTILE, 'lossless: a log reader gets the exact value back')
  assert.equal(line.msg, `message ${HOSTILE}`)
  assert.equal(line.nested.list[0], HOSTILE)
  assert.equal(line.component, `child ${HOSTILE}`)
  assert.equal(line.err.message, `failed: ${HOSTILE}`)
  assert.equal(line[`key ${HOSTILE}`], 1)
})

test('logs (pino-pretty on a terminal): every unsafe character, C0 included, is shown as a visible escape', async () => {
  const { default: pretty } = await import('pino-pretty')
  let out = ''
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { out += chunk.toString('utf8'); cb() } })
  const options = loggerOptions('info', { pretty: true })
  assert.deepEqual(options.transport, { target: 'pino-pretty', options: PRETTY_OPTIONS }, 'pino-pretty runs with the options tested here')
  const logger = pino({ ...options, transport: undefined }, pretty({ ...PRETTY_OPTIONS, colorize: false, sync: true, destination: sink }))
  logHostile(logger)
  logger.info('plain line')
  await waitFor(() => out.includes('plain line'), 'the pretty output')
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const m = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\p{Cf}\u2028\u2029\p{Cs}]/u.exec(out)
  assert.equal(m, null, `a raw U+${m?.[0].codePointAt(0)?.toString(16)} at ${m?.index}: ${JSON.stringify(out.slice(Math.max(0, (m?.index ?? 0) - 40), (m?.index ?? 0) + 40))}`)
  assert.ok(out.includes('message csi\\u009b31m rlo\\u202egpj.exe'), out)
  assert.ok(out.includes('esc\\e[2J'), 'ESC as \\e')
  assert.ok(out.includes('tag\\u{e0041}'))
})

test('the CLI and the logs share one rule (src/alerts/text.ts)', () => {
  assert.equal(cliInert, inert)
})
