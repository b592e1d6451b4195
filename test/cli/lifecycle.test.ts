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
  assert.match(table.stdout, /^USER +TENANT +EMAIL +EXPOSURE +STATE +FIRST SEEN +ALERTS$/m)
  assert.match(table.stdout, new RegExp(`^${user.id} +${user.tenantId} +ruth@acme-corp\\.io +=exp-u;-x +actioned +\\S+ \\S+ +1$`, 'm'))
  const json = JSON.parse((await cli(['users', 'list', '--json', '--state', 'actioned'], env)).stdout) as Array<{ userId: string, alertIds: string[] }>
  assert.deepEqual(json.map(r => [r.userId, r.alertIds]), [[user.id, [id]]])
  const csv = await cli(['users', 'list', '--csv'], env)
  assert.match(csv.stdout, /^"userId","tenantId","email","exposureId","state","firstSeen","lastChange","alertIds","steps"\r\n/)
  assert.match(csv.stdout, /,"'=exp-u;'-x","actioned",/, 'every cell quoted, each ;-separated part formula-guarded')
  assert.equal((await cli(['users', 'list', '--state', 'pending'], env)).stdout, 'No users match.\n')
  assert.equal((await cli(['users', 'list', '--tenant', fa.tenants[0]!.id.toUpperCase(), '--json'], env)).stdout.includes(user.id), true, 'the tenant id in any case')
  const badLimit = await cli(['users', 'list', '--limit', '0'], env)
  assert.equal(badLimit.code, 2)
  assert.equal(badLimit.stderr, 'breach-bridge: --limit must be a positive whole number\n')
})
