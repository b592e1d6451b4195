// The Enzoic operations (src/operations/enzoic.ts) against the Enzoic fake over HTTP, FusionAuth's fake, real
// files and a real bridge: the safe env-file writer, register-then-write, the test call's wait, monitor sync
// and its status. (A write that fails after registering — the roll-back — needs a file-size limit, so a
// child process: test/enzoic/write-env.test.ts.)
import { test } from 'node:test'
import { createFusionAuthGateway } from '../../src/fusionauth/index.js'
import { TenantArgumentError } from '../../src/operations/tenants.js'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/index.js'
import { EnzoicApiError } from '../../src/enzoic/client.js'
import { SyncInterruptedError, type SyncProgress } from '../../src/enzoic/sync.js'
import {
  createEnzoicApi, EnvFileError, listWebhooks, monitorStatus, openEnvFile, registerWebhook, requestTestNotification, runMonitorSync, SyncFailedError
} from '../../src/operations/enzoic.js'
import { openStore } from '../../src/store/index.js'
import { startEnzoicFake, type EnzoicFake } from '../fakes/enzoic.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { freePort, startTestBridge, testEnv, tmpDir } from '../helper.js'
import { commandStore } from './support.js'

const mode = (file: string): number => statSync(file).mode & 0o777

async function enzoic (t: import('node:test').TestContext): Promise<{ ez: EnzoicFake, api: ReturnType<typeof createEnzoicApi> }> {
  const ez = await startEnzoicFake()
  const api = createEnzoicApi(loadConfig(ez.env, ['enzoic']))
  t.after(async () => { await api.close(); await ez.close() })
  return { ez, api }
}

test('openEnvFile refuses a symbolic link (even a dangling one) and what is not a regular file, touching nothing', t => {
  const dir = tmpDir(t)
  const target = join(dir, 'authorized_keys')
  writeFileSync(target, 'ORIGINAL CONTENT\n', { mode: 0o644 })
  symlinkSync(target, join(dir, 'link.env'))
  symlinkSync(join(dir, 'not-there-yet'), join(dir, 'dangling.env'))
  mkdirSync(join(dir, 'folder.env'))
  for (const name of ['link.env', 'dangling.env']) {
    assert.throws(() => openEnvFile(join(dir, name)), (e: unknown) =>
      e instanceof EnvFileError && e.reason === 'symbolic-link' && e.message === `${join(dir, name)} is a symbolic link: refusing to write a secret through it; give the path of the file itself`)
  }
  assert.throws(() => openEnvFile(join(dir, 'folder.env')), (e: unknown) => e instanceof EnvFileError && e.reason === 'not-a-file')
  assert.equal(readFileSync(target, 'utf8'), 'ORIGINAL CONTENT\n')
  assert.equal(mode(target), 0o644)
  assert.throws(() => statSync(join(dir, 'not-there-yet')), { code: 'ENOENT' })
})

