import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, loadConfig, parseDuration, type Config } from '../../src/config/index.js'
import { tmpDir } from '../helper.js'
import { SERVER_ENTRY, TSX_IMPORT } from '../fixtures/processes.js'

const BASE = { ENZOIC_WEBHOOK_CREDENTIALS: 'key:secret' }

/** The problems loadConfig reports for env (fails if it does not throw a ConfigError). */
function problems (env: NodeJS.ProcessEnv, require: Parameters<typeof loadConfig>[1] = []): string[] {
  try {
    loadConfig(env, require)
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err))
    return err.problems
  }
  assert.fail('expected a ConfigError')
}

test('defaults: a minimal environment gives the documented configuration, frozen', () => {
  const c = loadConfig(BASE, ['webhook'])
  assert.equal(c.host, '127.0.0.1')
  assert.equal(c.port, 8080)
  assert.equal(c.logLevel, 'info')
  assert.equal(c.database, './data/bridge.db')
  assert.equal(c.maxBodyBytes, 65536)
  assert.deepEqual(c.webhookCredentials, [{ key: 'key', secret: 'secret' }])
  assert.equal(c.payloadEncryption, 'off')
  assert.equal(c.payloadKey, undefined)
  assert.equal(c.payloadCipher, 'cbc')
  assert.equal(c.clientCert, 'off')
  assert.equal(c.clientCertCN, 'webhooks.enzoic.com')
  assert.deepEqual(c.trustedProxies, ['127.0.0.1', '::1'])
  assert.equal(c.enzoicApiUrl, 'https://api.enzoic.com/v1')
  assert.equal(c.fusionAuthTimeoutMs, 10_000)
  assert.equal(c.fusionAuthConcurrency, 8)
  assert.deepEqual(c.actions.map(a => a.label), ['deactivate', 'revoke-sessions'])
  assert.equal(c.dryRun, false)
  assert.deepEqual(c.protectedUsers, [])
  assert.equal(c.skipIfPasswordChangedAfterExposure, false)
  assert.deepEqual(c.retrySchedule, [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 86400].map(s => s * 1000))
  assert.ok(Object.isFrozen(c))
  assert.throws(() => { (c as { port: number }).port = 1 })
})

test('values are parsed: credentials split at the first colon, lists, durations, actions, keys', () => {
  const c: Config = loadConfig({
    ENZOIC_WEBHOOK_CREDENTIALS: ' k1:s:e:c , k2:s2 ',
    PORT: '9000',
    LOG_LEVEL: 'WARN',
    FUSIONAUTH_URL: 'https://auth.acme.io/',
    FUSIONAUTH_API_KEY: 'fa-key',
    FUSIONAUTH_TENANT_IDS: '3f1e7c1a-52f6-4f5e-9a57-1234567890ab',
    BRIDGE_ACTIONS: 'require-password-change, comment ,user-action:5d7a0000-0000-4000-8000-000000000001,group:6A000000-0000-4000-8000-0000000000AA',
    FUSIONAUTH_ACTOR_USER_ID: '00000000-0000-4000-8000-000000000abc',
    BRIDGE_DRY_RUN: 'yes',
    BRIDGE_PROTECTED_USERS: 'Admin@Acme.io, 9b0c',
    BRIDGE_RETRY_SCHEDULE: '250ms,5s,2m,1h,1d',
    ENZOIC_PAYLOAD_ENCRYPTION: 'Optional',
    ENZOIC_PAYLOAD_KEY: 'hex:' + '00'.repeat(24),
    ENZOIC_PAYLOAD_CIPHER: 'GCM',
    ENZOIC_ALLOWED_IPS: '203.0.113.7, 2001:db8::1'
  })
  assert.deepEqual(c.webhookCredentials, [{ key: 'k1', secret: 's:e:c' }, { key: 'k2', secret: 's2' }])
  assert.equal(c.port, 9000)
  assert.equal(c.logLevel, 'warn')
  assert.equal(c.fusionAuthUrl, 'https://auth.acme.io')
  assert.deepEqual(c.actions, [
    { label: 'require-password-change', name: 'require-password-change' },
    { label: 'comment', name: 'comment' },
    { label: 'user-action:5d7a0000-0000-4000-8000-000000000001', name: 'user-action', id: '5d7a0000-0000-4000-8000-000000000001' },
    { label: 'group:6a000000-0000-4000-8000-0000000000aa', name: 'group', id: '6a000000-0000-4000-8000-0000000000aa' }
  ])
  assert.equal(c.dryRun, true)
  assert.deepEqual(c.protectedUsers, ['admin@acme.io', '9b0c'])
  assert.deepEqual(c.retrySchedule, [250, 5000, 120_000, 3_600_000, 86_400_000])
  assert.equal(c.payloadEncryption, 'optional')
  assert.equal(c.payloadKey?.length, 24)
  assert.equal(c.payloadCipher, 'gcm')
  assert.deepEqual(c.allowedIps, ['203.0.113.7', '2001:db8::1'])
  assert.equal(parseDuration('1.5s'), 1500)
  assert.equal(parseDuration('5 minutes'), undefined)
})

