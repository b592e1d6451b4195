import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes, randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { startEnzoicFake } from '../fakes/enzoic.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { freePort, testEnv, tmpDir } from '../helper.js'
import { runChecks, secretsOf, type CheckLine, type CheckReport } from '../../src/operations/check.js'
import { VARIABLES } from '../../src/config/index.js'

type Line = CheckLine

/** The report, with its lines beside it (and the whole of it as text, to look for what must never be in it). */
async function check (env: NodeJS.ProcessEnv): Promise<CheckReport & { lines: Line[], text: string }> {
  const report = await runChecks(env)
  return { ...report, lines: report.checks, text: JSON.stringify(report) }
}

const has = (lines: Line[], level: string, what: string | RegExp, detail: RegExp = /./): boolean =>
  lines.some(l => l.level === level && (typeof what === 'string' ? l.what === what : what.test(l.what)) && detail.test(l.detail))

/** A plain static-file HTTP server: 404 (text/html) for anything but its one file. */
async function staticFileServer (t: import('node:test').TestContext): Promise<string> {
  const srv = createServer((req, res) => {
    if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<h1>It works</h1>')
      return
    }
    res.writeHead(404, { 'content-type': 'text/html' })
    res.end('<html><body><h1>404 Not Found</h1></body></html>')
  })
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => srv.close(resolve)))
  return `http://127.0.0.1:${(srv.address() as { port: number }).port}`
}

test('runChecks never says OK for a server that is not FusionAuth (a static file server answers 404 to everything)', async t => {
  const url = await staticFileServer(t)
  const r = await check(testEnv(tmpDir(t), { FUSIONAUTH_URL: url, FUSIONAUTH_API_KEY: 'some-key' }))
  assert.equal(r.ok, false, r.text)
  assert.ok(has(r.lines, 'FAIL', 'FusionAuth', new RegExp(`^${url.replace(/\./g, '\\.')} does not answer like FusionAuth \\(GET /api/status → 404 text/html.*FUSIONAUTH_URL must be FusionAuth's base URL`)), r.text)
  assert.ok(!r.lines.some(l => l.level === 'OK' && /^(FusionAuth|permission|tenants)/.test(l.what)), r.text)
  assert.ok(has(r.lines, 'SKIP', 'FusionAuth checks'))
})

test('runChecks reports every problem at once: a configuration problem does not stop the FusionAuth checks', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const r = await check(testEnv(tmpDir(t), { ENZOIC_WEBHOOK_CREDENTIALS: undefined, ENZOIC_PAYLOAD_ENCRYPTION: 'required', FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey }))
  assert.equal(r.ok, false)
  assert.ok(has(r.lines, 'FAIL', 'configuration', /^ENZOIC_WEBHOOK_CREDENTIALS: required/), r.text)
  assert.ok(has(r.lines, 'FAIL', 'configuration', /^ENZOIC_PAYLOAD_KEY: required when ENZOIC_PAYLOAD_ENCRYPTION is required/), r.text)
  assert.ok(has(r.lines, 'OK', 'database'), r.text)
  assert.ok(has(r.lines, 'OK', 'FusionAuth', /is FusionAuth 1\.69\.0 and accepts the API key/), r.text)
  assert.ok(has(r.lines, 'OK', 'permission lookup'), r.text)
  assert.ok(has(r.lines, 'OK', 'permission deactivate'), r.text)
  assert.ok(has(r.lines, 'SKIP', 'payload encryption'), r.text)
})

