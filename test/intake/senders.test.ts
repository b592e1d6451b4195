import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib'
import { AUTH, startTestBridge, type TestBridge } from '../helper.js'
import { encryptPayload } from '../../src/intake/decrypt.js'
import { contentDecode } from '../../src/intake/body.js'

// Lenient reading for mainstream senders: every way a .NET, Java, Go or Python HTTP stack may put a JSON (or
// an encrypted) payload on the wire is read, through real HTTP; everything else is a clear 400 (413 for a
// body that inflates past the limit) that stores nothing.

interface Answer { status: number, body: any }

/** POSTs raw bytes with exactly these headers; `chunked` sends them in pieces without a Content-Length. */
async function send (bridge: TestBridge, body: Buffer, headers: Record<string, string>, chunked = false): Promise<Answer> {
  const { hostname, port } = new URL(bridge.url)
  return await new Promise((resolve, reject) => {
    const req = request({
      host: hostname,
      port,
      path: '/webhooks/enzoic',
      method: 'POST',
      headers: { authorization: AUTH, ...(chunked ? {} : { 'content-length': String(body.length) }), ...headers }
    }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown = text
        try { parsed = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, body: parsed })
      })
    })
    req.on('error', reject)
    if (chunked) {
      // Small pieces, as a streaming serializer writes them (Go's json.Encoder on a pipe, .NET's JsonContent).
      for (let i = 0; i < body.length; i += 7) req.write(body.subarray(i, i + 7))
      req.end()
    } else {
      req.end(body)
    }
  })
}

const alert = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ exposureID: `sender-${id}`, username: `sender-${id}@acme.io`, date: '2024-02-03T04:05:06Z', ...extra })
const json = (id: string, extra?: Record<string, unknown>): string => JSON.stringify(alert(id, extra))
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8')
const BOM8 = Buffer.from([0xef, 0xbb, 0xbf])
const utf16le = (s: string, bom = true): Buffer => Buffer.concat([bom ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0), Buffer.from(s, 'utf16le')])
const utf16be = (s: string): Buffer => {
  const le = Buffer.from(s, 'utf16le')
  return Buffer.concat([Buffer.from([0xfe, 0xff]), le.swap16()])
}
const JSON_TYPE = { 'content-type': 'application/json' }

async function accepted (
  bridge: TestBridge, name: string, id: string, body: Buffer, headers: Record<string, string> = JSON_TYPE, chunked = false
): Promise<string> {
  const res = await send(bridge, body, headers, chunked)
  assert.equal(res.status, 200, `${name}: ${JSON.stringify(res.body)}`)
  assert.equal(res.body.status, 'accepted', name)
  const stored = await bridge.store.alerts.get(res.body.alertId)
  assert.equal(stored?.email, `sender-${id}@acme.io`, name)
  assert.equal(stored?.exposureId, `sender-${id}`, name)
  return res.body.alertId as string
}

test('JSON as .NET, Java, Go and Python stacks send it: BOMs, UTF-16, charsets, whitespace, chunked, double-encoded', async t => {
  const bridge = await startTestBridge(t)
  const cases: Array<[string, string, Buffer, Record<string, string>?, boolean?]> = [
    ['UTF-8 BOM (.NET Encoding.UTF8 with a preamble)', 'bom8', Buffer.concat([BOM8, utf8(json('bom8'))])],
    ['UTF-8 BOM, charset=utf-8', 'bom8cs', Buffer.concat([BOM8, utf8(json('bom8cs'))]), { 'content-type': 'application/json; charset=utf-8' }],
    ['UTF-16LE with BOM', 'u16le', utf16le(json('u16le'))],
    ['UTF-16BE with BOM', 'u16be', utf16be(json('u16be'))],
    ['UTF-16LE without BOM, charset=utf-16 (.NET Encoding.Unicode)', 'u16cs', utf16le(json('u16cs'), false), { 'content-type': 'application/json; charset=utf-16' }],
    ['UTF-16LE without BOM, no charset (RFC 4627 detection)', 'u16sniff', utf16le(json('u16sniff'), false)],
    ['charset="UTF-8" quoted, upper case', 'csq', utf8(json('csq')), { 'content-type': 'application/json;charset="UTF-8"' }],
    ['leading and trailing whitespace and newlines', 'ws', utf8(`\r\n\r\n \t${json('ws')}\r\n\r\n  `)],
    ['chunked transfer encoding, no Content-Length', 'chunked', utf8(json('chunked')), JSON_TYPE, true],
    ['chunked, BOM and gzip together', 'chunkgz', gzipSync(Buffer.concat([BOM8, utf8(json('chunkgz'))])), { ...JSON_TYPE, 'content-encoding': 'gzip' }, true],
    ['a JSON string holding the JSON (double-encoded)', 'double', utf8(JSON.stringify(json('double')))],
    ['double-encoded, with a BOM and newlines', 'doublebom', Buffer.concat([BOM8, utf8(`\n${JSON.stringify(json('doublebom'))}\n`)])],
    ['Content-Encoding: gzip', 'gzip', gzipSync(utf8(json('gzip'))), { ...JSON_TYPE, 'content-encoding': 'gzip' }],
    ['Content-Encoding: x-gzip', 'xgzip', gzipSync(utf8(json('xgzip'))), { ...JSON_TYPE, 'content-encoding': 'x-gzip' }],
    ['Content-Encoding: deflate (zlib)', 'deflate', deflateSync(utf8(json('deflate'))), { ...JSON_TYPE, 'content-encoding': 'deflate' }],
    ['Content-Encoding: deflate (raw, as some clients send it)', 'rawdeflate', deflateRawSync(utf8(json('rawdeflate'))), { ...JSON_TYPE, 'content-encoding': 'Deflate' }],
    ['Content-Encoding: br', 'br', brotliCompressSync(utf8(json('br'))), { ...JSON_TYPE, 'content-encoding': 'br' }],
    ['Content-Encoding: identity', 'identity', utf8(json('identity')), { ...JSON_TYPE, 'content-encoding': 'identity' }]
  ]
  for (const [name, id, body, headers, chunked] of cases) await accepted(bridge, name, id, body, headers, chunked)
  assert.equal((await bridge.store.alerts.list({ limit: 100 })).length, cases.length)
})

