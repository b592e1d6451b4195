import { test } from 'node:test'
import { createHash } from 'node:crypto'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { startEnzoicFake } from '../fakes/enzoic.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { freePort, startTestBridge, testEnv, tmpDir } from '../helper.js'
import { cli } from '../fixtures/in-process.js'
import { spawnCli } from '../cli/support.js'

test('webhooks test --wait counts a re-delivery of an already stored test alert as an arrival', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const dir = tmpDir(t)
  const port = await freePort()
  const env = { ...ez.env, BRIDGE_DATABASE: join(dir, 'bridge.db') }
  const reg = await cli(['enzoic', 'webhooks', 'register', '--url', `http://127.0.0.1:${port}/webhooks/enzoic`, '--insecure-url', '--json'], env)
  assert.equal(reg.code, 0, reg.stderr)
  const credentials = (JSON.parse(reg.stdout) as { credentials: string }).credentials
  const bridge = await startTestBridge(t, { PORT: String(port), ENZOIC_WEBHOOK_CREDENTIALS: credentials }, dir)
  // Enzoic's test notification is the same alert every time: same exposure, same username.
  ez.setDelivery({ extra: { exposureID: 'enzoic-sample-exposure' } })

  const first = await cli(['enzoic', 'webhooks', 'test', '--wait', '10s'], env)
  assert.equal(first.code, 0, first.stdout + first.stderr)
  const id = /Received after [\d.]+ s: alert (\S+) for sample@email\.tst, exposure enzoic-sample-exposure, classified as a test alert/.exec(first.stdout)?.[1]
  assert.ok(id !== undefined, first.stdout)

  const second = await cli(['enzoic', 'webhooks', 'test', '--wait', '10s', '--json'], env)
  assert.equal(second.code, 0, second.stdout + second.stderr)
  assert.equal((await ez.waitForDelivery(2)).status, 200)
  assert.match((await ez.waitForDelivery(2)).body ?? '', /"status":"duplicate"/)
  const doc = JSON.parse(second.stdout) as { received: boolean, arrival: { kind: string, alertId: string, deliveries: number, test: boolean } }
  assert.equal(doc.received, true)
  assert.deepEqual([doc.arrival.kind, doc.arrival.alertId, doc.arrival.deliveries, doc.arrival.test], ['redelivery', id, 2, true])

  const third = await cli(['enzoic', 'webhooks', 'test', '--wait', '10s'], env)
  assert.equal(third.code, 0, third.stdout + third.stderr)
  assert.match(third.stdout, new RegExp(`Received after [\\d.]+ s: a re-delivery of alert ${id} for sample@email\\.tst, exposure enzoic-sample-exposure \\(first received .*; the bridge answered "duplicate"; 3 deliveries so far\\), classified as a test alert`))
  assert.equal((await bridge.store.alerts.list()).length, 1, 'still one stored alert')
})