test('runChecks: several tenants and a key that may not list them is a FAIL (the worker would pause); tenant ids are verified', async t => {
  const fa = await startFusionAuthFake({ tenants: 2 })
  t.after(() => fa.close())
  fa.addApiKey('no-tenant-list', { endpoints: { '/api/user': ['GET', 'DELETE', 'PUT'], '/api/jwt/refresh': ['GET', 'DELETE'], '/api/user/search': ['POST'] } })
  const env = testEnv(tmpDir(t), { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: 'no-tenant-list' })
  const r = await check(env)
  assert.equal(r.ok, false, r.text)
  assert.ok(has(r.lines, 'FAIL', 'tenants', /^several tenants, and the key may not list them \(GET \/api\/tenant → 401\): the worker would pause at the first alert\. Allow GET \/api\/tenant for the key, or set FUSIONAUTH_TENANT_IDS$/), r.text)
  assert.ok(has(r.lines, 'OK', 'FusionAuth'), 'a least-privilege key is still recognised (no /api/system/version needed)')

  const [t1] = fa.tenants
  const scoped = await check({ ...env, FUSIONAUTH_TENANT_IDS: t1!.id })
  assert.equal(scoped.ok, true, scoped.text)
  assert.ok(has(scoped.lines, 'OK', 'tenant', new RegExp(`^${t1!.id} \\(FUSIONAUTH_TENANT_IDS\\)`)))
  const bogus = randomUUID()
  const wrong = await check({ ...env, FUSIONAUTH_TENANT_IDS: `${t1!.id},${bogus}` })
  assert.equal(wrong.ok, false)
  assert.ok(has(wrong.lines, 'FAIL', 'tenant', new RegExp(`^${bogus} \\(FUSIONAUTH_TENANT_IDS\\): FusionAuth refused it \\(400`)), wrong.text)
})

test('runChecks: groups and user actions named in BRIDGE_ACTIONS must exist; the search of monitor sync is probed', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const actor = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'secops@acme-corp.io' })
  const group = fa.addGroup(undefined, 'Breached users')
  const lock = fa.addUserAction({ name: 'Breach lock', preventLogin: true })
  const missingGroup = randomUUID()
  const missingAction = randomUUID()
  const env = testEnv(tmpDir(t), {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    FUSIONAUTH_ACTOR_USER_ID: actor.id,
    BRIDGE_ACTIONS: `deactivate,group:${group},group:${missingGroup},user-action:${lock},user-action:${missingAction}`
  })
  const r = await check(env)
  assert.equal(r.ok, false, r.text)
  assert.ok(has(r.lines, 'FAIL', `group:${missingGroup}`, /^no such group: every alert would fail with 400 and go dead — fix BRIDGE_ACTIONS$/), r.text)
  assert.ok(has(r.lines, 'FAIL', `user-action:${missingAction}`, /^no such user action/), r.text)
  assert.ok(has(r.lines, 'OK', `group:${group}`, /^group "Breached users" exists$/), r.text)
  assert.ok(has(r.lines, 'OK', `user-action:${lock}`, /^user action "Breach lock" exists \(time-based, prevents login\)$/), r.text)
  assert.ok(has(r.lines, 'OK', 'actor user', /^FUSIONAUTH_ACTOR_USER_ID secops@acme-corp\.io exists$/), r.text)
  assert.ok(has(r.lines, 'OK', 'permission search', /^POST \/api\/user\/search allowed/), r.text)
  assert.equal(fa.mutatingCalls().filter(j => j.status >= 200 && j.status < 300).length, 0, 'nothing changed in FusionAuth')

  // A least-privilege key may apply the actions but not read their definitions: that is said, not failed.
  fa.addApiKey('actions-only', { endpoints: { '/api/user': ['GET', 'DELETE', 'PUT'], '/api/group/member': ['POST', 'DELETE'], '/api/user/action': ['GET', 'POST', 'DELETE'] } })
  const limited = await check({ ...env, FUSIONAUTH_API_KEY: 'actions-only', BRIDGE_ACTIONS: `deactivate,group:${group},user-action:${lock}` })
  assert.equal(limited.ok, true, limited.text)
  assert.ok(has(limited.lines, 'WARN', `group:${group}`, /cannot tell whether the group exists: the key may not call GET \/api\/group\/\{groupId\}/), limited.text)
  assert.ok(has(limited.lines, 'WARN', 'permission search', /POST \/api\/user\/search: refused \(401\).*`enzoic monitor sync` needs it/), limited.text)
})