test('every bad variable is one line that names it and never shows its value', () => {
  const bad: Record<string, string> = {
    PORT: 'SEKRIT-port',
    LOG_LEVEL: 'SEKRIT-level',
    BRIDGE_MAX_BODY_BYTES: '12SEKRIT',
    ENZOIC_WEBHOOK_CREDENTIALS: 'SEKRIT-no-colon',
    ENZOIC_PAYLOAD_ENCRYPTION: 'SEKRIT-mode',
    ENZOIC_PAYLOAD_KEY: 'SEKRIT-short',
    ENZOIC_PAYLOAD_CIPHER: 'SEKRIT-ecb',
    ENZOIC_CLIENT_CERT: 'SEKRIT-maybe',
    TRUSTED_PROXIES: '127.0.0.1,SEKRIT-proxy',
    ENZOIC_ALLOWED_IPS: 'SEKRIT-ip',
    ENZOIC_API_URL: 'SEKRIT-not-a-url',
    FUSIONAUTH_URL: 'ftp://SEKRIT.example.com',
    FUSIONAUTH_TENANT_IDS: 'SEKRIT-tenant',
    FUSIONAUTH_TIMEOUT_MS: '5',
    FUSIONAUTH_CONCURRENCY: '-SEKRIT',
    BRIDGE_ACTIONS: 'deactivate,SEKRIT-action',
    BRIDGE_DRY_RUN: 'SEKRIT-bool',
    BRIDGE_SKIP_IF_PASSWORD_CHANGED_AFTER_EXPOSURE: 'SEKRIT',
    FUSIONAUTH_ACTOR_USER_ID: 'SEKRIT-user',
    BRIDGE_RETRY_SCHEDULE: '5s,SEKRIT'
  }
  const list = problems(bad)
  for (const name of Object.keys(bad)) {
    const lines = list.filter(p => p.startsWith(`${name}:`))
    assert.equal(lines.length, 1, `${name}: ${JSON.stringify(list)}`)
  }
  assert.equal(list.length, Object.keys(bad).length, JSON.stringify(list, null, 1))
  for (const line of list) {
    assert.ok(!line.includes('SEKRIT'), `a value leaked: ${line}`)
    assert.ok(!line.includes('\n'))
  }
  // The error message is the same lines, one per problem.
  const err = (() => { try { loadConfig(bad) } catch (e) { return e as ConfigError } })()!
  assert.equal(err.code, 'BRIDGE_CONFIG')
  assert.equal(err.message.split('\n').length, list.length + 1)
  assert.ok(!err.message.includes('SEKRIT'))
})

