// `breach-bridge fusionauth webhooks register | list | delete`, in-process against the FusionAuth fake (its webhooks and
// tenants' event configuration are validated against FusionAuth's OpenAPI spec in fakes/fusionauth.test.ts).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { lstatSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseEnv } from 'dotenv'
import { FUSIONAUTH_EVENTS } from '../../src/alerts/fusionauth-events.js'
import { startFusionAuthFake, type FusionAuthFake, type FusionAuthFakeOptions } from '../fakes/fusionauth.js'
import { createEventSigner } from '../fakes/fusionauth-events.js'
import { cli } from '../fixtures/in-process.js'
import { runCli } from '../fixtures/processes.js'
import { freePort, startTestBridge, tmpDir, waitFor } from '../helper.js'

const URL = 'https://bridge.example.com/webhooks/fusionauth'
const TYPES = FUSIONAUTH_EVENTS.map(e => e.type)

async function fake (t: TestContext, opts: FusionAuthFakeOptions = {}): Promise<{ fa: FusionAuthFake, env: NodeJS.ProcessEnv }> {
  const fa = await startFusionAuthFake(opts)
  t.after(() => fa.close())
  return { fa, env: { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_DATABASE: join(tmpDir(t), 'bridge.db') } }
}

const register = async (env: NodeJS.ProcessEnv, ...extra: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
  await cli(['fusionauth', 'webhooks', 'register', '--url', URL, ...extra], env)

test('register: one webhook with every event, a generated Authorization secret, global; the events enabled on every tenant (None); run twice, nothing changes', async t => {
  const { fa, env } = await fake(t, { tenants: 2 })
  const first = await register(env)
  assert.equal(first.code, 0, first.stderr)
  const [hook] = fa.webhooks()
  assert.ok(hook !== undefined)
  assert.equal(hook.url, URL)
  assert.deepEqual(Object.keys(hook.eventsEnabled).sort(), [...TYPES].sort())
  assert.ok(Object.values(hook.eventsEnabled).every(Boolean))
  assert.deepEqual([hook.global, hook.tenantIds, hook.signatureConfiguration], [true, [], { enabled: false }])
  assert.match(hook.headers.Authorization ?? '', /^Bearer [A-Za-z0-9_-]{43}$/, 'a random 256-bit secret')
  assert.ok(hook.connectTimeout > 0 && hook.readTimeout > 0)
  for (const tenant of fa.tenants) {
    for (const type of TYPES) assert.deepEqual(tenant.eventConfiguration.events[type], { enabled: true, transactionType: 'None' }, `${tenant.name} ${type}`)
    assert.equal(tenant.eventConfiguration.events['user.login.failed']?.enabled, false, 'nothing else')
  }
  assert.match(first.stdout, new RegExp(`^Webhook ${hook.id} → ${URL}: created$`, 'm'))
  assert.match(first.stdout, /^ {2}Authorization header: generated$/m)
  assert.match(first.stdout, /^Tenant Default \([0-9a-f-]{36}\): updated, enabled user\.password\.breach, .* \(transaction None\)$/m)
  assert.ok(first.stdout.includes(`FUSIONAUTH_WEBHOOK_SECRET="${hook.headers.Authorization!}"`), 'shown once, to put in the environment')

  fa.clearJournal()
  const second = await register(env)
  assert.equal(second.code, 0, second.stderr)
  assert.equal(fa.webhooks().length, 1, 'found again by its URL')
  assert.deepEqual(fa.webhooks()[0], hook, 'not touched')
  assert.deepEqual(fa.mutatingCalls(), [], 'nothing written to FusionAuth')
  assert.match(second.stdout, new RegExp(`^Webhook ${hook.id} → ${URL}: unchanged$`, 'm'))
  assert.match(second.stdout, /^ {2}Authorization header: kept/m)
  assert.equal((second.stdout.match(/: unchanged \(sends every event/g) ?? []).length, 2)
  assert.ok(!second.stdout.includes(hook.headers.Authorization!), 'a kept secret is not printed again')

  const json = JSON.parse((await register(env, '--json')).stdout)
  assert.deepEqual([json.webhook.id, json.webhook.change, json.webhook.secret, json.secret], [hook.id, 'unchanged', 'kept', undefined])
  assert.deepEqual(json.tenants.map((x: { change: string }) => x.change), ['unchanged', 'unchanged'])
})

test('register --tenant (or FUSIONAUTH_TENANT_IDS): the webhook covers those tenants only, and only they are changed', async t => {
  const { fa, env } = await fake(t, { tenants: 3 })
  const [t1, t2, t3] = fa.tenants
  const r = await register(env, '--tenant', t1!.id, '--tenant', t3!.id.toUpperCase())
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual([fa.webhooks()[0]!.global, fa.webhooks()[0]!.tenantIds], [false, [t1!.id, t3!.id]])
  assert.equal(t2!.eventConfiguration.events['user.create']?.enabled, false)
  assert.equal(t3!.eventConfiguration.events['user.create']?.enabled, true)
  const byConfig = await register({ ...env, FUSIONAUTH_TENANT_IDS: t2!.id })
  assert.equal(byConfig.code, 0, byConfig.stderr)
  assert.match(byConfig.stdout, /: updated \(tenants\)$/m)
  assert.deepEqual(fa.webhooks()[0]!.tenantIds, [t2!.id])
  assert.equal(t2!.eventConfiguration.events['user.create']?.enabled, true)
  const bad = await register(env, '--tenant', 'default')
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--tenant is a UUID/)
})

test('register: FUSIONAUTH_BREACH_LOGIN=block makes user.password.breach "Any single webhook must succeed"; a stricter setting of another event is kept', async t => {
  const { fa, env } = await fake(t)
  const tenant = fa.tenants[0]!
  tenant.eventConfiguration.events['user.create'] = { enabled: true, transactionType: 'SimpleMajority' } // another webhook relies on it
  const block = await register({ ...env, FUSIONAUTH_BREACH_LOGIN: 'block' })
  assert.equal(block.code, 0, block.stderr)
  assert.deepEqual(tenant.eventConfiguration.events['user.password.breach'], { enabled: true, transactionType: 'Any' })
  assert.deepEqual(tenant.eventConfiguration.events['user.login.success'], { enabled: true, transactionType: 'None' })
  assert.deepEqual(tenant.eventConfiguration.events['user.create'], { enabled: true, transactionType: 'SimpleMajority' })
  assert.match(block.stdout, /Kept the transaction type another webhook may rely on: .*user\.create \(SimpleMajority\)/)
  assert.match(block.stdout, /user\.password\.breach: transaction Any \("Any single webhook must succeed"\)/)
  const allow = await register(env)
  assert.match(allow.stdout, /: updated, enabled user\.password\.breach \(transaction None\)$/m, 'back to None with allow')
  assert.deepEqual(tenant.eventConfiguration.events['user.password.breach'], { enabled: true, transactionType: 'None' })
})

test('register updates a webhook made by hand at that URL: its other events, headers and Basic credentials kept, ours added', async t => {
  const { fa, env } = await fake(t)
  const made = await fetch(`${fa.url}/api/webhook`, {
    method: 'POST',
    headers: { authorization: fa.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({
      webhook: {
        url: `${URL}/`,
        connectTimeout: 500,
        readTimeout: 800,
        eventsEnabled: { 'user.create': true, 'user.login.failed': true },
        headers: { 'X-Team': 'iam' },
        httpAuthenticationUsername: 'fa',
        httpAuthenticationPassword: 'pw',
        global: true
      }
    })
  })
  assert.equal(made.status, 200)
  const r = await register(env, '--json')
  assert.equal(r.code, 0, r.stderr)
  const json = JSON.parse(r.stdout)
  assert.equal(json.webhook.change, 'updated')
  assert.deepEqual(json.webhook.changed, ['events', 'Authorization header'])
  assert.equal(json.webhook.secret, 'generated')
  const [hook] = fa.webhooks()
  assert.equal(fa.webhooks().length, 1)
  assert.equal(hook!.url, `${URL}/`, 'the same URL: kept as it was written')
  assert.equal(hook!.eventsEnabled['user.login.failed'], true, 'theirs kept')
  assert.deepEqual([hook!.headers['X-Team'], hook!.httpAuthenticationUsername, hook!.httpAuthenticationPassword, hook!.connectTimeout], ['iam', 'fa', 'pw', 500])
  assert.equal(hook!.headers.Authorization, json.secret)
})

test('register --write-env: FUSIONAUTH_WEBHOOK_SECRET written 0600, replaced in place on a second run and on --rotate; the file is what FusionAuth sends', async t => {
  const { fa, env } = await fake(t)
  const file = join(tmpDir(t), 'bridge.env')
  writeFileSync(file, 'LOG_LEVEL=info\nFUSIONAUTH_WEBHOOK_SECRET=old-by-hand\n# keep me\n', { mode: 0o644 })
  const first = await register(env, '--write-env', file)
  assert.equal(first.code, 0, first.stderr)
  const secret = fa.webhooks()[0]!.headers.Authorization!
  assert.equal(statSync(file).mode & 0o777, 0o600)
  assert.equal(parseEnv(readFileSync(file)).FUSIONAUTH_WEBHOOK_SECRET, secret, 'dotenv (and systemd, and a shell) read the header as sent')
  assert.equal(readFileSync(file, 'utf8'), `LOG_LEVEL=info\nFUSIONAUTH_WEBHOOK_SECRET="${secret}"\n# keep me\n`, 'the line replaced where it stood')
  assert.ok(!first.stdout.includes(secret), 'not printed')
  assert.match(first.stdout, /Wrote FUSIONAUTH_WEBHOOK_SECRET to .*bridge\.env \(mode 0600, replacing the line that was there\)\. Restart the bridge/)

  assert.equal((await register(env, '--write-env', file)).code, 0)
  assert.equal(readFileSync(file, 'utf8'), `LOG_LEVEL=info\nFUSIONAUTH_WEBHOOK_SECRET="${secret}"\n# keep me\n`, 'the same secret, kept')

  const rotated = await register(env, '--write-env', file, '--rotate')
  assert.equal(rotated.code, 0, rotated.stderr)
  const next = fa.webhooks()[0]!.headers.Authorization!
  assert.notEqual(next, secret)
  assert.match(rotated.stdout, /Authorization header: rotated/)
  assert.match(rotated.stdout, /refuses FusionAuth's events \(401\): restart it now/)
  assert.equal(readFileSync(file, 'utf8'), `LOG_LEVEL=info\nFUSIONAUTH_WEBHOOK_SECRET="${next}"\n# keep me\n`)

  const fresh = join(tmpDir(t), 'new.env')
  assert.equal((await register(env, '--write-env', fresh)).code, 0)
  assert.match(readFileSync(fresh, 'utf8'), /^# FusionAuth webhook: the Authorization header it sends, \d{4}-.*\nFUSIONAUTH_WEBHOOK_SECRET="Bearer [\w-]+"\n$/)
  assert.equal(statSync(fresh).mode & 0o777, 0o600)
})

test('register --write-env refuses a symbolic link and a file that sets FUSIONAUTH_WEBHOOK_SECRET_FILE: nothing registered', async t => {
  const { fa, env } = await fake(t)
  const dir = tmpDir(t)
  const target = join(dir, 'real.env')
  writeFileSync(target, 'ORIGINAL\n')
  const link = join(dir, 'link.env')
  symlinkSync(target, link)
  const r = await register(env, '--write-env', link)
  assert.equal(r.code, 2, r.stdout + r.stderr)
  assert.match(r.stderr, /is a symbolic link: refusing to write a secret through it/)
  assert.ok(lstatSync(link).isSymbolicLink())
  assert.equal(readFileSync(target, 'utf8'), 'ORIGINAL\n')
  assert.equal(fa.webhooks().length, 0)

  const withFile = join(dir, 'file.env')
  writeFileSync(withFile, 'FUSIONAUTH_WEBHOOK_SECRET_FILE=/etc/enzoic-bridge/fa-secret\n')
  const conflict = await register(env, '--write-env', withFile)
  assert.equal(conflict.code, 2, conflict.stdout + conflict.stderr)
  assert.match(conflict.stderr, /sets FUSIONAUTH_WEBHOOK_SECRET_FILE: put the value in that file instead/)
  assert.equal(fa.webhooks().length, 0, 'checked before anything changed')
  assert.equal(readFileSync(withFile, 'utf8'), 'FUSIONAUTH_WEBHOOK_SECRET_FILE=/etc/enzoic-bridge/fa-secret\n')
})

test('register --write-env: a write that fails after the webhook changed puts the webhook back (a file-size limit, in a child)', async t => {
  const { fa, env } = await fake(t)
  const file = join(tmpDir(t), 'bridge.env')
  // A real process: only a child can run under a file-size limit (ulimit -f 1: 1 KiB). The file is that big already,
  // so the new content cannot be written.
  const existing = `LOG_LEVEL=info\n${'#'.repeat(1024 - 'LOG_LEVEL=info\n'.length - 1)}\n`
  writeFileSync(file, existing, { mode: 0o600 })
  const created = await runCli(['fusionauth', 'webhooks', 'register', '--url', URL, '--write-env', file], env, undefined, { fileLimitBlocks: 1 })
  assert.equal(created.code, 1, created.stdout + created.stderr)
  assert.match(created.stderr, /cannot write .*bridge\.env \(EFBIG\): the FusionAuth webhook was put back as it was, nothing changed/)
  assert.equal(fa.webhooks().length, 0, 'the webhook whose secret could not be stored is deleted again')
  assert.equal(readFileSync(file, 'utf8'), existing, 'the file as it was')

  assert.equal((await register(env)).code, 0)
  const before = fa.webhooks()[0]!
  const rotated = await runCli(['fusionauth', 'webhooks', 'register', '--url', URL, '--write-env', file, '--rotate'], env, undefined, { fileLimitBlocks: 1 })
  assert.equal(rotated.code, 1, rotated.stdout + rotated.stderr)
  assert.equal(fa.webhooks()[0]!.headers.Authorization, before.headers.Authorization, 'the rotated secret taken back: FusionAuth sends what the bridge knows')
})

test('register --signing-key-id: the webhook signs with that key; an unknown key is FusionAuth\'s 400; before FusionAuth 1.48 it is refused', async t => {
  const { fa, env } = await fake(t)
  const signer = await createEventSigner(fa)
  const r = await register(env, '--signing-key-id', signer.kid)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(fa.webhooks()[0]!.signatureConfiguration, { enabled: true, signingKeyId: signer.kid })
  assert.match(r.stdout, new RegExp(`signature: signed with key ${signer.kid}`))
  const again = await register(env)
  assert.match(again.stdout, /: unchanged$/m, 'kept without the option')
  const unknown = await register(env, '--signing-key-id', '8d1c7e1e-3c4f-4a7a-9a55-2f0c1c9d0b11')
  assert.equal(unknown.code, 1, unknown.stderr)
  assert.match(unknown.stderr, /signingKeyId/)

  const old = await fake(t, { version: '1.47.1' })
  const refused = await register(old.env, '--signing-key-id', signer.kid)
  assert.equal(refused.code, 2)
  assert.match(refused.stderr, /FusionAuth signs webhook events from 1\.48 on; this one is 1\.47\.1/)
  assert.equal(old.fa.webhooks().length, 0)
})

test('register: an https URL is required (the secret travels in a header); a key without the webhook permission is a usage error', async t => {
  const { fa, env } = await fake(t)
  const plain = await cli(['fusionauth', 'webhooks', 'register', '--url', 'http://bridge.example.com/webhooks/fusionauth'], env)
  assert.equal(plain.code, 2)
  assert.match(plain.stderr, /--url must be https/)
  fa.addApiKey('narrow', { endpoints: { '/api/webhook': ['GET'], '/api/tenant': ['GET'] } })
  const refused = await register({ ...env, FUSIONAUTH_API_KEY: 'narrow' })
  assert.equal(refused.code, 2, refused.stderr)
  assert.match(refused.stderr, /webhook\.create/)
  const odd = await cli(['fusionauth', 'webhooks', 'register', '--url', 'https://bridge.example.com/hooks/fa'], env)
  assert.equal(odd.code, 0, odd.stderr)
  assert.match(odd.stderr, /this URL's path is another/)
})

test('list: table and JSON, which webhook is this bridge\'s (by its secret, or its path), the events it lacks; headers never printed; delete', async t => {
  const { fa, env } = await fake(t, { tenants: 2 })
  assert.match((await cli(['fusionauth', 'webhooks', 'list'], env)).stdout, /^No webhooks in FusionAuth/)
  const ours = JSON.parse((await register(env, '--json', '--url', 'https://bridge.example.com/elsewhere')).stdout)
  const secret = ours.secret as string
  const other = await fetch(`${fa.url}/api/webhook`, {
    method: 'POST',
    headers: { authorization: fa.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ webhook: { url: 'https://siem.example.com/fa', connectTimeout: 1000, readTimeout: 1000, eventsEnabled: { 'user.create': true }, tenantIds: [fa.tenants[1]!.id] } })
  })
  const otherId = (await other.json() as { webhook: { id: string } }).webhook.id
  const withSecret = { ...env, FUSIONAUTH_WEBHOOK_SECRET: `Bearer stale,${secret}` }
  const list = await cli(['fusionauth', 'webhooks', 'list'], withSecret)
  assert.equal(list.code, 0, list.stderr)
  assert.match(list.stdout, /^ID +URL +EVENTS +TENANTS +SIGNED +THIS BRIDGE$/m)
  assert.match(list.stdout, new RegExp(`^${ours.webhook.id as string} +https://bridge\\.example\\.com/elsewhere +9/9 +all +no +yes \\(its secret\\)$`, 'm'))
  assert.match(list.stdout, new RegExp(`^${otherId} +https://siem\\.example\\.com/fa +1/9 +${fa.tenants[1]!.id} +no +-$`, 'm'))
  assert.ok(!list.stdout.includes(secret.slice(7)), 'no header value')
  const json = JSON.parse((await cli(['fusionauth', 'webhooks', 'list', '--json'], env)).stdout) as Array<Record<string, unknown>>
  assert.deepEqual(json.map(w => w.targetsBridge), [null, null], 'without the secret and off the path: not recognised')
  assert.deepEqual(json[1]!.missing, TYPES.filter(x => x !== 'user.create'))
  assert.ok(!JSON.stringify(json).includes(secret.slice(7)))

  const del = await cli(['fusionauth', 'webhooks', 'delete', otherId], env)
  assert.equal(del.code, 0, del.stderr)
  assert.equal(del.stdout, `Deleted FusionAuth webhook ${otherId}.\n`)
  assert.deepEqual(fa.webhooks().map(w => w.id), [ours.webhook.id])
  const again = await cli(['fusionauth', 'webhooks', 'delete', otherId], env)
  assert.equal(again.code, 1)
  assert.equal(again.stderr, `breach-bridge: no FusionAuth webhook ${otherId}\n`)
})

test('end to end: register --write-env, a bridge started with that file, and FusionAuth\'s signed breach event (sent by the fake to its webhooks) deactivates the user', async t => {
  const { fa, env } = await fake(t)
  const signer = await createEventSigner(fa)
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'ana@acme-corp.io', refreshTokens: 1 })
  const file = join(tmpDir(t), 'bridge.env')
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/webhooks/fusionauth`
  const r = await cli(['fusionauth', 'webhooks', 'register', '--url', url, '--insecure-url', '--write-env', file, '--signing-key-id', signer.kid], env)
  assert.equal(r.code, 0, r.stderr)
  const fromFile = parseEnv(readFileSync(file))
  const bridge = await startTestBridge(t, {
    FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, FUSIONAUTH_WEBHOOK_SIGNATURE: 'required', PORT: String(port), ...fromFile
  }, undefined, { pollMs: 50 })
  const [sent] = await fa.emit('user.password.breach', user)
  assert.equal(sent?.status, 200, sent?.text)
  const alertId = (JSON.parse(sent!.text) as { alertId: string }).alertId
  await waitFor(async () => (await bridge.store.alerts.get(alertId))?.state === 'done', 'the alert to finish')
  assert.equal(fa.user(user.id)!.active, false)
  assert.equal((await bridge.store.alerts.get(alertId))!.source, 'fusionauth')
  assert.deepEqual((await fa.emit('user.login.failed', user)), [], 'an event the bridge did not ask for is not sent')
})