test('openEnvFile: 0600 as soon as it is open (before any secret), appends the pair, keeps an earlier pair in front; a new empty file can be discarded', t => {
  const dir = tmpDir(t)
  const file = join(dir, 'bridge.env')
  writeFileSync(file, 'LOG_LEVEL=info\nexport ENZOIC_WEBHOOK_CREDENTIALS="old-key:old-secret"\n', { mode: 0o644 })
  const f = openEnvFile(file, () => Date.parse('2026-03-01T12:00:00Z'))
  assert.equal(f.created, false)
  assert.equal(mode(file), 0o600, 'tightened on open')
  assert.deepEqual(f.append('k1', 's1'), { rotated: true })
  f.close(true)
  const text = readFileSync(file, 'utf8')
  assert.ok(text.startsWith('LOG_LEVEL=info\n'), 'the rest of the file kept; a file that existed is never discarded')
  assert.match(text, /^# Enzoic webhook credentials rotated \(old pair kept: remove it once Enzoic uses the new webhook\), 2026-03-01T12:00:00\.000Z$/m)
  assert.match(text, /^ENZOIC_WEBHOOK_CREDENTIALS=old-key:old-secret,k1:s1$/m)

  const fresh = join(dir, 'new.env')
  const n = openEnvFile(fresh)
  assert.equal(n.created, true)
  assert.equal(mode(fresh), 0o600)
  n.close(true)
  assert.throws(() => statSync(fresh), { code: 'ENOENT' }, 'created, left empty, discarded')
  const w = openEnvFile(fresh)
  assert.deepEqual(w.append('k2', 's2'), { rotated: false })
  w.close(true)
  assert.match(readFileSync(fresh, 'utf8'), /^ENZOIC_WEBHOOK_CREDENTIALS=k2:s2$/m, 'a written file stays')
})

test('registerWebhook: the pair returned, or written to the env file (not returned); a refused file registers nothing; a failed registration leaves no file', async t => {
  const { ez, api } = await enzoic(t)
  const dir = tmpDir(t)
  const url = 'https://bridge.example.com/webhooks/enzoic'
  const shown = await registerWebhook(api, { url })
  assert.equal(shown.written, undefined)
  assert.deepEqual([shown.webhook.key, shown.webhook.secret], [ez.webhooks[0]!.key, ez.webhooks[0]!.secret])
  assert.equal(shown.webhook.default, true, 'the first one is the default')

  const file = join(dir, 'bridge.env')
  const written = await registerWebhook(api, { url, envFile: file })
  const hook = ez.webhooks[1]!
  assert.deepEqual(written.written, { path: file, rotated: false })
  assert.match(readFileSync(file, 'utf8'), new RegExp(`^ENZOIC_WEBHOOK_CREDENTIALS=${hook.key}:${hook.secret}$`, 'm'))
  assert.equal(mode(file), 0o600)

  symlinkSync(file, join(dir, 'link.env'))
  await assert.rejects(registerWebhook(api, { url, envFile: join(dir, 'link.env') }), EnvFileError)
  assert.equal(ez.webhooks.length, 2, 'the file is checked before anything is registered')

  ez.fail(500, { times: 4 })
  await assert.rejects(registerWebhook(api, { url, envFile: join(dir, 'new.env') }), EnzoicApiError)
  assert.throws(() => statSync(join(dir, 'new.env')), { code: 'ENOENT' }, 'no empty file left behind')
  assert.equal(ez.webhooks.length, 2)
})

test('listWebhooks never carries a key or a secret', async t => {
  const { api } = await enzoic(t)
  await registerWebhook(api, { url: 'https://bridge.example.com/webhooks/enzoic' })
  const list = await listWebhooks(api)
  assert.equal(list.length, 1)
  assert.deepEqual(Object.keys(list[0]!).filter(k => k === 'key' || k === 'secret'), [])
})

test('requestTestNotification: without a store it only asks; with the bridge\'s store it waits for the arrival, a refusal, or says none came', async t => {
  const { ez, api } = await enzoic(t)
  // A bridge with other credentials than the webhook's: it answers 401, nothing is stored.
  const refusing = await startTestBridge(t)
  await registerWebhook(api, { url: `${refusing.url}/webhooks/enzoic` })
  assert.deepEqual(await requestTestNotification(api, { type: 'breachAlert' }), { waited: false })
  assert.equal(ez.journal.filter(j => j.path.endsWith('/webhook-test')).length, 1)
  assert.equal((await ez.waitForDelivery(1)).status, 401)
  const refused = await requestTestNotification(api, { type: 'breachAlert', store: await commandStore(t, refusing), waitMs: 10_000 })
  assert.equal(refused.waited ? refused.arrival?.kind : undefined, 'refused', 'the bridge refused the call\'s credentials')
  // Nothing reaches the bridge at all: no arrival. (The bridge notes a refusal within a second: let the last land first.)
  await new Promise(resolve => setTimeout(resolve, 1100))
  await registerWebhook(api, { url: `http://127.0.0.1:${await freePort()}/webhooks/enzoic`, makeDefault: true })
  const none = await requestTestNotification(api, { type: 'breachAlert', store: await commandStore(t, refusing), waitMs: 1000 })
  assert.deepEqual(none, { waited: true, arrival: undefined })

  // The default webhook now points at a bridge that holds its credentials.
  const port = await freePort()
  const reg = await registerWebhook(api, { url: `http://127.0.0.1:${port}/webhooks/enzoic`, makeDefault: true })
  const bridge = await startTestBridge(t, { PORT: String(port), ENZOIC_WEBHOOK_CREDENTIALS: `${reg.webhook.key}:${reg.webhook.secret}` })
  let requested = false
  const waited = await requestTestNotification(api, { type: 'breachAlert', store: await commandStore(t, bridge), waitMs: 10_000, onRequested: () => { requested = true } })
  assert.equal(requested, true)
  const arrival = waited.waited ? waited.arrival : undefined
  assert.equal(arrival?.kind, 'new')
  assert.equal(arrival?.kind === 'new' ? arrival.alert.test : undefined, true)
})

async function syncWorld (t: import('node:test').TestContext, perTenant: number): Promise<{ ez: EnzoicFake, env: NodeJS.ProcessEnv }> {
  const fa = await startFusionAuthFake({ tenants: 2 })
  const ez = await startEnzoicFake()
  t.after(() => Promise.all([fa.close(), ez.close()]))
  for (const tenant of fa.tenants) fa.addUsers(tenant.id, perTenant)
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'gone@acme-corp.io', active: false })
  return { ez, env: testEnv(tmpDir(t), { ...ez.env, FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey }) }
}

