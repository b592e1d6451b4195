import { test } from 'node:test'
import assert from 'node:assert/strict'
import { captureLogger, postAlert, startTestBridge, waitFor } from '../helper.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { maskEmail } from '../../src/observability/logger.js'

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
  const stored = lines.find(l => l.msg === 'alert stored')!
  const finished = lines.find(l => l.msg === 'alert finished')!
  assert.match(String(stored.email), /^j\*\*\*@acme-corp\.io~[0-9a-f]{4}$/)
  assert.equal(finished.email, stored.email, 'the same address masks the same way')
  assert.equal(maskEmail('john.roe@acme-corp.io') === stored.email, false, 'another address with the same initial differs')

  const full = await startTestBridge(t, { BRIDGE_LOG_EMAILS: 'full' })
  await postAlert(full.url, { username: 'Jane.Doe@acme-corp.io', exposureID: 'e-full' })
  assert.ok(full.logs.some(l => l.includes('"email":"jane.doe@acme-corp.io"')))
})