test('runChecks: the Enzoic API credentials when set — accepted, refused (never printed), unreachable (URL and variable named)', async t => {
  const fa = await startFusionAuthFake()
  const ez = await startEnzoicFake()
  t.after(() => Promise.all([fa.close(), ez.close()]))
  const env = testEnv(tmpDir(t), { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, ...ez.env })
  const ok = await check(env)
  assert.equal(ok.ok, true, ok.text)
  assert.ok(has(ok.lines, 'OK', 'Enzoic API', /accepts ENZOIC_API_KEY\/ENZOIC_API_SECRET; 0 user\(s\) monitored/), ok.text)

  const refused = await check({ ...env, ENZOIC_API_SECRET: 'Wrong-Enzoic-Secret-1' })
  assert.equal(refused.ok, false)
  assert.ok(has(refused.lines, 'FAIL', 'Enzoic API', /refused the API credentials \(401\): check ENZOIC_API_KEY and ENZOIC_API_SECRET/), refused.text)
  assert.ok(!refused.text.includes('Wrong-Enzoic-Secret-1'))

  const port = await freePort()
  const down = await check({ ...env, ENZOIC_API_URL: `http://127.0.0.1:${port}/v1` })
  assert.equal(down.ok, false)
  assert.ok(has(down.lines, 'FAIL', 'Enzoic API', new RegExp(`cannot reach Enzoic at http://127\\.0\\.0\\.1:${port}/v1 \\(ECONNREFUSED\\): check ENZOIC_API_URL`)), down.text)

  const unset = await check({ ...env, ENZOIC_API_KEY: undefined, ENZOIC_API_SECRET: undefined })
  assert.ok(has(unset.lines, 'SKIP', 'Enzoic API'))
})

test('runChecks warns on weak webhook secrets and on unknown BRIDGE_/ENZOIC_/FUSIONAUTH_ variables, naming the closest known one', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const strong = randomBytes(24).toString('base64url')
  const r = await check(testEnv(tmpDir(t), {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    ENZOIC_WEBHOOK_CREDENTIALS: `k1:Sh0rt-Pw,k2:${'ab'.repeat(16)},k3:${strong},k4:Password-Password-2024!`,
    BRIDGE_DRYRUN: 'true',
    FUSIONAUTH_TENANT_ID: randomUUID(),
    ENZOIC_API_SECERT_FILE: '/run/secrets/enzoic',
    BRIDGE_COMPLETELY_DIFFERENT_THING_XYZ: '1',
    NODE_OPTIONS: '', // not a bridge prefix: never reported
    BRIDGE_DRY_RUN: 'false'
  }))
  assert.equal(r.ok, true, r.text)
  assert.ok(has(r.lines, 'WARN', 'webhook secret', /^pair 1 of ENZOIC_WEBHOOK_CREDENTIALS is short \(8 characters\)/))
  assert.ok(has(r.lines, 'WARN', 'webhook secret', /^pair 2 of ENZOIC_WEBHOOK_CREDENTIALS has low entropy/))
  assert.ok(!has(r.lines, 'WARN', 'webhook secret', /^pair 3 /), 'a random secret is not weak')
  assert.ok(has(r.lines, 'WARN', 'webhook secret', /^pair 4 of ENZOIC_WEBHOOK_CREDENTIALS has low entropy/), 'common words')
  for (const s of ['Sh0rt-Pw', 'abababab', strong, 'Password-Password']) assert.ok(!r.text.includes(s), 'never the secret')
  assert.ok(has(r.lines, 'WARN', 'environment', /^BRIDGE_DRYRUN is set, but the bridge reads no such variable \(it is ignored\): did you mean BRIDGE_DRY_RUN\?$/), r.text)
  assert.ok(has(r.lines, 'WARN', 'environment', /^FUSIONAUTH_TENANT_ID is set, .*did you mean FUSIONAUTH_TENANT_IDS\?$/), r.text)
  assert.ok(has(r.lines, 'WARN', 'environment', /^ENZOIC_API_SECERT_FILE is set, .*did you mean ENZOIC_API_SECRET_FILE\?$/), r.text)
  assert.ok(has(r.lines, 'WARN', 'environment', /^BRIDGE_COMPLETELY_DIFFERENT_THING_XYZ is set, but the bridge reads no such variable \(it is ignored\)$/), r.text)
  assert.ok(!/NODE_OPTIONS|BRIDGE_DRY_RUN is set/.test(r.text))
})