test('runMonitorSync enrols the active users of every tenant and records the sync (monitorStatus); a dry run sends nothing', async t => {
  const { ez, env } = await syncWorld(t, 30)
  const config = loadConfig(env, ['enzoic', 'fusionauth'])
  const progress: SyncProgress[] = []
  const s = await runMonitorSync(config, { onProgress: p => progress.push(p) })
  assert.deepEqual([s.enrolled, s.alreadyExisted, s.skipped, s.seen, s.tenants, s.dryRun, s.resumed], [60, 0, 1, 61, 2, false, false])
  assert.equal(ez.monitored.size, 60)
  assert.ok(progress.length > 0)
  for (const p of progress) assert.equal(p.seen, p.enrolled + p.alreadyExisted + p.skipped + p.pending, JSON.stringify(p))

  const api = createEnzoicApi(config)
  t.after(() => api.close())
  const status = await monitorStatus(api, async () => await openStore(config.database, { role: 'command' }))
  assert.equal(status.monitored, 60)
  assert.equal(status.lastSync?.enrolled, 60)
  assert.equal(status.interruptedSyncWaiting, false)
  assert.deepEqual(await monitorStatus(api, async () => undefined), { monitored: 60, lastSync: null, interruptedSyncWaiting: false }, 'no store: Enzoic\'s count only')

  const posts = ez.journal.filter(j => j.method === 'POST').length
  const dry = await runMonitorSync(config, { dryRun: true })
  assert.deepEqual([dry.dryRun, dry.enrolled], [true, 60])
  assert.equal(ez.journal.filter(j => j.method === 'POST').length, posts, 'a dry run sends nothing')
})

test('runMonitorSync: refused credentials are a SyncFailedError with nothing saved; an abort is SyncInterruptedError with a checkpoint, which the next run resumes', async t => {
  const { ez, env } = await syncWorld(t, 1500)
  const config = loadConfig(env, ['enzoic', 'fusionauth'])
  await assert.rejects(runMonitorSync(loadConfig({ ...env, ENZOIC_API_SECRET: 'Wrong-Secret' }, ['enzoic', 'fusionauth']), {}), (e: unknown) =>
    e instanceof SyncFailedError && !e.progressSaved && e.cause instanceof EnzoicApiError && e.cause.status === 401)

  const abort = new AbortController()
  await assert.rejects(runMonitorSync(config, { signal: abort.signal, onProgress: () => abort.abort() }), (e: unknown) =>
    e instanceof SyncInterruptedError && e.progress.seen > 0 && e.progress.seen < 3001)
  const api = createEnzoicApi(config)
  t.after(() => api.close())
  assert.equal((await monitorStatus(api, async () => await openStore(config.database, { role: 'command' }))).interruptedSyncWaiting, true)

  const rest = await runMonitorSync(config, {})
  assert.equal(rest.resumed, true)
  assert.equal(ez.monitored.size, 3000)
})

test('runMonitorSync --tenant: a full id, an id prefix or a tenant name (resolved against FusionAuth\'s tenants); none or several is an error', async t => {
  const { env } = await syncWorld(t, 3)
  const config = loadConfig(env, ['enzoic', 'fusionauth'])
  const gateway = createFusionAuthGateway({ url: config.fusionAuthUrl!, apiKey: config.fusionAuthApiKey!, timeoutMs: 5000 })
  const [, second] = await gateway.listTenants()
  await gateway.close()
  for (const tenant of ['tenant 2', second!.id.slice(0, 8).toUpperCase(), second!.id]) {
    const s = await runMonitorSync(config, { tenant, dryRun: true })
    assert.deepEqual([s.tenants, s.enrolled], [1, 3], tenant)
  }
  await assert.rejects(runMonitorSync(config, { tenant: 'initech', dryRun: true }), (e: unknown) => e instanceof TenantArgumentError && /matches no tenant/.test(e.message))
})
