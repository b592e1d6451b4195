import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { postAlert, startTestBridge, tmpDir } from './helper.js'
import { cli as run } from './fixtures/in-process.js'
import { decryptPayload } from '../src/intake/decrypt.js'

/** `breach-bridge …` in-process with only the given environment and `input` on stdin. */
async function cli (args: string[], input: string, env: Record<string, string> = {}): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const r = await run(args, env, { stdin: input })
  return { status: r.code, stdout: r.stdout, stderr: r.stderr }
}

const ALERT = { exposureID: 'cli-1', username: 'cli@acme.io', plaintextPassword: 'x', passwordType: 0 }

test('payload encrypt: JSON on stdin becomes a body the bridge decrypts; the key from a file, from stdin\'s first line or from the environment', async t => {
  const key = randomBytes(32)
  const keyText = `base64:${key.toString('base64')}`
  const json = JSON.stringify(ALERT)
  const dir = tmpDir(t)
  const keyFile = join(dir, 'key.txt')
  writeFileSync(keyFile, `${keyText}\n`, { mode: 0o600 })

  const cbc = await cli(['payload', 'encrypt', '--key-file', keyFile], json)
  assert.equal(cbc.status, 0, cbc.stderr)
  assert.equal(cbc.stderr, '')
  assert.match(cbc.stdout, /^[A-Za-z0-9+/]+=*\n$/, 'one Base64 line')
  assert.equal(decryptPayload(Buffer.from(cbc.stdout), key, 'cbc').toString(), json)

  const piped = await cli(['payload', 'encrypt', '--key-file', '-', '--cipher', 'gcm'], `${keyText}\n${json}`)
  assert.equal(piped.status, 0, piped.stderr)
  assert.equal(decryptPayload(Buffer.from(piped.stdout), key, 'gcm').toString(), json, 'the first line of stdin is the key, the rest the JSON')
  assert.throws(() => decryptPayload(Buffer.from(piped.stdout), key, 'cbc'), { message: 'cannot decrypt' })

  const fromEnv = await cli(['payload', 'encrypt'], json, { ENZOIC_PAYLOAD_KEY: `hex:${key.toString('hex')}`, ENZOIC_PAYLOAD_CIPHER: 'gcm' })
  assert.equal(fromEnv.status, 0, fromEnv.stderr)
  assert.equal(decryptPayload(Buffer.from(fromEnv.stdout), key, 'gcm').toString(), json)
  assert.notEqual(fromEnv.stdout, piped.stdout, 'a fresh IV every time')
  const fromEnvFile = await cli(['payload', 'encrypt'], json, { ENZOIC_PAYLOAD_KEY_FILE: keyFile })
  assert.equal(fromEnvFile.status, 0, fromEnvFile.stderr)
  assert.equal(decryptPayload(Buffer.from(fromEnvFile.stdout), key, 'cbc').toString(), json)

  // The output as-is (trailing newline included) is accepted by a bridge with the same key.
  const b = await startTestBridge(t, { ENZOIC_PAYLOAD_ENCRYPTION: 'required', ENZOIC_PAYLOAD_KEY: keyText })
  const res = await postAlert(b.url, cbc.stdout, { 'content-type': 'text/plain' })
  assert.equal(res.status, 200, JSON.stringify(res.body))
  assert.equal(res.body.status, 'accepted')
  assert.equal((await b.store.alerts.get(res.body.alertId))?.email, 'cli@acme.io')
})

test('payload encrypt: a key on the command line is refused (ps, shell history), with the way to give it instead; exit 2', async () => {
  for (const args of [['--key', 'hex:' + 'ab'.repeat(16)], ['--key=hex:' + 'ab'.repeat(16)]]) {
    const r = await cli(['payload', 'encrypt', ...args], JSON.stringify(ALERT))
    assert.equal(r.status, 2, r.stderr)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^breach-bridge: --key: a key on the command line is visible to every user of this machine[^\n]*--key-file[^\n]*\n$/)
    assert.ok(!r.stderr.includes('abab'), 'the key is not repeated')
  }
  const help = await cli(['payload', 'encrypt', '--help'], '')
  assert.ok(!/--key </.test(help.stdout), 'the help offers --key-file only')
})

test('payload encrypt: stdin that is not JSON is a one-line error, exit 2', async () => {
  for (const input of ['not json at all', '{"username": "x@acme.io"', '']) {
    const r = await cli(['payload', 'encrypt', '--key-file', '-'], `hex:${'11'.repeat(16)}\n${input}`)
    assert.equal(r.status, 2, `${JSON.stringify(input)}: ${r.stderr}`)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^breach-bridge: stdin is not JSON[^\n]*\n$/)
  }
})

test('payload encrypt: a bad or missing key is a one-line error naming the problem, not the key; exit 2', async t => {
  const dir = tmpDir(t)
  const file = (name: string, text: string): string => { writeFileSync(join(dir, name), text); return join(dir, name) }
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--key-file', file('short', 'SEKRIT-short\n')], {}, /^breach-bridge: --key-file: key must be 16, 24 or 32 bytes \(got 12\)\n$/],
    [['--key-file', file('hex', 'hex:SEKRITzz')], {}, /^breach-bridge: --key-file: hex: key is not valid hex\n$/],
    [['--key-file', file('b64', 'base64:SEKRIT!!')], {}, /^breach-bridge: --key-file: base64: key is not valid Base64\n$/],
    [['--key-file', join(dir, 'missing')], {}, /^breach-bridge: --key-file: cannot read the file \(ENOENT\)\n$/],
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