test('single bad values are reported on their own', () => {
  const one = (env: Record<string, string>): string[] => problems({ ...BASE, ...env })
  assert.deepEqual(one({ PORT: '65536' }), ['PORT: must be between 0 and 65535'])
  assert.deepEqual(one({ PORT: '80x' }), ['PORT: must be a whole number'])
  assert.deepEqual(one({ FUSIONAUTH_URL: 'auth.acme.io' }), ['FUSIONAUTH_URL: must be a URL'])
  assert.deepEqual(one({ FUSIONAUTH_URL: 'file:///etc/passwd' }), ['FUSIONAUTH_URL: must be an http(s) URL'])
  for (const key of ['fifteen-bytes!!', 'base64:' + Buffer.alloc(20).toString('base64'), 'hex:' + 'ab'.repeat(31)]) {
    const p = one({ ENZOIC_PAYLOAD_KEY: key })
    assert.equal(p.length, 1)
    assert.match(p[0]!, /^ENZOIC_PAYLOAD_KEY: key must be 16, 24 or 32 bytes/)
  }
  assert.match(one({ ENZOIC_PAYLOAD_KEY: 'base64:@@@@' })[0]!, /^ENZOIC_PAYLOAD_KEY: base64: key is not valid Base64$/)
  assert.match(one({ ENZOIC_PAYLOAD_KEY: 'hex:xyz' })[0]!, /^ENZOIC_PAYLOAD_KEY: hex: key is not valid hex$/)
  assert.match(one({ BRIDGE_ACTIONS: 'user-action' })[0]!, /^BRIDGE_ACTIONS: entry 1: "user-action" needs a user action id \(a UUID\)/)
  assert.match(one({ BRIDGE_ACTIONS: 'group:not-a-uuid' })[0]!, /^BRIDGE_ACTIONS: entry 1: "group" needs a group id \(a UUID\)/)
  // Every bad entry, by position (a variable's value is never echoed), with the closest name of a misspelt one.
  assert.deepEqual(one({ BRIDGE_ACTIONS: 'deactvate,revoke-sessions,explode' }), ['BRIDGE_ACTIONS: entry 1 is not a known action: did you mean deactivate? ' +
    '(deactivate, revoke-sessions, require-password-change, comment, user-action:<id>, group:<id>, notify-user:<id>); entry 3 is not a known action ' +
    '(deactivate, revoke-sessions, require-password-change, comment, user-action:<id>, group:<id>, notify-user:<id>)'])
  assert.match(one({ BRIDGE_ACTIONS: 'deactivate:x' })[0]!, /^BRIDGE_ACTIONS: .*takes no id/)
  assert.deepEqual(one({ ENZOIC_WEBHOOK_CREDENTIALS: 'a:b,:nokey' }), ['ENZOIC_WEBHOOK_CREDENTIALS: pair 2 is not key:secret'])
  assert.deepEqual(one({ ENZOIC_WEBHOOK_CREDENTIALS: 'a:' }), ['ENZOIC_WEBHOOK_CREDENTIALS: pair 1 is not key:secret'])
})

test('variables that depend on each other, and what a command requires', () => {
  assert.deepEqual(problems({ ...BASE, ENZOIC_PAYLOAD_ENCRYPTION: 'required' }), ['ENZOIC_PAYLOAD_KEY: required when ENZOIC_PAYLOAD_ENCRYPTION is required'])
  assert.deepEqual(problems({ ...BASE, ENZOIC_CLIENT_CERT: 'direct', TLS_CERT_FILE: '/c.pem' }), [
    'TLS_KEY_FILE: required when ENZOIC_CLIENT_CERT is direct',
    'ENZOIC_CLIENT_CA_FILE: required when ENZOIC_CLIENT_CERT is direct'
  ])
  assert.deepEqual(problems({ ...BASE, BRIDGE_ACTIONS: 'comment' }), ['FUSIONAUTH_ACTOR_USER_ID: required by the comment action'])
  assert.deepEqual(problems({}, ['webhook']), ['ENZOIC_WEBHOOK_CREDENTIALS: required (key:secret of the Enzoic webhook)'])
  assert.deepEqual(problems({ ENZOIC_WEBHOOK_CREDENTIALS: '  ' }, ['webhook']), ['ENZOIC_WEBHOOK_CREDENTIALS: required (key:secret of the Enzoic webhook)'])
  assert.deepEqual(problems(BASE, ['fusionauth']), ['FUSIONAUTH_URL: required', 'FUSIONAUTH_API_KEY: required'])
  assert.equal(problems(BASE, ['enzoic']).length, 2)
  // Without requirements, nothing is needed (e.g. `payload encrypt`).
  assert.doesNotThrow(() => loadConfig({}))
})

