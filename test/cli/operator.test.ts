import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, startTestBridge, testEnv, tmpDir, waitFor } from '../helper.js'
import { cli } from '../fixtures/in-process.js'

const PLAINTEXT = 'Pl4intext-CLI-Sentinel!'
const HASH = 'cafebabe0123456789feedface0042cli'
const SALT = 'SaltSentinelCLI77'

test('alerts list / show / stats: readable, complete, and without a password', async t => {
  const fa = await startFusionAuthFake()
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'ruth@acme-corp.io', refreshTokens: 1 })
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  t.after(() => fa.close())
  const r = await postAlert(bridge.url, {
    username: 'ruth@acme-corp.io',
    exposureID: 'exp-cli',
    plaintextPassword: PLAINTEXT,
    passwordHash: HASH,
    passwordSalt: SALT,
    passwordType: 'MD5',
    exposureDetails: { title: 'CLI Breach', date: '2026-01-02T00:00:00Z' }
  })
  const id = r.body.alertId as string
  await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alert to finish')
  const env = { BRIDGE_DATABASE: bridge.config.database }

  const list = await cli(['alerts', 'list'], env)
  assert.equal(list.code, 0, list.stderr)
  assert.match(list.stdout, /^ID\s+RECEIVED\s+SOURCE\s+STATE\s+OUTCOME\s+ATTEMPTS\s+EMAIL\s+TENANT\s+EXPOSURE$/m)
  assert.match(list.stdout, new RegExp(`${id}\\s+\\S+ \\S+\\s+enzoic\\s+done\\s+actioned\\s+1\\s+ruth@acme-corp.io\\s+\\S+\\s+exp-cli`))

  const json = await cli(['alerts', 'list', '--state', 'done', '--json'], env)
  const listed = JSON.parse(json.stdout) as Array<{ id: string }>
  assert.ok(Array.isArray(listed), 'one JSON document: an array')
  assert.deepEqual(listed.map(a => a.id), [id])
  assert.match((await cli(['alerts', 'list', '--state', 'dead'], env)).stdout, /No dead alerts/)

  const show = await cli(['alerts', 'show', id], env)
  assert.equal(show.code, 0, show.stderr)
  assert.match(show.stdout, /Outcome:\s+actioned/)
  assert.match(show.stdout, /Exposure title:\s+CLI Breach/)
  assert.match(show.stdout, /Had password:\s+yes \(not stored\)/)
  assert.match(show.stdout, new RegExp(`^Steps:[\\s\\S]*${user.id}\\s+deactivate\\s+immediate\\s+done\\s+200`, 'm'))
  assert.match(show.stdout, /revoke-sessions\s+immediate\s+done\s+200/)
  assert.match(show.stdout, /History:[\s\S]*queued[\s\S]*processing[\s\S]*done/)
  const showJson = await cli(['alerts', 'show', id, '--json'], env)
  for (const output of [list.stdout, json.stdout, show.stdout, showJson.stdout]) {
    for (const secret of [PLAINTEXT, HASH, SALT]) assert.ok(!output.includes(secret), 'no password material in CLI output')
  }

  const stats = await cli(['alerts', 'stats', '--json'], env)
  const counts = JSON.parse(stats.stdout) as { byState: Record<string, number>, byOutcome: Record<string, number> }
  assert.deepEqual(Object.entries(counts.byState).filter(([, n]) => n > 0), [['done', 1]])
  for (const state of ['queued', 'processing', 'retrying', 'done', 'dead']) assert.equal(typeof counts.byState[state], 'number', state)
  assert.deepEqual(counts.byOutcome, { actioned: 1 })

  // And not in the database files either (the intake tests check the same for intake alone).
  for (const f of readdirSync(bridge.dir).filter(n => n.startsWith('bridge.db'))) {
    const bytes = readFileSync(join(bridge.dir, f))
    for (const secret of [PLAINTEXT, HASH, SALT]) assert.equal(bytes.indexOf(secret), -1, `${secret} found in ${f}`)
  }
})