test('a charset other than UTF-8 is honoured: ISO-8859-1 and UTF-16BE text arrive intact', async t => {
  const bridge = await startTestBridge(t)
  const title = 'Café Müller – breach'
  const latin1 = Buffer.from(json('latin1', { exposureDetails: { title: 'Café Müller' } }), 'latin1')
  let id = await accepted(bridge, 'charset=ISO-8859-1', 'latin1', latin1, { 'content-type': 'application/json; charset=ISO-8859-1' })
  assert.equal((await bridge.store.alerts.get(id))?.exposureDetails?.title, 'Café Müller')
  const be = Buffer.from(json('be', { exposureDetails: { title } }), 'utf16le').swap16()
  id = await accepted(bridge, 'charset=utf-16be without BOM', 'be', be, { 'content-type': 'application/json; charset=utf-16be' })
  assert.equal((await bridge.store.alerts.get(id))?.exposureDetails?.title, title)
})

test('numbers as strings or ints and nulls where strings are expected are read, not refused', async t => {
  const bridge = await startTestBridge(t)
  const res = await send(bridge, utf8(JSON.stringify({
    exposureID: 5820469,
    username: 'typed@acme.io',
    usernameHash: null,
    customData: null,
    date: null,
    type: null,
    passwordType: '8',
    plaintextPassword: null,
    passwordHash: null,
    exposureDetails: { title: null, entries: '1000', domainsAffected: 3, date: null, sourceURLs: null, exposedData: null, category: 7 }
  })), JSON_TYPE)
  assert.equal(res.status, 200, JSON.stringify(res.body))
  const a = (await bridge.store.alerts.get(res.body.alertId))!
  assert.equal(a.exposureId, '5820469')
  assert.equal(a.email, 'typed@acme.io')
  assert.equal(a.customData, undefined)
  assert.equal(a.exposureDate, undefined)
  assert.equal(a.passwordType, 8)
  assert.equal(a.hadPassword, false, 'a null password is no password')
  assert.deepEqual(a.exposureDetails, { entries: 1000, domainsAffected: 3, category: '7' })
  assert.deepEqual(a.warnings, [])
})

