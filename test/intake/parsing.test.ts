import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { AUTH, postAlert, startTestBridge } from '../helper.js'
import { classify } from '../../src/intake/alert.js'

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')

test('a full Enzoic alert is parsed, its .NET 7-digit dates read, and nothing of the password kept but its type', async t => {
  const b = await startTestBridge(t)
  const res = await postAlert(b.url, {
    date: '2017-01-17T04:51:05.1915231Z',
    exposureID: '5820469ffdb8780510b329cc',
    username: 'eicar_0@enzoic.com',
    usernameHash: sha256('eicar_0@enzoic.com'),
    plaintextPassword: 'Pa55-full-alert',
    passwordType: 0,
    customData: 'crm-123',
    exposureDetails: {
      title: 'Acme breach',
      date: '2016-12-01T00:00:00.0000000Z',
      entries: '1000',
      domainsAffected: 3,
      category: 'Retail',
      sourceURLs: ['https://example.net/leak', 7],
      source: 'Forum',
      passwordTypes: [0, 'MD5', { x: 1 }],
      exposedData: ['Emails', 'Passwords'],
      dateAdded: '2017-01-16T22:11:00.1234567Z'
    }
  })
  assert.equal(res.status, 200)
  const a = (await b.store.alerts.get(res.body.alertId))!
  assert.equal(a.exposureDate, '2017-01-17T04:51:05.191Z')
  assert.equal(a.exposureId, '5820469ffdb8780510b329cc')
  assert.equal(a.customData, 'crm-123')
  assert.equal(a.hadPassword, true)
  assert.equal(a.passwordType, 0)
  assert.deepEqual(a.warnings, [])
  assert.deepEqual(a.exposureDetails, {
    title: 'Acme breach',
    date: '2016-12-01T00:00:00.000Z',
    entries: 1000,
    domainsAffected: 3,
    category: 'Retail',
    sourceURLs: ['https://example.net/leak'],
    source: 'Forum',
    passwordTypes: [0, 'MD5'],
    exposedData: ['Emails', 'Passwords'],
    dateAdded: '2017-01-16T22:11:00.123Z'
  })
  assert.equal(a.extra, undefined, 'no unknown keys, and the password fields are not "unknown keys"')
  assert.equal(a.state, 'queued')
})

test('unknown keys are kept aside in extra (never fatal); secret-looking ones are dropped', async t => {
  const b = await startTestBridge(t)
  const res = await postAlert(b.url, {
    exposureID: 'exp-extra',
    username: 'extra@acme.io',
    alertVersion: 3,
    region: { name: 'eu', codes: [1, 2] },
    apiToken: 'tok-VISIBLE-NOWHERE-1',
    userPasswordPlain: 'pw-VISIBLE-NOWHERE-2',
    passwordSalt: 'salt-VISIBLE-NOWHERE-3',
    meta: { source: 'x', password: 'pw-VISIBLE-NOWHERE-4', items: [{ passwordHash: 'hash-VISIBLE-NOWHERE-5', ok: true }] }
  })
  assert.equal(res.status, 200)
  const a = (await b.store.alerts.get(res.body.alertId))!
  assert.deepEqual(a.extra, {
    alertVersion: 3,
    region: { name: 'eu', codes: [1, 2] },
    apiToken: '[dropped]',
    userPasswordPlain: '[dropped]',
    meta: { source: 'x', password: '[dropped]', items: [{ passwordHash: '[dropped]', ok: true }] }
  }, 'nested secret-looking keys are dropped too')
  assert.equal(a.hadPassword, false, 'a salt alone is no password')
  const everything = JSON.stringify(a) + b.logs.join('\n')
  assert.ok(!everything.includes('VISIBLE-NOWHERE'))
})

