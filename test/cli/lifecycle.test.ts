// `alerts cancel`, `alerts restore` and `users list` render what the operations return (their logic:
// test/operations/lifecycle.test.ts and users.test.ts), in-process.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, startTestBridge, waitFor } from '../helper.js'
import { cli } from '../fixtures/in-process.js'

test('alerts cancel: text and --json; a second cancel has nothing to do; ids are resolved as everywhere', async t => {
  const bridge = await startTestBridge(t) // no FusionAuth: the alert stays queued
  const id = (await postAlert(bridge.url, { username: 'ruth@acme-corp.io', exposureID: 'exp-c' })).body.alertId as string
  const env = { BRIDGE_DATABASE: bridge.config.database }
  const r = await cli(['alerts', 'cancel', id.slice(0, 24), '--reason', 'false positive', '--operator', 'alice'], env)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, `Cancelled alert ${id}: it will not be processed.\n`)
  const again = await cli(['alerts', 'cancel', id, '--reason', 'again', '--operator', 'alice', '--json'], env)
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual(JSON.parse(again.stdout), { alertId: id, cancelled: [], stoppedBeforeProcessing: false, nothingToDo: true })
  const shown = await cli(['alerts', 'show', id], env)
  assert.match(shown.stdout, /^Outcome: +cancelled$/m)
  assert.match(shown.stdout, /cancelled by alice: false positive/)

  const missing = await cli(['alerts', 'cancel', 'abcd', '--reason', 'x'], env)
  assert.equal(missing.code, 1)
  assert.equal(missing.stderr, 'breach-bridge: no alert abcd\n')
  const bad = await cli(['alerts', 'cancel', 'xyz!', '--reason', 'x'], env)
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /^breach-bridge: xyz!: not an alert id/)
  const noReason = await cli(['alerts', 'cancel', id], env)
  assert.equal(noReason.code, 2)
  assert.match(noReason.stderr, /required option '--reason <text>' not specified/)
})

test('alerts restore: what was undone and what was kept, as a table or --json; FUSIONAUTH_* required', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'erik@acme-corp.io', refreshTokens: 1 })
  const faEnv = { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey }
  const bridge = await startTestBridge(t, faEnv)
  const id = (await postAlert(bridge.url, { username: 'erik@acme-corp.io', exposureID: 'exp-r' })).body.alertId as string
  await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alert to finish')
  const env = { BRIDGE_DATABASE: bridge.config.database, ...faEnv }

  const unconfigured = await cli(['alerts', 'restore', id, '--reason', 'x'], { BRIDGE_DATABASE: bridge.config.database })
  assert.equal(unconfigured.code, 2)
  assert.match(unconfigured.stderr, /FUSIONAUTH_URL: required/)

  const r = await cli(['alerts', 'restore', id.slice(0, 24), '--reason', 'confirmed not breached', '--operator', 'bob'], env)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`^Restored alert ${id} \\(outcome restored\\):$`, 'm'))
  assert.match(r.stdout, /^ {2}RESULT +USER +ACTION +DETAIL$/m)
  assert.match(r.stdout, new RegExp(`^ {2}undone +${user.id} +deactivate +\\S`, 'm'))
  assert.match(r.stdout, new RegExp(`^ {2}kept +${user.id} +revoke-sessions +\\S`, 'm'))
  assert.equal(fa.user(user.id)!.active, true)

  const again = await cli(['alerts', 'restore', id, '--reason', 'again', '--operator', 'bob', '--json'], env)
  assert.equal(again.code, 0, again.stderr)
  const doc = JSON.parse(again.stdout) as { alertId: string, undone: unknown[], kept: Array<{ step: { action: string } }>, nothingToDo: boolean }
  assert.deepEqual([doc.alertId, doc.undone, doc.nothingToDo], [id, [], true])
  assert.ok(doc.kept.length > 0)
  const text = await cli(['alerts', 'restore', id, '--reason', 'again', '--operator', 'bob'], env)
  assert.match(text.stdout, new RegExp(`^Nothing left to undo for alert ${id}\\.$`, 'm'))
})

