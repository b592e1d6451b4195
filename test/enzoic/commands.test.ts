import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startEnzoicFake, type EnzoicFake } from '../fakes/enzoic.js'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { freePort, postAlert, startTestBridge, testEnv, tmpDir, waitFor } from '../helper.js'
import { cli } from '../fixtures/in-process.js'

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

test('register → list → test --wait, end to end through the real bridge', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const dir = tmpDir(t)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/webhooks/enzoic`
  const envFile = join(dir, 'bridge.env')
  writeFileSync(envFile, 'LOG_LEVEL=info\n', { mode: 0o644 })
  const env = { ...ez.env, BRIDGE_DATABASE: join(dir, 'bridge.db') }

  const refused = await cli(['enzoic', 'webhooks', 'register', '--url', url], env)
  assert.equal(refused.code, 2)
  assert.match(refused.stderr, /--url must be https/)
  assert.equal(ez.webhooks.length, 0)

  const reg = await cli(['enzoic', 'webhooks', 'register', '--url', url, '--insecure-url', '--write-env', envFile], env)
  assert.equal(reg.code, 0, reg.stderr)
  const hook = ez.webhooks[0]!
  assert.match(reg.stdout, new RegExp(`Registered webhook ${hook.webhookID} → ${url} \\(default\\)`))
  assert.ok(!reg.stdout.includes(hook.secret), 'with --write-env the secret goes to the file only')
  assert.equal(statSync(envFile).mode & 0o777, 0o600)
  const written = readFileSync(envFile, 'utf8')
  assert.match(written, new RegExp(`^ENZOIC_WEBHOOK_CREDENTIALS=${hook.key}:${hook.secret}$`, 'm'))

  const list = await cli(['enzoic', 'webhooks', 'list'], env)
  assert.equal(list.code, 0, list.stderr)
  assert.match(list.stdout, new RegExp(`${hook.webhookID}\\s+yes\\s+${url}`))
  assert.ok(!list.stdout.includes(hook.secret))

  // The bridge, configured from the file register wrote.
  const bridge = await startTestBridge(t, { PORT: String(port), ENZOIC_WEBHOOK_CREDENTIALS: `${hook.key}:${hook.secret}` }, dir)
  const tested = await cli(['enzoic', 'webhooks', 'test', '--wait', '10s'], env)
  assert.equal(tested.code, 0, tested.stdout + tested.stderr)
  assert.match(tested.stdout, /Received after [\d.]+ s: alert \S+ for sample@email\.tst, exposure \S+, classified as a test alert/)
  const delivery = await ez.waitForDelivery(1)
  assert.equal(delivery.status, 200)
  const stored = (await bridge.store.alerts.list())
  assert.equal(stored.length, 1)
  assert.equal(stored[0]!.test, true)
  assert.equal(stored[0]!.outcome, 'test')

  // A second register (rotation) keeps the old pair in front of the new one.
  const again = await cli(['enzoic', 'webhooks', 'register', '--url', url, '--insecure-url', '--write-env', envFile], env)
  assert.equal(again.code, 0, again.stderr)
  const second = ez.webhooks[1]!
  assert.match(readFileSync(envFile, 'utf8'), new RegExp(`^ENZOIC_WEBHOOK_CREDENTIALS=${hook.key}:${hook.secret},${second.key}:${second.secret}$`, 'm'))

  const del = await cli(['enzoic', 'webhooks', 'delete', second.webhookID], env)
  assert.equal(del.code, 0, del.stderr)
  assert.equal(ez.webhooks.length, 1)
})

test('test --wait says when the bridge refused the test call\'s credentials (it logged "webhook credentials refused")', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const bridge = await startTestBridge(t)
  const env = { ...ez.env, BRIDGE_DATABASE: bridge.config.database }
  const reg = await cli(['enzoic', 'webhooks', 'register', '--url', `${bridge.url}/webhooks/enzoic`, '--insecure-url'], env)
  assert.equal(reg.code, 0, reg.stderr)
  assert.match(reg.stdout, /ENZOIC_WEBHOOK_CREDENTIALS=\S+:\S+/) // printed once, without --write-env
  const r = await cli(['enzoic', 'webhooks', 'test', '--wait', '10s'], env)
  assert.equal(r.code, 1)
  assert.match(r.stderr, /^The bridge refused a webhook call's credentials \(401\) after [\d.]+ s, from 127\.0\.0\.1 \(its log: "webhook credentials refused"\): ENZOIC_WEBHOOK_CREDENTIALS/)
  assert.match(r.stderr, /Fix: put the pair `enzoic webhooks register` printed/)
  assert.match(r.stderr, /breach-bridge: test notification refused by the bridge \(webhook credentials\)\n$/)
  assert.equal((await ez.waitForDelivery(1)).status, 401)
  assert.ok(bridge.logs.some(l => l.includes('webhook credentials refused')))
  assert.equal((await bridge.store.alerts.list()).length, 0)

  const json = await cli(['enzoic', 'webhooks', 'test', '--wait', '10s', '--json'], env)
  assert.equal(json.code, 1)
  const doc = JSON.parse(json.stdout) as { received: boolean, arrival: { kind: string, address: string } }
  assert.equal(doc.received, false)
  assert.equal(doc.arrival.kind, 'refused')
})

test('test --wait times out with the likely causes when nothing reaches the bridge', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const bridge = await startTestBridge(t)
  const env = { ...ez.env, BRIDGE_DATABASE: bridge.config.database }
  const port = await freePort()
  assert.equal((await cli(['enzoic', 'webhooks', 'register', '--url', `http://127.0.0.1:${port}/webhooks/enzoic`, '--insecure-url'], env)).code, 0)
  const r = await cli(['enzoic', 'webhooks', 'test', '--wait', '2s'], env)
  assert.equal(r.code, 1)
  assert.match(r.stderr, /No test notification arrived within 2 s/)
  assert.match(r.stderr, /credentials: ENZOIC_WEBHOOK_CREDENTIALS/)
  assert.match(r.stderr, /certificate/)
})