test('runChecks never puts credentials that are part of a URL (FUSIONAUTH_URL, ENZOIC_API_URL) or a secret file\'s content in a line', async t => {
  const fa = await startFusionAuthFake()
  const ez = await startEnzoicFake()
  t.after(() => Promise.all([fa.close(), ez.close()]))
  const dir = tmpDir(t)
  const keyFile = join(dir, 'fa-key')
  writeFileSync(keyFile, 'Fa-Key-From-File-31337\n', { mode: 0o600 })
  const faUrl = fa.url.replace('http://', 'http://admin:Fa-Url-Pw-9001@')
  const ezUrl = ez.url.replace('http://', 'http://enz:Ez-Url-Pw-4242@')
  const env = { FUSIONAUTH_URL: faUrl, FUSIONAUTH_API_KEY_FILE: keyFile, ENZOIC_API_URL: ezUrl, ENZOIC_API_KEY: ez.apiKey, ENZOIC_API_SECRET: ez.apiSecret }
  const r = await check(testEnv(dir, env))
  for (const secret of ['Fa-Url-Pw-9001', 'Ez-Url-Pw-4242', 'Fa-Key-From-File-31337', ez.apiSecret]) assert.ok(!r.text.includes(secret), `${secret} in the report:\n${r.text}`)
  assert.ok(r.lines.some(l => l.what === 'FusionAuth' && /^http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+/.test(l.detail)), r.text)
})

test('runChecks reports each tenant\'s effective policy and probes what every policy needs; a bad policy file is one FAIL per problem', async t => {
  const fa = await startFusionAuthFake({ tenants: 2 })
  t.after(() => fa.close())
  const [t1, t2] = [fa.tenants[0]!.id, fa.tenants[1]!.id]
  const template = fa.addEmailTemplate('Breach notice')
  const group = fa.addGroup(undefined, 'Customers breached')
  const dir = tmpDir(t)
  const file = join(dir, 'policy.yaml')
  writeFileSync(file, `tenants:\n  ${t2}:\n    name: customers\n    actions: [notify-user:${template}, group:${group}]\n    gracePeriod: 72h\n    graceActions: [deactivate]\n`)
  const env = testEnv(dir, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_POLICY_FILE: file })
  const r = await check(env)
  assert.equal(r.ok, true, r.text)
  assert.ok(has(r.lines, 'OK', 'policy (default)', /^actions deactivate,revoke-sessions; no grace period \(environment \+ /), r.text)
  assert.ok(has(r.lines, 'OK', 'policy tenant customers', new RegExp(`^${t2}: actions notify-user:${template},group:${group}; grace 3d then deactivate unless the password changed$`)), r.text)
  assert.ok(!r.lines.some(l => l.what.includes(t1)), 'a tenant without its own policy follows the default')
  assert.ok(has(r.lines, 'OK', 'permission notify-user', /POST \/api\/email\/send\/\{emailTemplateId\} allowed/), r.text)
  assert.ok(has(r.lines, 'OK', `notify-user:${template}`, /email template "Breach notice" exists/), 'the template a tenant policy names is checked')
  assert.ok(has(r.lines, 'OK', `group:${group}`, /exists/), 'the group a tenant policy names is checked too')

  writeFileSync(file, `tenants:\n  not-a-tenant-id:\n    actions: [deactivate]\n  ${t1}:\n    actions: [deactivate, explode]\n`)
  const bad = await check(env)
  assert.equal(bad.ok, false)
  assert.ok(has(bad.lines, 'FAIL', 'configuration', new RegExp(`^BRIDGE_POLICY_FILE ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: tenants\\.not-a-tenant-id: "not-a-tenant-id" is not a tenant id: tenant ids are UUIDs`)), bad.text)
  assert.ok(has(bad.lines, 'FAIL', 'configuration', new RegExp(`tenants\\.${t1}\\.actions: entry 2 "explode" is not a known action`)), bad.text)
})