test('an alert with most fields missing is still stored', async t => {
  const b = await startTestBridge(t)
  for (const body of [{ username: 'only-email@acme.io' }, { usernameHash: sha256('hash-only@acme.io') }, { customData: 'fusionauth:t:u' }]) {
    const res = await postAlert(b.url, body)
    assert.equal(res.status, 200, JSON.stringify(body))
    assert.equal(res.body.status, 'accepted')
    const a = (await b.store.alerts.get(res.body.alertId))!
    assert.equal(a.exposureId, undefined)
    assert.equal(a.exposureDate, undefined)
    assert.equal(a.passwordType, undefined)
    assert.equal(a.hadPassword, false)
    assert.deepEqual(a.warnings, [])
  }
  const [emailOnly] = (await b.store.alerts.list({ limit: 3 })).reverse()
  assert.equal(emailOnly?.usernameHash, sha256('only-email@acme.io'), 'the hash is computed from the email when absent')
})

test('passwordType 1, "1" and "MD5" all mean 1; an unknown name is kept with a warning', async t => {
  const b = await startTestBridge(t)
  const cases: Array<[unknown, number | undefined, string[]]> = [
    [1, 1, []], ['1', 1, []], ['MD5', 1, []], [' md5 ', 1, []], ['BCrypt', 8, []],
    ['Rot13Plus', undefined, ['passwordType name not recognised']],
    [{ x: 1 }, undefined, ['passwordType is not a number or name']]
  ]
  for (const [i, [value, expected, warnings]] of cases.entries()) {
    const res = await postAlert(b.url, { exposureID: `exp-pt-${i}`, username: 'pt@acme.io', passwordHash: 'abc', passwordType: value })
    assert.equal(res.status, 200, `passwordType ${JSON.stringify(value)}`)
    const a = (await b.store.alerts.get(res.body.alertId))!
    assert.equal(a.passwordType, expected, `passwordType ${JSON.stringify(value)}`)
    assert.deepEqual(a.warnings, warnings, `passwordType ${JSON.stringify(value)}`)
    assert.equal(a.hadPassword, true)
  }
  const md5 = (await b.store.alerts.list()).find(a => a.exposureId === 'exp-pt-2')
  assert.equal(md5?.passwordTypeName, 'MD5')
  const unknown = (await b.store.alerts.list()).find(a => a.exposureId === 'exp-pt-5')
  assert.equal(unknown?.passwordTypeName, 'Rot13Plus')
  assert.ok(b.logs.some(l => l.includes('passwordType name not recognised')), 'the warning is logged')
})

test('dates: 7-digit fractions, offsets, no zone, and unreadable (warning)', () => {
  const at = (date: string): { exposureDate?: string, warnings: string[] } => {
    const c = classify({ username: 'd@acme.io', date })
    assert.equal(c.kind, 'alert')
    return c.kind === 'alert' ? c.alert : { warnings: [] }
  }
  assert.equal(at('2017-01-17T04:51:05.1915231Z').exposureDate, '2017-01-17T04:51:05.191Z')
  assert.equal(at('2017-01-17T04:51:05.1Z').exposureDate, '2017-01-17T04:51:05.100Z')
  assert.equal(at('2017-01-17T06:51:05.1915231+02:00').exposureDate, '2017-01-17T04:51:05.191Z')
  assert.equal(at('2017-01-17T04:51:05').exposureDate, '2017-01-17T04:51:05.000Z')
  assert.equal(at('2017-01-17').exposureDate, '2017-01-17T00:00:00.000Z')
  const bad = at('yesterday')
  assert.equal(bad.exposureDate, undefined)
  assert.deepEqual(bad.warnings, ['date not recognised'])
})