test('a bad Enzoic key: a message that names ENZOIC_API_KEY and never the secret; exit 2 (fix the configuration)', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const dir = tmpDir(t)
  const r = await cli(['enzoic', 'webhooks', 'list'], { ...ez.env, ENZOIC_API_SECRET: 'not-the-secret-42', BRIDGE_DATABASE: join(dir, 'b.db') })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /ENZOIC_API_KEY/)
  assert.ok(!(r.stdout + r.stderr).includes('not-the-secret-42'))
  const missing = await cli(['enzoic', 'webhooks', 'list'], { BRIDGE_DATABASE: join(dir, 'b.db') })
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /ENZOIC_API_KEY: required/)
})

test('ENZOIC_API_URL without /v1: the 404 says so, in the command and in check', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const dir = tmpDir(t)
  const base = ez.url.replace(/\/v1$/, '')
  const r = await cli(['enzoic', 'webhooks', 'list'], { ...ez.env, ENZOIC_API_URL: base, BRIDGE_DATABASE: join(dir, 'b.db') })
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, new RegExp(`not found \\(404\\).* — ENZOIC_API_URL \\(${base.replace(/[.]/g, '\\.')}\\) does not end in /v1: Enzoic's API is at https://api\\.enzoic\\.com/v1\n$`))
  const check = await cli(['check'], testEnv(dir, { ...ez.env, ENZOIC_API_URL: base }))
  assert.match(check.stdout, /FAIL +Enzoic API +.*does not end in \/v1/)
  const right = await cli(['enzoic', 'webhooks', 'list'], { ...ez.env, BRIDGE_DATABASE: join(dir, 'b.db') })
  assert.equal(right.code, 0, right.stderr)
})

interface SyncWorld { fa: FusionAuthFake, ez: EnzoicFake, env: NodeJS.ProcessEnv }

async function syncWorld (t: import('node:test').TestContext, perTenant: number): Promise<SyncWorld> {
  const fa = await startFusionAuthFake({ tenants: 2 })
  const ez = await startEnzoicFake()
  t.after(() => Promise.all([fa.close(), ez.close()]))
  for (const tenant of fa.tenants) fa.addUsers(tenant.id, perTenant, i => ({ email: `user${i}@${tenant.id.slice(0, 8)}.acme-corp.io` }))
  const dir = tmpDir(t)
  return { fa, ez, env: testEnv(dir, { ...ez.env, FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey }) }
}

