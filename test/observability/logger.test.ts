import { test } from 'node:test'
import assert from 'node:assert/strict'
import { captureLogger } from '../helper.js'

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