test('monitor sync checks the Enzoic credentials before reading any FusionAuth user', async t => {
  const fa = await startFusionAuthFake({ tenants: 2 })
  const ez = await startEnzoicFake()
  t.after(() => Promise.all([fa.close(), ez.close()]))
  fa.addUsers(fa.tenants[0]!.id, 50)
  const env = testEnv(tmpDir(t), { ...ez.env, ENZOIC_API_SECRET: 'Wrong-Secret-For-Sync', FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  const r = await cli(['enzoic', 'monitor', 'sync'], env)
  assert.equal(r.code, 2, r.stdout + r.stderr)
  assert.equal(r.stderr, 'breach-bridge: GET /breach-monitoring-for-users: Enzoic refused the API credentials (401): check ENZOIC_API_KEY and ENZOIC_API_SECRET\n')
  assert.deepEqual(fa.journal, [], 'FusionAuth was not called: no tenant list, no user search')
  assert.ok(!(r.stdout + r.stderr).includes('Wrong-Secret-For-Sync'))
})

/** `N users read: …` numbers of a progress or summary line. */
function numbers (line: string, names: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  out.read = Number(/(\d+)(?:\/\d+)? users read/.exec(line)?.[1])
  for (const n of names) out[n] = Number(new RegExp(`(\\d+) ${n}`).exec(line)?.[1])
  for (const [k, v] of Object.entries(out)) assert.ok(Number.isInteger(v), `${k} not found in: ${line}`)
  return out
}

// A real process and a real SIGINT: the point is the signal (exit 130, progress saved, a resume that completes).
test('monitor sync interrupted (SIGINT, exit 130) and its dry run: progress, interruption and summary lines add up', async t => {
  const fa = await startFusionAuthFake({ tenants: 2 })
  const ez = await startEnzoicFake()
  t.after(() => Promise.all([fa.close(), ez.close()]))
  for (const tenant of fa.tenants) fa.addUsers(tenant.id, 12_500)
  const inactive = 7
  for (let i = 0; i < inactive; i++) fa.addUser({ tenantId: fa.tenants[0]!.id, email: `gone${i}@acme-corp.io`, active: false })
  // Some users are monitored already: "already monitored" is part of the arithmetic too.
  const pre = fa.users().filter(u => u.active).slice(0, 3)
  for (const u of pre) {
    const usernameHash = createHash('sha256').update(u.email).digest('hex')
    ez.monitored.set(usernameHash, { usernameHash })
  }
  const env = testEnv(tmpDir(t), { ...ez.env, FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  fa.setLatency(150)

  await t.test('a dry run interrupted: nothing changed, numbers add up', async () => {
    const c = spawnCli(['enzoic', 'monitor', 'sync', '--dry-run'], env)
    const [progress] = await c.waitForStderr(/^dry run: .*$/m)
    const p = numbers(progress, ['would be enrolled', 'skipped'])
    assert.equal(p.read, p['would be enrolled']! + p.skipped!, progress)
    c.child.kill('SIGINT')
    const { code } = await c.exited
    assert.equal(code, 130, c.stderr())
    const [line] = c.stderr().match(/^Dry run interrupted after .*$/m) ?? []
    assert.ok(line !== undefined, c.stderr())
    assert.match(line, /Nothing was changed; a dry run keeps no checkpoint\.$/)
    const n = numbers(line, ['would be enrolled', 'skipped'])
    assert.equal(n.read, n['would be enrolled']! + n.skipped!, line)
    assert.ok(n.read! >= p.read!)
    assert.equal(ez.monitored.size, pre.length)
    assert.doesNotMatch(c.stderr(), /progress is saved/)
  })

  await t.test('a real run interrupted: what is shown as enrolled is what Enzoic has; a resumed run completes', async () => {
    const c = spawnCli(['enzoic', 'monitor', 'sync'], env)
    const [progress] = await c.waitForStderr(/^sync: .*$/m)
    const p = numbers(progress, ['enrolled', 'already monitored', 'skipped', 'to send'])
    assert.equal(p.read, p.enrolled! + p['already monitored']! + p.skipped! + p['to send']!, progress)
    c.child.kill('SIGINT')
    const { code } = await c.exited
    assert.equal(code, 130, c.stderr())
    const [line] = c.stderr().match(/^Interrupted after .*$/m) ?? []
    assert.ok(line !== undefined, c.stderr())
    assert.match(line, /Progress is saved: run the same command again to resume\.$/)
    const n = numbers(line, ['enrolled', 'already monitored', 'skipped'])
    assert.equal(n.read, n.enrolled! + n['already monitored']! + n.skipped!, line)
    assert.equal(n.enrolled, ez.monitored.size - pre.length, 'enrolled = what Enzoic monitors now and did not before')
    assert.ok(n.enrolled! > 0)

    // A dry run with --restart must not throw the real run's checkpoint away.
    fa.setLatency(0)
    const dry = await cli(['enzoic', 'monitor', 'sync', '--dry-run', '--restart'], env)
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, /^Dry run: would enrol 25000 users .*nothing was sent to Enzoic\.$/m)
    assert.match(dry.stdout, new RegExp(`^Skipped ${inactive} users \\(inactive or without an email\\); ${25_000 + inactive} users read in all\\.$`, 'm'))
    assert.match((await cli(['enzoic', 'monitor', 'status'], env)).stdout, /An interrupted sync is waiting/)

    const rest = await cli(['enzoic', 'monitor', 'sync'], env)
    assert.equal(rest.code, 0, rest.stderr)
    assert.match(rest.stdout, /^Enrolled 24997 users \(3 already monitored\) from 2 tenant\(s\) in \d+ batch\(es\), [\d.]+ s, resumed from a checkpoint\.$/m)
    assert.match(rest.stdout, new RegExp(`^Skipped ${inactive} users \\(inactive or without an email\\); ${25_000 + inactive} users read in all\\.$`, 'm'))
    assert.equal(ez.monitored.size, 25_000)
  })
})

test('monitor sync --json interrupted (in-process, through the context): stops after the page, exit 130, the document says interrupted', async t => {
  const fa = await startFusionAuthFake({ tenants: 2 })
  const ez = await startEnzoicFake()
  t.after(() => Promise.all([fa.close(), ez.close()]))
  for (const tenant of fa.tenants) fa.addUsers(tenant.id, 1500)
  const env = testEnv(tmpDir(t), { ...ez.env, FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  const ctrlC = new AbortController()
  const r = await cli(['enzoic', 'monitor', 'sync', '--json'], env, { interrupt: ctrlC.signal, onStderr: text => { if (text.startsWith('sync: ')) ctrlC.abort() } })
  assert.equal(r.code, 130, r.stderr)
  assert.match(r.stderr, /\nstopping after the current page; progress is saved \(run again to resume\)…\n/)
  const doc = JSON.parse(r.stdout) as { interrupted: boolean, dryRun: boolean, seen: number, enrolled: number, alreadyExisted: number, skipped: number }
  assert.deepEqual([doc.interrupted, doc.dryRun], [true, false])
  assert.ok(doc.seen > 0 && doc.seen < 3000, String(doc.seen))
  assert.equal(doc.enrolled, ez.monitored.size)
  const [line] = r.stderr.match(/^Interrupted after .*$/m) ?? []
  assert.ok(line !== undefined, r.stderr)
  const n = numbers(line, ['enrolled', 'already monitored', 'skipped'])
  assert.deepEqual([n.read, n.enrolled], [doc.seen, doc.enrolled])
  assert.match((await cli(['enzoic', 'monitor', 'status'], env)).stdout, /An interrupted sync is waiting/)
})