const addCalls = (ez: EnzoicFake): Array<{ status: number, size: number }> => ez.journal
  .filter(j => j.method === 'POST' && j.path.endsWith('/breach-monitoring-for-users'))
  .map(j => ({ status: j.status, size: ((j.body as { usersToMonitor?: unknown[] })?.usersToMonitor ?? []).length }))

test('monitor sync: 25,000 users in two tenants → two batches, right hashes and customData', async t => {
  const { fa, ez, env } = await syncWorld(t, 12_500)
  // Neither inactive users nor users without an email are enrolled.
  const inactive = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'gone@acme-corp.io', active: false })
  const r = await cli(['enzoic', 'monitor', 'sync'], env)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /Enrolled 25000 users \(0 already monitored\) from 2 tenant\(s\) in 2 batch\(es\)/)
  assert.match(r.stdout, /Skipped 1 users/)
  // Batches are page-aligned (a checkpoint always falls between pages), so at most 15,000 each.
  const sizes = addCalls(ez).map(c => c.size)
  assert.equal(sizes.length, 2)
  assert.ok(sizes.every(n => n <= 15_000), String(sizes))
  assert.equal(sizes[0]! + sizes[1]!, 25_000)
  assert.equal(ez.monitored.size, 25_000)
  for (const u of fa.users()) {
    const m = ez.monitored.get(sha(u.email.toLowerCase()))
    if (u.id === inactive.id) { assert.equal(m, undefined); continue }
    assert.equal(m?.customData, `fusionauth:${u.tenantId}:${u.id}`)
  }
  // Without a terminal: periodic plain lines, no progress-bar escape codes.
  assert.ok(!r.stderr.includes('\u001b['))

  const status = await cli(['enzoic', 'monitor', 'status'], env)
  assert.equal(status.code, 0, status.stderr)
  assert.match(status.stdout, /Enzoic monitors 25000 user\(s\)/)
  assert.match(status.stdout, /Last sync: .* 25000 enrolled/)

  const dry = await cli(['enzoic', 'monitor', 'sync', '--dry-run'], env)
  assert.equal(dry.code, 0, dry.stderr)
  assert.match(dry.stdout, /Dry run: would enrol 25000 users/)
  assert.equal(addCalls(ez).length, 2, 'dry run sends nothing')
})

test('monitor sync reports the enrolled emails several users share (one Enzoic entry each, an alert acts on all)', async t => {
  const fa = await startFusionAuthFake({ tenants: 3 })
  const ez = await startEnzoicFake()
  t.after(() => Promise.all([fa.close(), ez.close()]))
  const [t1, t2, t3] = fa.tenants.map(x => x.id) as [string, string, string]
  for (const tenantId of [t1, t2, t3]) fa.addUser({ tenantId, email: 'everywhere@acme-corp.io' })
  for (const tenantId of [t1, t3]) fa.addUser({ tenantId, email: 'twice@acme-corp.io' })
  fa.addUser({ tenantId: t2, email: 'twice@acme-corp.io', active: false }) // not enrolled: not counted
  fa.addUser({ tenantId: t2, email: 'once@acme-corp.io' })
  const env = testEnv(tmpDir(t), { ...ez.env, FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })

  const r = await cli(['enzoic', 'monitor', 'sync'], env)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^2 emails are shared by 5 users \(in different tenants\): Enzoic monitors each address once, and an alert for one acts on all of them\.$/m)
  assert.equal(ez.monitored.size, 3, 'one entry per address')
  const json = await cli(['enzoic', 'monitor', 'sync', '--dry-run', '--json'], env)
  assert.equal(json.code, 0, json.stderr)
  assert.deepEqual(JSON.parse(json.stdout).shared, { emails: 2, users: 5 })

  const alone = await cli(['enzoic', 'monitor', 'sync', '--tenant', t2], env)
  assert.equal(alone.code, 0, alone.stderr)
  assert.doesNotMatch(alone.stdout, /shared/, 'nothing shared within one tenant')
})