test('alerts commands: clear errors for bad input', async t => {
  const dir = tmpDir(t)
  const missing = await cli(['alerts', 'list'], { BRIDGE_DATABASE: join(dir, 'nope.db') })
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /^breach-bridge: no database at .*nope\.db \(BRIDGE_DATABASE\)/)

  const bridge = await startTestBridge(t, {}, dir)
  const env = { BRIDGE_DATABASE: bridge.config.database }
  const unknown = await cli(['alerts', 'show', '0000'], env)
  assert.equal(unknown.code, 1)
  assert.match(unknown.stderr, /no alert 0000/)
  const noIds = await cli(['alerts', 'replay'], env)
  assert.equal(noIds.code, 2)
  assert.match(noIds.stderr, /give alert ids or --dead/)
  const unknownReplay = await cli(['alerts', 'replay', 'abcd'], env)
  assert.equal(unknownReplay.code, 1)
  assert.match(unknownReplay.stderr, /no alert abcd/)
  const tooShort = await cli(['alerts', 'replay', 'abc'], env)
  assert.equal(tooShort.code, 2)
  assert.match(tooShort.stderr, /abc: alert id prefix too short: give at least 4 characters/)
  const notHex = await cli(['alerts', 'show', 'xyz!'], env)
  assert.equal(notHex.code, 2)
  assert.match(notHex.stderr, /not an alert id/)
  const badLimit = await cli(['alerts', 'list', '--limit', 'x'], env)
  assert.equal(badLimit.code, 2)
  const badState = await cli(['alerts', 'list', '--state', 'nope'], env)
  assert.equal(badState.code, 2, 'a usage error, as every other')
  assert.match(badState.stderr, /Allowed choices are queued, processing, retrying, (\w+, )*done, dead/)
})

test('check: one OK line per check, and FAIL with exit 1 for a missing permission', async t => {
  const fa = await startFusionAuthFake({ tenants: 2 })
  t.after(() => fa.close())
  const dir = tmpDir(t)
  const env = testEnv(dir, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_ACTIONS: 'deactivate,revoke-sessions,require-password-change' })
  const ok = await cli(['check'], env)
  assert.equal(ok.code, 0, ok.stdout + ok.stderr)
  for (const what of ['configuration', 'database', 'payload encryption', 'FusionAuth', 'tenants', 'permission lookup', 'permission deactivate', 'permission revoke-sessions', 'permission require-password-change', 'permission search']) {
    assert.match(ok.stdout, new RegExp(`^OK\\s+${what}\\s`, 'm'), what)
  }
  assert.match(ok.stdout, /^WARN\s+client certificate\s+off/m)
  assert.equal(fa.users().length, 0)
  assert.match(ok.stdout, /^OK\s+FusionAuth\s+http:\/\/127\.0\.0\.1:\d+ is FusionAuth 1\.69\.0 and accepts the API key$/m)
  assert.match(ok.stdout, /^OK\s+tenants\s+2 tenants/m)
  assert.equal(fa.mutatingCalls().filter(j => j.status >= 200 && j.status < 300).length, 0, 'the probes changed nothing')

  // A key that may look users up but not deactivate them.
  fa.addApiKey('limited-key', { endpoints: { '/api/user': ['GET'], '/api/jwt/refresh': ['DELETE'], '/api/tenant': ['GET'] } })
  const limited = await cli(['check'], { ...env, FUSIONAUTH_API_KEY: 'limited-key', BRIDGE_ACTIONS: 'deactivate,revoke-sessions' })
  assert.equal(limited.code, 1)
  assert.match(limited.stdout, /^OK\s+permission lookup/m)
  assert.match(limited.stdout, /^FAIL\s+permission deactivate\s+DELETE \/api\/user\/\{userId\}: refused \(401\)/m)
  assert.match(limited.stdout, /^OK\s+permission revoke-sessions/m)
  // The undo of deactivate (alerts restore) needs PUT /api/user: probed too, so a restore never stops halfway.
  assert.match(limited.stdout, /^FAIL\s+permission restore deactivate\s+PUT \/api\/user\/\{userId\}\?reactivate=: refused \(401\).*`alerts restore` would stop halfway/m)

  const badKey = await cli(['check'], { ...env, FUSIONAUTH_API_KEY: 'wrong' })
  assert.equal(badKey.code, 1)
  assert.match(badKey.stdout, /^FAIL\s+FusionAuth\s+.*FUSIONAUTH_API_KEY/m)
  assert.ok(!badKey.stdout.includes('wrong'), 'the key is never printed')

  const badConfig = await cli(['check'], { ...env, FUSIONAUTH_URL: 'not a url', BRIDGE_ACTIONS: 'explode' })
  assert.equal(badConfig.code, 1)
  assert.match(badConfig.stdout, /^FAIL\s+configuration\s+FUSIONAUTH_URL: must be a URL/m)
  assert.match(badConfig.stdout, /^FAIL\s+configuration\s+BRIDGE_ACTIONS: entry 1 is not a known action/m)
})
