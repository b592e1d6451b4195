import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { postAlert, startTestBridge } from '../helper.js'
import { decryptPayload, encryptPayload, parsePayloadKey, type CipherLayout } from '../../src/intake/decrypt.js'

const alert = (n: string): Record<string, unknown> => ({
  exposureID: `exp-enc-${n}`,
  username: `enc-${n}@acme.io`,
  plaintextPassword: `Plain-${n}-x9`,
  passwordType: 0,
  date: '2023-05-06T07:08:09Z'
})
const TEXT = { 'content-type': 'text/plain' }

/** The encoded ways to write a key in ENZOIC_PAYLOAD_KEY (raw text is added per size below). */
const keyForms = (key: Buffer): Array<[string, string]> =>
  [['base64', `base64:${key.toString('base64')}`], ['hex', `hex:${key.toString('hex')}`]]

test('cbc and gcm bodies decrypt with AES-128/192/256 keys written as base64:, hex: and raw text', async t => {
  const combos: Array<{ layout: CipherLayout, size: number, form: string, text: string, key: Buffer }> = []
  for (const layout of ['cbc', 'gcm'] as const) {
    for (const size of [16, 24, 32]) {
      const key = randomBytes(size)
      for (const [form, text] of keyForms(key)) combos.push({ layout, size, form, text, key })
      const raw = 'k'.repeat(size - 4) + 'Ra:w'
      combos.push({ layout, size, form: 'raw', text: raw, key: Buffer.from(raw) })
    }
  }
  let n = 0
  // Every written form parses to the key, and every layout and size decrypts (in process: once parsed, the form
  // plays no further part).
  for (const c of combos) {
    const parsed = parsePayloadKey(c.text)
    assert.ok(Buffer.isBuffer(parsed) && parsed.equals(c.key), `${c.layout} AES-${c.size * 8} ${c.form}: key parsed`)
    const plain = Buffer.from(JSON.stringify(alert(`p${c.layout}${c.size}${c.form}`)))
    assert.ok(decryptPayload(encryptPayload(plain, c.key, c.layout), parsed, c.layout).equals(plain), `${c.layout} AES-${c.size * 8} ${c.form}: decrypted`)
  }
  // Through the bridge, from ENZOIC_PAYLOAD_KEY to the stored alert: each layout once, with different sizes and forms.
  const served = [
    combos.find(c => c.layout === 'cbc' && c.size === 16 && c.form === 'raw')!,
    combos.find(c => c.layout === 'gcm' && c.size === 32 && c.form === 'base64')!,
    combos.find(c => c.layout === 'gcm' && c.size === 24 && c.form === 'hex')!
  ]
  for (const c of served) {
    const label = `${c.layout} AES-${c.size * 8} ${c.form}`
    const b = await startTestBridge(t, { ENZOIC_PAYLOAD_ENCRYPTION: 'optional', ENZOIC_PAYLOAD_CIPHER: c.layout, ENZOIC_PAYLOAD_KEY: c.text })
    const body = encryptPayload(Buffer.from(JSON.stringify(alert(String(++n)))), c.key, c.layout)
    const res = await postAlert(b.url, body, TEXT)
    assert.equal(res.status, 200, `${label}: ${JSON.stringify(res.body)}`)
    assert.equal(res.body.status, 'accepted')
    const stored = (await b.store.alerts.get(res.body.alertId))
    assert.equal(stored?.email, `enc-${n}@acme.io`, label)
    assert.equal(stored?.hadPassword, true)
    // The same body as a JSON string literal, or with a trailing newline, is accepted too (a duplicate now).
    const again = await postAlert(b.url, `"${body}"\n`, TEXT)
    assert.equal(again.body.status, 'duplicate', `${label}: quoted body`)
    await b.close()
  }
})

test('every decryption failure is the same 400 {"error":"cannot decrypt"}', async t => {
  const key = randomBytes(32)
  const other = randomBytes(32)
  const plain = Buffer.from(JSON.stringify(alert('fail')))
  for (const layout of ['cbc', 'gcm'] as const) {
    const b = await startTestBridge(t, { ENZOIC_PAYLOAD_ENCRYPTION: 'optional', ENZOIC_PAYLOAD_CIPHER: layout, ENZOIC_PAYLOAD_KEY: `base64:${key.toString('base64')}` })
    const good = encryptPayload(plain, key, layout)
    const tampered = Buffer.from(good, 'base64')
    if (layout === 'gcm') tampered[tampered.length - 1]! ^= 0x01 // the tag
    else tampered[20]! ^= 0x01 // the first ciphertext block: garbage, usually bad padding
    // cbc: byte 14 of the IV flips plaintext byte 14, the opening quote of the exposureID value; gcm: ciphertext.
    const tamperedCiphertext = Buffer.from(good, 'base64')
    tamperedCiphertext[14]! ^= 0x80
    const bodies: Array<[string, string]> = [
      ['wrong key', encryptPayload(plain, other, layout)],
      ['wrong layout', encryptPayload(plain, key, layout === 'cbc' ? 'gcm' : 'cbc')],
      [layout === 'gcm' ? 'tampered tag' : 'tampered ciphertext', tampered.toString('base64')],
      ['tampered iv/ciphertext', tamperedCiphertext.toString('base64')],
      ['truncated', good.slice(0, 24)],
      ['not base64', '%%%% this is not base64 %%%%'],
      ['encrypted non-JSON', encryptPayload(Buffer.from('hello, not json'), key, layout)]
    ]
    for (const [name, body] of bodies) {
      const res = await postAlert(b.url, body, TEXT)
      assert.equal(res.status, 400, `${layout} ${name}: ${JSON.stringify(res.body)}`)
      assert.deepEqual(res.body, { error: 'cannot decrypt' }, `${layout} ${name}`)
    }
    assert.deepEqual((await b.store.alerts.list()), [], `${layout}: nothing stored`)
    // The correct body is accepted, so the refusals above were about the body.
    assert.equal((await postAlert(b.url, good, TEXT)).status, 200)
    await b.close()
  }
})