test('monitor sync interrupted by an Enzoic failure resumes from its checkpoint without duplicates', async t => {
  const { ez, env } = await syncWorld(t, 12_500)
  let posts = 0
  ez.fail(400, { times: 1, match: (m, p) => m === 'POST' && p.endsWith('/breach-monitoring-for-users') && ++posts === 2 })
  const first = await cli(['enzoic', 'monitor', 'sync'], env)
  assert.equal(first.code, 1)
  assert.match(first.stderr, /progress is saved; run again to resume/)
  const firstBatch = addCalls(ez)[0]!.size
  assert.equal(ez.monitored.size, firstBatch)

  const status = await cli(['enzoic', 'monitor', 'status'], env)
  assert.match(status.stdout, /An interrupted sync is waiting/)

  const second = await cli(['enzoic', 'monitor', 'sync'], env)
  assert.equal(second.code, 0, second.stderr)
  assert.match(second.stdout, /Enrolled 25000 users \(0 already monitored\).*resumed from a checkpoint/)
  const calls = addCalls(ez)
  const rest = 25_000 - firstBatch
  assert.deepEqual(calls.map(c => [c.status, c.size]), [[201, firstBatch], [400, rest], [201, rest]])
  assert.equal(ez.monitored.size, 25_000)
})

test('monitor sync --prune removes entries whose FusionAuth user no longer exists', async t => {
  const { fa, ez, env } = await syncWorld(t, 50)
  assert.equal((await cli(['enzoic', 'monitor', 'sync'], env)).code, 0)
  assert.equal(ez.monitored.size, 100)
  // Someone else's entry (not written by the bridge) is never touched.
  ez.monitored.set(sha('outsider@acme-corp.io'), { usernameHash: sha('outsider@acme-corp.io'), customData: 'crm:42' })
  const victim = fa.users()[7]!
  const res = await fetch(`${fa.url}/api/user/${victim.id}?hardDelete=true`, { method: 'DELETE', headers: { authorization: fa.apiKey } })
  assert.equal(res.status, 200)
  assert.equal(fa.user(victim.id), undefined)

  const r = await cli(['enzoic', 'monitor', 'sync', '--prune'], env)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /Prune: 1 monitored entries belong to users that no longer exist; removed 1/)
  assert.equal(ez.monitored.has(sha(victim.email.toLowerCase())), false)
  assert.equal(ez.monitored.has(sha('outsider@acme-corp.io')), true)
  assert.equal(ez.monitored.size, 100)
})

test('exposure details: fetched once from Enzoic, cached, and used in the comment', async t => {
  const ez = await startEnzoicFake()
  const fa = await startFusionAuthFake()
  t.after(() => Promise.all([ez.close(), fa.close()]))
  const tenantId = fa.tenants[0]!.id
  const admin = fa.addUser({ tenantId, email: 'secops@acme-corp.io' })
  const u1 = fa.addUser({ tenantId, email: 'one@acme-corp.io' })
  const u2 = fa.addUser({ tenantId, email: 'two@acme-corp.io' })
  ez.exposures.set('exp-shared', { id: 'exp-shared', title: 'Mega Leak 2026', date: '2026-03-01T00:00:00.000Z', entries: 5, category: 'Marketing', passwordType: 'MD5' })
  const bridge = await startTestBridge(t, {
    ...ez.env,
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    FUSIONAUTH_ACTOR_USER_ID: admin.id,
    BRIDGE_ACTIONS: 'comment,deactivate'
  })
  for (const email of ['one@acme-corp.io', 'two@acme-corp.io']) {
    const r = await postAlert(bridge.url, { username: email, exposureID: 'exp-shared' })
    await waitFor(async () => (await bridge.store.alerts.get(r.body.alertId))?.state === 'done', `${email} done`)
  }
  assert.match(fa.user(u1.id)!.comments[0]!.comment, /Mega Leak 2026 \(2026-03-01\)/)
  assert.match(fa.user(u2.id)!.comments[0]!.comment, /Mega Leak 2026/)
  assert.equal(ez.journal.filter(j => j.path.endsWith('/exposure-details')).length, 1)

  // An Enzoic failure never holds remediation back.
  ez.fail(500)
  const u3 = fa.addUser({ tenantId, email: 'three@acme-corp.io' })
  const r = await postAlert(bridge.url, { username: 'three@acme-corp.io', exposureID: 'exp-unknown' })
  const a = await waitFor(async () => { const x = (await bridge.store.alerts.get(r.body.alertId)); return x?.state === 'done' ? x : undefined }, 'three done')
  assert.equal(a.outcome, 'actioned')
  assert.equal(fa.user(u3.id)!.active, false)
  assert.match(fa.user(u3.id)!.comments[0]!.comment, /an unnamed exposure/)
})