test('runChecks verifies what the policy file names — its tenants, its protected groups, its actions\' ids — and a FAIL says where the id is written', async t => {
  const fa = await startFusionAuthFake({ tenants: 3 })
  t.after(() => fa.close())
  const [t1, t2, t3] = [fa.tenants[0]!.id, fa.tenants[1]!.id, fa.tenants[2]!.id]
  const vip = fa.addGroup(undefined, 'VIPs')
  const [ghostTenant, ghostGroup, ghostTemplate, ghostActionGroup] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()]
  const dir = tmpDir(t)
  const file = join(dir, 'policy.yaml')
  writeFileSync(file, [
    'default:',
    `  protectedGroupIds: [${vip}]`,
    'tenants:',
    `  ${t2}:`,
    `    actions: [notify-user:${ghostTemplate}, revoke-sessions]`,
    `    protectedGroupIds: [${vip}, ${ghostGroup}]`,
    `  ${ghostTenant}:`,
    '    name: misspelt',
    '    dryRun: true',
    `  ${t3}:`,
    '    dryRun: true',
    ''
  ].join('\n'))
  const env = testEnv(dir, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_POLICY_FILE: file, BRIDGE_ACTIONS: `deactivate,group:${ghostActionGroup}` })
  const r = await check(env)
  assert.equal(r.ok, false)
  const where = `BRIDGE_POLICY_FILE ${file}`
  const q = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  assert.ok(has(r.lines, 'FAIL', 'policy tenant', new RegExp(`^${ghostTenant} \\(misspelt\\): no such tenant in FusionAuth \\(400 .*\\): its policy never applies — fix ${q(where)}: tenants\\.${ghostTenant}$`)), r.text)
  assert.ok(has(r.lines, 'OK', 'policy tenant', new RegExp(`^${t2} \\(Tenant 2\\): exists; its policy applies to its users$`)), r.text)
  assert.ok(has(r.lines, 'OK', `protected group ${vip}`, /^group "VIPs" exists: its members are never actioned$/), r.text)
  assert.ok(has(r.lines, 'FAIL', `protected group ${ghostGroup}`, new RegExp(`^no such group: its members are NOT protected, they would be actioned — fix ${q(where)}: tenants\\.${t2}\\.protectedGroupIds$`)), r.text)
  assert.ok(has(r.lines, 'FAIL', `notify-user:${ghostTemplate}`, new RegExp(`^no such email template: .* — fix ${q(where)}: tenants\\.${t2}\\.actions$`)), r.text)
  assert.ok(has(r.lines, 'FAIL', `group:${ghostActionGroup}`, /— fix BRIDGE_ACTIONS$/), 'an id of BRIDGE_ACTIONS (the default, and the tenants that keep it) names the variable')
  assert.equal(r.lines.filter(l => l.what === `protected group ${vip}`).length, 1, 'one line per group, wherever it is named')

  // A tenant the bridge never looks in (FUSIONAUTH_TENANT_IDS): its policy never applies either.
  const scoped = await check({ ...env, FUSIONAUTH_TENANT_IDS: `${t1},${t2}` })
  assert.ok(has(scoped.lines, 'WARN', 'policy tenant', new RegExp(`^${t3} \\(Tenant 3\\): exists, but is not in FUSIONAUTH_TENANT_IDS`)), scoped.text)
  assert.equal(fa.mutatingCalls().filter(j => j.status >= 200 && j.status < 300).length, 0, 'nothing changed in FusionAuth')
})