test('encrypted bodies arrive with the same wrappers: BOM, quotes and escapes, line-wrapped Base64, UTF-16, URL-safe alphabet, gzip', async t => {
  const key = randomBytes(32)
  for (const layout of ['cbc', 'gcm'] as const) {
    const bridge = await startTestBridge(t, { ENZOIC_PAYLOAD_ENCRYPTION: 'required', ENZOIC_PAYLOAD_CIPHER: layout, ENZOIC_PAYLOAD_KEY: `base64:${key.toString('base64')}` })
    const enc = (id: string, plaintext = utf8(json(id))): string => {
      // Retry until the Base64 holds a '+' and a '/', so the escaping and URL-safe cases mean something.
      for (;;) {
        const b64 = encryptPayload(plaintext, key, layout)
        if (b64.includes('+') && b64.includes('/')) return b64
      }
    }
    const TEXT = { 'content-type': 'text/plain' }
    const cases: Array<[string, string, Buffer, Record<string, string>?]> = [
      ['UTF-8 BOM', 'e-bom', Buffer.concat([BOM8, utf8(enc('e-bom'))]), TEXT],
      ['a JSON string (System.Text.Json escapes + as \\u002B)', 'e-quoted', utf8(JSON.stringify(enc('e-quoted')).replaceAll('+', '\\u002B')), JSON_TYPE],
      ['quoted with a BOM and a trailing newline', 'e-bomq', Buffer.concat([BOM8, utf8(`"${enc('e-bomq')}"\r\n`)]), JSON_TYPE],
      ['MIME line-wrapped at 76 (.NET InsertLineBreaks, Java getMimeEncoder)', 'e-mime', utf8(enc('e-mime').replace(/.{76}/g, '$&\r\n')), TEXT],
      ['UTF-16LE with BOM', 'e-u16', utf16le(enc('e-u16')), { 'content-type': 'text/plain; charset=utf-16' }],
      ['URL-safe alphabet without padding', 'e-url', utf8(enc('e-url').replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')), TEXT],
      ['gzip', 'e-gzip', gzipSync(utf8(enc('e-gzip'))), { ...TEXT, 'content-encoding': 'gzip' }],
      ['plaintext with a BOM inside the ciphertext', 'e-inner-bom', utf8(enc('e-inner-bom', Buffer.concat([BOM8, utf8(json('e-inner-bom'))]))), TEXT],
      ['plaintext double-encoded inside the ciphertext', 'e-inner-double', utf8(enc('e-inner-double', utf8(JSON.stringify(json('e-inner-double'))))), TEXT]
    ]
    for (const [name, id, body, headers] of cases) await accepted(bridge, `${layout} ${name}`, id, body, headers)
    // Required encryption still refuses plaintext, however it is wrapped.
    for (const body of [Buffer.concat([BOM8, utf8(json('plain'))]), utf8(JSON.stringify(json('plain'))), utf16le(json('plain'))]) {
      const res = await send(bridge, body, JSON_TYPE)
      assert.equal(res.status, 400)
      assert.deepEqual(res.body, { error: 'encryption required' })
    }
    await bridge.close()
  }
})

test('what cannot be read is a clear 400 (413 past the size limit) and stores nothing', async t => {
  const limit = 64 * 1024
  const bridge = await startTestBridge(t, { BRIDGE_MAX_BODY_BYTES: String(limit) })
  // Gzip members concatenate: one member of 1 MiB of zeros (~1 KB), 48 times, inflates to 48 MiB from ~49 KB,
  // under the wire limit and far over it inflated.
  const mebibyte = gzipSync(Buffer.alloc(2 ** 20))
  const bomb = Buffer.concat(Array.from({ length: 48 }, () => mebibyte))
  assert.ok(bomb.length < limit, `the bomb fits the wire limit (${bomb.length} bytes)`)
  // 1 GiB in two layers: 1024 members, gzipped again, are a few kilobytes on the wire.
  const nested = gzipSync(Buffer.concat(Array.from({ length: 1024 }, () => mebibyte)))
  assert.ok(nested.length < limit, `the nested bomb fits the wire limit (${nested.length} bytes)`)
  const cases: Array<[string, Buffer, Record<string, string>, number, string]> = [
    ['gzip bomb', bomb, { 'content-encoding': 'gzip' }, 413, 'payload too large'],
    ['nested gzip bomb (gzip, gzip)', nested, { 'content-encoding': 'gzip, gzip' }, 413, 'payload too large'],
    ['corrupt gzip', Buffer.from('definitely not gzip'), { 'content-encoding': 'gzip' }, 400, 'cannot decompress'],
    ['truncated gzip', gzipSync(utf8(json('trunc'))).subarray(0, 20), { 'content-encoding': 'gzip' }, 400, 'cannot decompress'],
    ['unknown coding (compress)', utf8(json('lzw')), { 'content-encoding': 'compress' }, 400, 'unsupported content encoding'],
    ['three codings', utf8(json('three')), { 'content-encoding': 'gzip, gzip, gzip' }, 400, 'unsupported content encoding'],
    ['unknown charset', utf8(json('cs')), { 'content-type': 'application/json; charset=x-klingon' }, 400, 'unsupported charset'],
    ['UTF-32 (not a JSON encoding)', Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), Buffer.from(json('u32'), 'utf16le')]), {}, 400, 'not JSON'],
    ['a BOM alone', BOM8, {}, 400, 'empty body'],
    ['whitespace alone', utf8(' \r\n\t '), {}, 400, 'empty body'],
    ['a JSON string holding no JSON', utf8('"just words"'), {}, 400, 'not JSON'],
    ['a JSON string holding broken JSON', utf8(JSON.stringify('{"username": "x@acme.io"')), {}, 400, 'not JSON'],
    ['triple-encoded', utf8(JSON.stringify(JSON.stringify(json('triple')))), {}, 400, 'not JSON']
  ]
  for (const [name, body, headers, status, error] of cases) {
    const res = await send(bridge, body, { 'content-type': 'application/json', ...headers })
    assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`)
    assert.deepEqual(res.body, { error }, name)
  }
  assert.deepEqual(await bridge.store.alerts.list(), [])
})

test('decompression stops at the limit: the output never passes it, whatever the input inflates to', () => {
  const limit = 1000
  assert.equal(contentDecode(gzipSync(Buffer.alloc(limit)), 'gzip', limit).length, limit, 'exactly the limit is read')
  assert.throws(() => contentDecode(gzipSync(Buffer.alloc(limit + 1)), 'gzip', limit), { statusCode: 413 })
  assert.throws(() => contentDecode(deflateSync(Buffer.alloc(limit + 1)), 'deflate', limit), { statusCode: 413 })
  assert.throws(() => contentDecode(brotliCompressSync(Buffer.alloc(limit + 1)), 'br', limit), { statusCode: 413 })
})