test('users list: a table, --json, --csv and filters; no rows is one line', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'ruth@acme-corp.io' })
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  const id = (await postAlert(bridge.url, { username: 'ruth@acme-corp.io', exposureID: '=exp-u;-x' })).body.alertId as string
  await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alert to finish')
  const env = { BRIDGE_DATABASE: bridge.config.database }

  const table = await cli(['users', 'list'], env)
  assert.equal(table.code, 0, table.stderr)
  assert.match(table.stdout, /^USER +TENANT +EMAIL +SOURCE +EXPOSURE +STATE +FIRST SEEN +ALERTS$/m)
  assert.match(table.stdout, new RegExp(`^${user.id} +${user.tenantId} +ruth@acme-corp\\.io +enzoic +=exp-u;-x +actioned +\\S+ \\S+ +1$`, 'm'))
  const json = JSON.parse((await cli(['users', 'list', '--json', '--state', 'actioned'], env)).stdout) as Array<{ userId: string, alertIds: string[] }>
  assert.deepEqual(json.map(r => [r.userId, r.alertIds]), [[user.id, [id]]])
  const csv = await cli(['users', 'list', '--csv'], env)
  assert.match(csv.stdout, /^"userId","tenantId","email","source","exposureId","state","firstSeen","lastChange","alertIds","steps","tenantName"\r\n/)
  assert.match(csv.stdout, /,"'=exp-u;'-x","actioned",/, 'every cell quoted, each ;-separated part formula-guarded')
  assert.equal((await cli(['users', 'list', '--state', 'pending'], env)).stdout, 'No users match.\n')
  assert.equal((await cli(['users', 'list', '--tenant', fa.tenants[0]!.id.toUpperCase(), '--json'], env)).stdout.includes(user.id), true, 'the tenant id in any case')
  const badLimit = await cli(['users', 'list', '--limit', '0'], env)
  assert.equal(badLimit.code, 2)
  assert.equal(badLimit.stderr, 'breach-bridge: --limit must be a positive whole number\n')
})

test('alerts restore: exit 2 for a refused credential (before or midway) and for a --user the alert never touched; 3 when FusionAuth does not answer', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'erik@acme-corp.io', refreshTokens: 1 })
  const faEnv = { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey }
  const bridge = await startTestBridge(t, faEnv)
  const id = (await postAlert(bridge.url, { username: 'erik@acme-corp.io', exposureID: 'exp-r2' })).body.alertId as string
  await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alert to finish')
  const env = { BRIDGE_DATABASE: bridge.config.database, ...faEnv }
  const restore = async (extra: string[] = [], e: NodeJS.ProcessEnv = env): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await cli(['alerts', 'restore', id, '--reason', 'x', '--operator', 'bob', ...extra], e)

  const stranger = await restore(['--user', '0190ab12-3c4d-7e5f-8a9b-0c1d2e3f4a5b'])
  assert.equal(stranger.code, 2)
  assert.equal(stranger.stderr, `breach-bridge: alert ${id} never touched user 0190ab12-3c4d-7e5f-8a9b-0c1d2e3f4a5b: its users are ${user.id}\n`)

  fa.addApiKey('no-reactivate', { endpoints: { '/api/user': ['GET', 'DELETE'], '/api/jwt/refresh': ['GET', 'DELETE'] } })
  const notPermitted = await restore([], { ...env, FUSIONAUTH_API_KEY: 'no-reactivate' })
  assert.equal(notPermitted.code, 2, notPermitted.stderr)
  assert.match(notPermitted.stderr, /^breach-bridge: nothing undone for alert \S+: the API key may not call PUT \/api\/user \(alerts restore \(deactivate\)\)\. Allow these/)

  fa.fail(503, { match: (m, p) => m === 'PUT' && p === `/api/user/${user.id}` })
  const down = await restore()
  assert.equal(down.code, 3, down.stderr)
  assert.match(down.stderr, /restore stopped at deactivate of user \S+ \(.*503.*\): FusionAuth did not answer: restore again once it does/)
  fa.clearFaults()
  fa.fail(401, { match: (m, p) => m === 'PUT' && p === `/api/user/${user.id}` })
  const refused = await restore()
  assert.equal(refused.code, 2, refused.stderr)
  assert.match(refused.stderr, /the API key was refused: check FUSIONAUTH_API_KEY and its permissions/)
  fa.clearFaults()
  assert.equal((await restore()).code, 0)
  assert.equal(fa.user(user.id)!.active, true)
})