test('gcm: flipping any single byte of the tag is refused', () => {
  const key = randomBytes(16)
  const good = Buffer.from(encryptPayload(Buffer.from('{"a":1}'), key, 'gcm'), 'base64')
  assert.deepEqual(JSON.parse(decryptPayload(Buffer.from(good.toString('base64')), key, 'gcm').toString()), { a: 1 })
  for (let i = good.length - 16; i < good.length; i++) {
    const bad = Buffer.from(good)
    bad[i]! ^= 0x40
    assert.throws(() => decryptPayload(Buffer.from(bad.toString('base64')), key, 'gcm'), { message: 'cannot decrypt' })
  }
})

test('ENZOIC_PAYLOAD_ENCRYPTION=required refuses plaintext JSON and takes encrypted bodies', async t => {
  const key = randomBytes(24)
  const b = await startTestBridge(t, { ENZOIC_PAYLOAD_ENCRYPTION: 'required', ENZOIC_PAYLOAD_KEY: `hex:${key.toString('hex')}` })
  for (const body of [alert('plain'), `   \n${JSON.stringify(alert('plain'))}`, [alert('plain')]]) {
    const res = await postAlert(b.url, body)
    assert.equal(res.status, 400)
    assert.deepEqual(res.body, { error: 'encryption required' })
  }
  assert.deepEqual((await b.store.alerts.list()), [])
  const res = await postAlert(b.url, encryptPayload(Buffer.from(JSON.stringify(alert('req'))), key, 'cbc'), TEXT)
  assert.equal(res.status, 200)
  assert.equal(res.body.status, 'accepted')
})

test('ENZOIC_PAYLOAD_ENCRYPTION=off refuses a non-JSON (e.g. encrypted) body', async t => {
  const key = randomBytes(32)
  const b = await startTestBridge(t, { ENZOIC_PAYLOAD_ENCRYPTION: 'off', ENZOIC_PAYLOAD_KEY: `base64:${key.toString('base64')}` })
  const res = await postAlert(b.url, encryptPayload(Buffer.from(JSON.stringify(alert('off'))), key, 'cbc'), TEXT)
  assert.equal(res.status, 400)
  assert.deepEqual(res.body, { error: 'not JSON' })
  assert.deepEqual((await b.store.alerts.list()), [])
  assert.equal((await postAlert(b.url, alert('off'))).status, 200, 'plain JSON is still taken')
})

test('CBC has no MAC: whoever holds one ciphertext can flip bits of its IV and change the username; GCM refuses the same edit', async t => {
  // Documents a property of Enzoic's CBC layout (not something the bridge can fix), and why the README
  // recommends GCM where Enzoic offers it.
  const key = randomBytes(32)
  const original = { username: 'alice@acme.io', exposureID: 'exp-malleable' }
  const plaintext = Buffer.from(JSON.stringify(original))
  // `{"username":"alice…`: the plaintext byte at 13 is the `a` of alice; make it an `m`.
  const at = plaintext.indexOf('alice')
  assert.ok(at < 16, 'the edited byte is in the first block, which the IV alone controls')
  const edit = 'a'.charCodeAt(0) ^ 'm'.charCodeAt(0)

  const cbcBridge = await startTestBridge(t, { ENZOIC_PAYLOAD_ENCRYPTION: 'required', ENZOIC_PAYLOAD_CIPHER: 'cbc', ENZOIC_PAYLOAD_KEY: `base64:${key.toString('base64')}` })
  const cbc = Buffer.from(encryptPayload(plaintext, key, 'cbc'), 'base64')
  cbc[at]! ^= edit // IV byte `at` flips plaintext byte `at` of block 1; nothing else changes
  const forged = await postAlert(cbcBridge.url, cbc.toString('base64'), TEXT)
  assert.equal(forged.status, 200, JSON.stringify(forged.body))
  assert.equal((await cbcBridge.store.alerts.get(forged.body.alertId))?.email, 'mlice@acme.io', 'the forged username was accepted')

  const gcmBridge = await startTestBridge(t, { ENZOIC_PAYLOAD_ENCRYPTION: 'required', ENZOIC_PAYLOAD_CIPHER: 'gcm', ENZOIC_PAYLOAD_KEY: `base64:${key.toString('base64')}` })
  const gcm = Buffer.from(encryptPayload(plaintext, key, 'gcm'), 'base64')
  gcm[12 + at]! ^= edit // GCM is a stream mode: the same edit of the ciphertext would make the same `mlice`…
  const refused = await postAlert(gcmBridge.url, gcm.toString('base64'), TEXT)
  assert.equal(refused.status, 400) // …but the tag no longer matches
  assert.deepEqual(refused.body, { error: 'cannot decrypt' })
  assert.deepEqual(await gcmBridge.store.alerts.list(), [])

  // The README says so, and recommends GCM.
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const security = readme.slice(readme.indexOf('## Security'), readme.indexOf('\n## ', readme.indexOf('## Security') + 1))
  assert.match(security, /CBC[^\n]*(?:\n[^\n]+)*MAC/, 'the security notes explain that CBC bodies carry no MAC')
  assert.match(security, /ENZOIC_PAYLOAD_CIPHER=gcm/, 'and recommend GCM')
})