test('runChecks: BRIDGE_TOMBSTONE_KEY missing is a WARN (tombstones re-identifiable); set (directly or as _FILE) an OK that never shows it; too short a FAIL', async t => {
  const dir = tmpDir(t)
  const missing = await check(testEnv(dir))
  assert.ok(has(missing.lines, 'WARN', 'tombstone key', /^BRIDGE_TOMBSTONE_KEY is not set: .*match against a list of emails/), missing.text)

  const key = `base64:${randomBytes(32).toString('base64')}`
  const file = join(dir, 'tombstone-key')
  writeFileSync(file, `${key}\n`, { mode: 0o600 })
  for (const env of [{ BRIDGE_TOMBSTONE_KEY: key }, { BRIDGE_TOMBSTONE_KEY_FILE: file }]) {
    const set = await check(testEnv(dir, env))
    assert.ok(has(set.lines, 'OK', 'tombstone key', /^32 bytes: tombstones hold HMAC-SHA256 under it.*no longer recognised/), set.text)
    assert.ok(!set.text.includes(key.slice(7)) && !set.text.includes(key), 'the key is never printed')
  }

  const short = await check(testEnv(dir, { BRIDGE_TOMBSTONE_KEY: 'too-short' }))
  assert.ok(has(short.lines, 'FAIL', 'configuration', /^BRIDGE_TOMBSTONE_KEY: must be at least 16 bytes \(got 9\)/), short.text)
  assert.ok(has(short.lines, 'SKIP', 'tombstone key'), short.text)
  assert.ok(!short.text.includes('too-short'), 'not even a bad key is printed')
})

test('check\'s scrub list holds every secret variable of the table, given directly or as NAME_FILE', async t => {
  const dir = tmpDir(t)
  const values: Record<string, [string, string[]]> = {
    BRIDGE_DATABASE: ['postgres://bridge:db-MARK-pw@127.0.0.1:1/bridge', ['db-MARK-pw']],
    ENZOIC_WEBHOOK_CREDENTIALS: ['key1:wh-MARK-one,key2:wh-MARK-two', ['key1:wh-MARK-one,key2:wh-MARK-two', 'wh-MARK-one', 'wh-MARK-two']],
    ENZOIC_PAYLOAD_KEY: ['hex:' + 'ab'.repeat(16), ['hex:' + 'ab'.repeat(16), 'ab'.repeat(16)]],
    BRIDGE_NOTIFY_URL: ['https://hooks.example/services/T0/B0/notify-MARK', ['https://hooks.example/services/T0/B0/notify-MARK']],
    FUSIONAUTH_WEBHOOK_SECRET: ['Bearer fa-MARK-old,Bearer fa-MARK-new', ['Bearer fa-MARK-old,Bearer fa-MARK-new', 'Bearer fa-MARK-old', 'Bearer fa-MARK-new']]
  }
  const secret = VARIABLES.filter(v => v.secret === true)
  assert.ok(secret.length >= 8, `${secret.length} secret variables`)
  for (const viaFile of [false, true]) {
    const env: NodeJS.ProcessEnv = {}
    const expected: string[] = []
    for (const v of secret) {
      const [value, parts] = values[v.name] ?? [`${v.name}-MARK-value`, [`${v.name}-MARK-value`]]
      if (viaFile) {
        writeFileSync(join(dir, v.name), `${value}\n`)
        env[`${v.name}_FILE`] = join(dir, v.name)
      } else {
        env[v.name] = value
      }
      expected.push(...parts)
    }
    const list = secretsOf(env)
    for (const part of expected) assert.ok(list.includes(part), `${viaFile ? 'via _FILE' : 'direct'}: ${part} is scrubbed`)
    assert.ok(!list.some(s => s.includes('127.0.0.1:1/bridge') && !s.includes('db-MARK-pw')), 'a database location alone is no secret')
  }
})