test('tables show tenant names beside ids (from FusionAuth; offline, ids alone); --tenant takes an id prefix or a name', async t => {
  const fa = await startFusionAuthFake({ tenants: 0 })
  t.after(() => fa.close())
  const acme = fa.addTenant('Acme', 'abcd1111-0000-4000-8000-000000000001')
  const globex = fa.addTenant('Globex', 'abcd2222-0000-4000-8000-000000000002')
  const [a, g] = [fa.addUser({ tenantId: acme.id, email: 'zoe@acme-corp.io' }), fa.addUser({ tenantId: globex.id, email: 'zoe@acme-corp.io' })]
  const faEnv = { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey }
  const bridge = await startTestBridge(t, faEnv)
  const id = (await postAlert(bridge.url, { username: 'zoe@acme-corp.io', exposureID: 'exp-tenants' })).body.alertId as string
  await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alert to finish')
  const offline = { BRIDGE_DATABASE: bridge.config.database }
  const env = { ...offline, ...faEnv }

  const users = await cli(['users', 'list'], env)
  assert.match(users.stdout, new RegExp(`^${a.id} +Acme \\(${acme.id}\\) +zoe@acme-corp\\.io`, 'm'))
  assert.match(users.stdout, new RegExp(`^${g.id} +Globex \\(${globex.id}\\) +zoe@acme-corp\\.io`, 'm'))
  const list = await cli(['alerts', 'list'], env)
  assert.match(list.stdout, new RegExp(`^${id} .* zoe@acme-corp\\.io +Acme, Globex +exp-tenants$`, 'm'))
  assert.match((await cli(['alerts', 'show', id], env)).stdout, new RegExp(`^ {2}${a.id} +Acme \\(${acme.id}\\) +zoe@acme-corp\\.io +actioned$`, 'm'))
  const json = JSON.parse((await cli(['users', 'list', '--json'], env)).stdout) as Array<{ userId: string, tenantName?: string }>
  assert.deepEqual(json.map(r => [r.userId, r.tenantName]).sort(), [[a.id, 'Acme'], [g.id, 'Globex']].sort())

  // Offline (no FusionAuth configured): ids alone, and the commands work as before.
  assert.match((await cli(['users', 'list'], offline)).stdout, new RegExp(`^${a.id} +${acme.id} +zoe@acme-corp\\.io`, 'm'))
  assert.match((await cli(['alerts', 'list'], offline)).stdout, new RegExp(`zoe@acme-corp\\.io +(${acme.id}, ${globex.id}|${globex.id}, ${acme.id}) +exp-tenants$`, 'm'))

  const rowsFor = async (tenant: string, e: NodeJS.ProcessEnv = env): Promise<string[]> =>
    (JSON.parse((await cli(['users', 'list', '--tenant', tenant, '--json'], e)).stdout) as Array<{ userId: string }>).map(r => r.userId)
  assert.deepEqual(await rowsFor('ABCD2222'), [g.id], 'an id prefix, any case')
  assert.deepEqual(await rowsFor('abcd2'), [g.id])
  assert.deepEqual(await rowsFor('abcd1', offline), [a.id], 'offline: the ids the store knows')
  assert.deepEqual(await rowsFor('globex'), [g.id], 'a name')
  assert.deepEqual(await rowsFor(acme.id), [a.id])
  const ambiguous = await cli(['users', 'list', '--tenant', 'abcd'], env)
  assert.equal(ambiguous.code, 2)
  assert.equal(ambiguous.stderr, `breach-bridge: --tenant abcd is ambiguous: it matches Acme (${acme.id}), Globex (${globex.id}): give more of the id\n`)
  const none = await cli(['users', 'list', '--tenant', 'initech'], env)
  assert.equal(none.code, 2)
  assert.match(none.stderr, /^breach-bridge: --tenant initech matches no tenant \(known: Acme \(abcd1111-\S+\), Globex \(abcd2222-\S+\)\): give its id, a prefix/)
})