test('secrets can be given as NAME_FILE; both set or an unreadable file is a problem that shows no value', t => {
  const dir = tmpDir(t)
  const file = (name: string, text: string): string => { const f = join(dir, name); writeFileSync(f, text); return f }
  const c = loadConfig({
    ENZOIC_WEBHOOK_CREDENTIALS_FILE: file('creds', 'fk:f:secret\n'),
    ENZOIC_PAYLOAD_KEY_FILE: file('key', `base64:${Buffer.alloc(32, 1).toString('base64')}\r\n`),
    FUSIONAUTH_API_KEY_FILE: file('fa', 'fa-api-key'),
    ENZOIC_API_KEY_FILE: file('ek', 'enzoic-key\n'),
    ENZOIC_API_SECRET_FILE: file('es', 'enzoic-secret')
  }, ['webhook', 'enzoic'])
  assert.deepEqual(c.webhookCredentials, [{ key: 'fk', secret: 'f:secret' }])
  assert.deepEqual(c.payloadKey, Buffer.alloc(32, 1))
  assert.equal(c.fusionAuthApiKey, 'fa-api-key')
  assert.equal(c.enzoicApiKey, 'enzoic-key')
  assert.equal(c.enzoicApiSecret, 'enzoic-secret')

  const list = problems({
    ENZOIC_WEBHOOK_CREDENTIALS: 'SEKRIT:direct',
    ENZOIC_WEBHOOK_CREDENTIALS_FILE: file('c2', 'SEKRIT:file'),
    FUSIONAUTH_API_KEY_FILE: join(dir, 'SEKRIT-missing-file'),
    ENZOIC_PAYLOAD_KEY_FILE: file('short', 'SEKRIT-short')
  })
  assert.deepEqual(list, [
    'ENZOIC_WEBHOOK_CREDENTIALS and ENZOIC_WEBHOOK_CREDENTIALS_FILE are both set: use one',
    'FUSIONAUTH_API_KEY_FILE: cannot read the file (ENOENT)',
    'ENZOIC_PAYLOAD_KEY: key must be 16, 24 or 32 bytes (got 12)'
  ])
})

test('the server entry point exits 2 (as the CLI does) with one line per problem on stderr, and no value', t => {
  const r = spawnSync(process.execPath, [...TSX_IMPORT, SERVER_ENTRY], {
    cwd: tmpDir(t), // empty: no ./.env to read
    env: { PATH: process.env.PATH, PORT: 'SEKRIT-port', FUSIONAUTH_URL: 'SEKRIT-url', BRIDGE_ACTIONS: 'SEKRIT' },
    encoding: 'utf8',
    timeout: 20_000
  })
  assert.equal(r.status, 2, r.stderr)
  const lines = r.stderr.trim().split('\n')
  assert.equal(lines[0], 'breach-bridge: invalid configuration:')
  const named = lines.slice(1).map(l => /^ {2}- ([A-Z_]+):/.exec(l)?.[1])
  for (const name of ['PORT', 'FUSIONAUTH_URL', 'BRIDGE_ACTIONS', 'ENZOIC_WEBHOOK_CREDENTIALS']) assert.ok(named.includes(name), `${name} in ${r.stderr}`)
  assert.ok(named.every(n => n !== undefined), r.stderr)
  assert.ok(!r.stderr.includes('SEKRIT'), r.stderr)
  assert.ok(!r.stderr.includes('    at '), 'no stack trace')
  assert.equal(r.stdout, '')
})

test('list variables point at the bad entry by position', () => {
  assert.deepEqual(problems({ ...BASE, BRIDGE_ACTIONS: 'deactivate, explode' }), [
    'BRIDGE_ACTIONS: entry 2 is not a known action (deactivate, revoke-sessions, require-password-change, comment, user-action:<id>, group:<id>, notify-user:<id>)'
  ])
  assert.deepEqual(problems({ ...BASE, TRUSTED_PROXIES: '10.0.0.1,::1,nginx' }), ['TRUSTED_PROXIES: entry 3 is not an IP address'])
  assert.deepEqual(problems({ ...BASE, ENZOIC_ALLOWED_IPS: '10.0.0.300' }), ['ENZOIC_ALLOWED_IPS: entry 1 is not an IP address'])
})