test('an upper-case email with spaces is trimmed and lower-cased, and has the clean email\'s idempotency key', async t => {
  const b = await startTestBridge(t)
  const clean = await postAlert(b.url, { exposureID: 'exp-case', username: 'mixed.case@acme.io' })
  const messy = await postAlert(b.url, { exposureID: 'exp-case', username: '  Mixed.CASE@ACME.IO \t' })
  assert.equal(clean.body.status, 'accepted')
  assert.deepEqual(messy.body, { status: 'duplicate', alertId: clean.body.alertId })
  const a = (await b.store.alerts.get(clean.body.alertId))!
  assert.equal(a.email, 'mixed.case@acme.io')
  assert.equal(a.deliveries, 2)
  const c1 = classify({ exposureID: 'exp-case', username: 'mixed.case@acme.io' })
  const c2 = classify({ exposureID: 'exp-case', username: '  Mixed.CASE@ACME.IO \t' })
  assert.ok(c1.kind === 'alert' && c2.kind === 'alert')
  assert.equal(c1.alert.idempotencyKey, c2.alert.idempotencyKey)
  // A different exposure, customData or email is a different alert.
  for (const other of [{ exposureID: 'exp-case-2', username: 'mixed.case@acme.io' }, { exposureID: 'exp-case', username: 'mixed.case@acme.io', customData: 'x' }, { exposureID: 'exp-case', username: 'other@acme.io' }]) {
    assert.equal((await postAlert(b.url, other)).body.status, 'accepted', JSON.stringify(other))
  }
})

test('a usernameHash that does not match the email is stored with a warning', async t => {
  const b = await startTestBridge(t)
  const wrong = sha256('someone-else@acme.io')
  const res = await postAlert(b.url, { exposureID: 'exp-hash', username: 'hash@acme.io', usernameHash: wrong.toUpperCase() })
  assert.equal(res.status, 200)
  const a = (await b.store.alerts.get(res.body.alertId))!
  assert.equal(a.email, 'hash@acme.io')
  assert.equal(a.usernameHash, wrong)
  assert.deepEqual(a.warnings, ['usernameHash does not match username'])
  const matching = await postAlert(b.url, { exposureID: 'exp-hash-ok', username: 'Hash@acme.io', usernameHash: sha256('hash@acme.io') })
  assert.deepEqual((await b.store.alerts.get(matching.body.alertId))!.warnings, [])
})

test('bodies that are not JSON or not an alert get 400 and store nothing', async t => {
  const b = await startTestBridge(t)
  const cases: Array<[string, string | object, string | RegExp, Record<string, string>?]> = [
    ['plain text', 'hello there', 'not JSON', { 'content-type': 'text/plain' }],
    ['broken JSON', '{"username": "x@acme.io"', 'not JSON'],
    ['empty body', '', 'empty body', { 'content-type': 'text/plain' }],
    ['JSON without username/usernameHash/customData', { exposureID: 'x', date: '2020-01-01', passwordType: 1 }, /^not an alert/],
    ['blank username', { username: '   ', exposureID: 'x' }, /^not an alert/],
    ['JSON array', [{ username: 'x@acme.io' }], /^not an alert/],
    ['prototype pollution attempt', '{"__proto__": {"username": "x@acme.io"}}', /^not an alert/]
  ]
  for (const [name, body, error, headers] of cases) {
    const res = await postAlert(b.url, body, headers)
    assert.equal(res.status, 400, `${name}: ${JSON.stringify(res.body)}`)
    assert.deepEqual(Object.keys(res.body), ['error'], name)
    if (typeof error === 'string') assert.equal(res.body.error, error, name)
    else assert.match(res.body.error, error, name)
  }
  assert.deepEqual((await b.store.alerts.list()), [])
})

test('any content type (or none) is read raw', async t => {
  const b = await startTestBridge(t)
  for (const type of ['application/json', 'text/plain', 'application/octet-stream', 'application/x-www-form-urlencoded']) {
    const res = await postAlert(b.url, { exposureID: `exp-ct-${type}`, username: 'ct@acme.io' }, { 'content-type': type })
    assert.equal(res.status, 200, `${type}: ${JSON.stringify(res.body)}`)
  }
})

test('identity (piiAlert) and BIN (monitoredBin) alerts are answered 200 ignored and not stored', async t => {
  const b = await startTestBridge(t)
  const identity = await postAlert(b.url, { type: 'piiAlert', username: 'pii@acme.io', exposureID: 'e1' })
  assert.equal(identity.status, 200)
  assert.equal(identity.body.status, 'ignored')
  assert.match(identity.body.reason, /identity/)
  const bin = await postAlert(b.url, { monitoredBin: '411111', username: 'bin@acme.io', exposureID: 'e2' })
  assert.equal(bin.status, 200)
  assert.equal(bin.body.status, 'ignored')
  assert.match(bin.body.reason, /BIN/)
  assert.deepEqual((await b.store.alerts.list()), [])
  assert.deepEqual(Object.values((await b.store.alerts.countByState())).reduce((x, y) => x + y, 0), 0)
})

