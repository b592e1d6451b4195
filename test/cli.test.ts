import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { postAlert, startTestBridge } from './helper.js'
import { cli as run } from './fixtures/in-process.js'
import { decryptPayload } from '../src/intake/decrypt.js'

/** `breach-bridge …` in-process with only the given environment and `input` on stdin. */
async function cli (args: string[], input: string, env: Record<string, string> = {}): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const r = await run(args, env, { stdin: input })
  return { status: r.code, stdout: r.stdout, stderr: r.stderr }
}

const ALERT = { exposureID: 'cli-1', username: 'cli@acme.io', plaintextPassword: 'x', passwordType: 0 }

test('payload encrypt: JSON on stdin becomes a body the bridge decrypts (cbc by default, gcm on request, key from env)', async t => {
  const key = randomBytes(32)
  const keyText = `base64:${key.toString('base64')}`
  const json = JSON.stringify(ALERT)

  const cbc = await cli(['payload', 'encrypt', '--key', keyText], json)
  assert.equal(cbc.status, 0, cbc.stderr)
  assert.equal(cbc.stderr, '')
  assert.match(cbc.stdout, /^[A-Za-z0-9+/]+=*\n$/, 'one Base64 line')
  assert.equal(decryptPayload(Buffer.from(cbc.stdout), key, 'cbc').toString(), json)

  const gcm = await cli(['payload', 'encrypt', '--cipher', 'gcm'], json, { ENZOIC_PAYLOAD_KEY: keyText })
  assert.equal(gcm.status, 0, gcm.stderr)
  assert.equal(decryptPayload(Buffer.from(gcm.stdout), key, 'gcm').toString(), json)
  assert.throws(() => decryptPayload(Buffer.from(gcm.stdout), key, 'cbc'), { message: 'cannot decrypt' })

  const fromEnv = await cli(['payload', 'encrypt'], json, { ENZOIC_PAYLOAD_KEY: `hex:${key.toString('hex')}`, ENZOIC_PAYLOAD_CIPHER: 'gcm' })
  assert.equal(fromEnv.status, 0, fromEnv.stderr)
  assert.equal(decryptPayload(Buffer.from(fromEnv.stdout), key, 'gcm').toString(), json)
  assert.notEqual(fromEnv.stdout, gcm.stdout, 'a fresh IV every time')

  // The output as-is (trailing newline included) is accepted by a bridge with the same key.
  const b = await startTestBridge(t, { ENZOIC_PAYLOAD_ENCRYPTION: 'required', ENZOIC_PAYLOAD_KEY: keyText })
  const res = await postAlert(b.url, cbc.stdout, { 'content-type': 'text/plain' })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.status, 'accepted')
  assert.equal((await b.store.alerts.get(res.body.alertId))?.email, 'cli@acme.io')
})

test('payload encrypt: stdin that is not JSON is a one-line error, exit 2', async () => {
  for (const input of ['not json at all', '{"username": "x@acme.io"', '']) {
    const r = await cli(['payload', 'encrypt', '--key', 'hex:' + '11'.repeat(16)], input)
    assert.equal(r.status, 2, `${JSON.stringify(input)}: ${r.stderr}`)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^breach-bridge: stdin is not JSON[^\n]*\n$/)
  }
})

test('payload encrypt: a bad or missing key is a one-line error naming the problem, not the key; exit 2', async () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--key', 'SEKRIT-short'], {}, /^breach-bridge: --key: key must be 16, 24 or 32 bytes \(got 12\)\n$/],
    [['--key', 'hex:SEKRITzz'], {}, /^breach-bridge: --key: hex: key is not valid hex\n$/],
    [['--key', 'base64:SEKRIT!!'], {}, /^breach-bridge: --key: base64: key is not valid Base64\n$/],
    [[], { ENZOIC_PAYLOAD_KEY: 'SEKRIT-from-env' }, /^breach-bridge: [^\n]*key must be 16, 24 or 32 bytes \(got 15\)\n$/],
    [[], {}, /^breach-bridge: no key[^\n]*\n$/]
  ]
  for (const [args, env, expected] of cases) {
    const r = await cli(['payload', 'encrypt', ...args], JSON.stringify(ALERT), env)
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, expected)
    assert.ok(!r.stderr.includes('SEKRIT'), `the key leaked: ${r.stderr}`)
  }
})