test('test alerts (reserved domains) are stored done with outcome test and answered test:true', async t => {
  const b = await startTestBridge(t)
  for (const username of ['sample@email.tst', 'x@example.com', 'X@Sub.Example.ORG', 'a@b.invalid']) {
    const res = await postAlert(b.url, { exposureID: 'exp-test', username })
    assert.equal(res.status, 200)
    assert.deepEqual(Object.keys(res.body).sort(), ['alertId', 'status', 'test'])
    assert.equal(res.body.status, 'accepted')
    assert.equal(res.body.test, true)
    const a = (await b.store.alerts.get(res.body.alertId))!
    assert.equal(a.test, true)
    assert.equal(a.state, 'done')
    assert.equal(a.outcome, 'test')
    assert.deepEqual((await b.store.alerts.events(a.id)).map(e => e.state), ['queued', 'done'])
  }
  // Not test domains: look-alikes.
  for (const username of ['x@example.co', 'x@notexample.com', 'x@acme.testing']) {
    const res = await postAlert(b.url, { exposureID: 'exp-test', username })
    assert.equal(res.body.test, undefined, username)
    assert.equal((await b.store.alerts.get(res.body.alertId))?.state, 'queued', username)
  }
})

test('a duplicate is answered 200 duplicate with the first alert\'s id and counted as a delivery', async t => {
  const b = await startTestBridge(t)
  const body = { exposureID: 'exp-dup', username: 'dup@acme.io', customData: 'c1' }
  const first = await postAlert(b.url, body)
  assert.deepEqual(first.body, { status: 'accepted', alertId: first.body.alertId })
  const second = await postAlert(b.url, { ...body, date: '2024-01-01T00:00:00Z', passwordType: 3 })
  assert.deepEqual(second.body, { status: 'duplicate', alertId: first.body.alertId })
  // Concurrent re-deliveries land in one group commit; still one row.
  const burst = await Promise.all(Array.from({ length: 10 }, () => postAlert(b.url, body)))
  for (const r of burst) assert.deepEqual(r.body, { status: 'duplicate', alertId: first.body.alertId })
  assert.equal((await b.store.alerts.list()).length, 1)
  assert.equal((await b.store.alerts.get(first.body.alertId))!.deliveries, 12)
  // A duplicate of a test alert still says test.
  const t1 = await postAlert(b.url, { exposureID: 'e', username: 'x@example.com' })
  const t2 = await postAlert(b.url, { exposureID: 'e', username: 'x@example.com' })
  assert.deepEqual(t2.body, { status: 'duplicate', alertId: t1.body.alertId, test: true })
})

test('a body above BRIDGE_MAX_BODY_BYTES gets 413; one at the limit is read', async t => {
  const limit = 1024
  const b = await startTestBridge(t, { BRIDGE_MAX_BODY_BYTES: String(limit) })
  const sized = (n: number): string => {
    const base = JSON.stringify({ exposureID: 'exp-size', username: 'size@acme.io', pad: '' })
    return base.replace('"pad":""', `"pad":"${'p'.repeat(n - base.length)}"`)
  }
  assert.equal(Buffer.byteLength(sized(limit)), limit)
  const atLimit = await postAlert(b.url, sized(limit))
  assert.equal(atLimit.status, 200)
  const over = await postAlert(b.url, sized(limit + 1))
  assert.equal(over.status, 413)
  assert.deepEqual(over.body, { error: 'payload too large' })
  // Chunked (no content-length) is limited too.
  const chunked = await fetch(`${b.url}/webhooks/enzoic`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/json' },
    body: new ReadableStream({ start (c) { c.enqueue(Buffer.from(sized(limit * 4))); c.close() } }),
    duplex: 'half'
  } as RequestInit)
  assert.equal(chunked.status, 413)
  assert.equal((await b.store.alerts.list()).length, 1)
})
