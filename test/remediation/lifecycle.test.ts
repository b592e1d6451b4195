// The remediation lifecycle (docs/design.md §10), through the real HTTP intake, the real worker and the real
// FusionAuth client against the fake: notify-user, grace with self-remediation, cancel, restore, policies.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, startTestBridge, tmpDir, waitFor, type TestBridge } from '../helper.js'
import { startPostgres } from '../fixtures/postgres.js'
import { loadConfig, ConfigError } from '../../src/config/index.js'
import { cancelAlert, restoreAlert } from '../../src/operations/lifecycle.js'
import { usernameHash } from '../../src/alerts/normalise.js'
import type { AlertRecord } from '../../src/alerts/types.js'

const FAST = { BRIDGE_RETRY_SCHEDULE: '50ms,50ms,50ms,50ms', FUSIONAUTH_TIMEOUT_MS: '1000' }
const WORKER = { worker: { random: () => 0.5, readinessCacheMs: 0, storeRetryMs: 100 }, pollMs: 50 }

async function fake (t: TestContext, tenants = 1): Promise<FusionAuthFake> {
  const fa = await startFusionAuthFake({ tenants })
  t.after(() => fa.close())
  return fa
}

async function bridgeOn (t: TestContext, fa: FusionAuthFake, env: Record<string, string>, dir?: string): Promise<TestBridge> {
  return startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, ...FAST, ...env }, dir, WORKER)
}

const alertFor = (email: string, exposure = `exp-${email}`): Record<string, unknown> => ({
  username: email,
  exposureID: exposure,
  date: '2026-11-20T04:51:05.1915231Z',
  exposureDetails: { title: 'Mega Forum', date: '2026-10-01T00:00:00Z', exposedData: ['Emails', 'Passwords'] }
})

async function send (bridge: TestBridge, body: Record<string, unknown>): Promise<string> {
  const r = await postAlert(bridge.url, body)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body.alertId as string
}

async function inState (bridge: TestBridge, id: string, states: string[], timeoutMs = 10_000): Promise<AlertRecord> {
  return waitFor(async () => {
    const a = await bridge.store.alerts.get(id)
    return a !== undefined && states.includes(a.state) ? a : undefined
  }, `alert ${id} to be ${states.join('/')}`, timeoutMs)
}

const stepsOf = async (bridge: TestBridge, id: string): Promise<Array<[string, string, string | undefined]>> =>
  (await bridge.store.steps.list(id)).map(s => [s.action, s.state, s.detail])

test('notify-user: FusionAuth emails the user once per exposure, with the exposure, the data kinds, the alert id and the grace deadline', async t => {
  const fa = await fake(t)
  const template = fa.addEmailTemplate('Breach notice')
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'nina@acme-corp.io' })
  const bridge = await bridgeOn(t, fa, { BRIDGE_ACTIONS: `notify-user:${template},revoke-sessions`, BRIDGE_GRACE_PERIOD: '1h', BRIDGE_GRACE_ACTIONS: 'deactivate' })
  const id = await send(bridge, alertFor('nina@acme-corp.io'))
  const waiting = await inState(bridge, id, ['waiting'])
  const sent = fa.sentEmails()
  assert.equal(sent.length, 1)
  assert.equal(sent[0]!.templateId, template)
  assert.deepEqual(sent[0]!.userIds, [u.id])
  assert.deepEqual(sent[0]!.requestData, {
    exposureTitle: 'Mega Forum',
    breachDate: 'October 2026', // Enzoic's month-only date (the 1st)
    exposedData: ['Emails', 'Passwords'],
    alertId: id,
    graceDeadline: inWords(new Date(Date.parse(waiting.receivedAt) + 3_600_000)), // no time zone on the user: UTC
    graceAction: 'deactivate'
  })
  // The same exposure again: a re-delivery (duplicate), and another alert for it (enrolled by customData).
  assert.equal((await postAlert(bridge.url, alertFor('nina@acme-corp.io'))).body.status, 'duplicate')
  const again = await send(bridge, { ...alertFor('nina@acme-corp.io'), customData: `fusionauth:${u.tenantId}:${u.id}` })
  await inState(bridge, again, ['waiting', 'done'])
  assert.equal(fa.sentEmails().length, 1, 'sent at most once per user and exposure')
  const [againAction, againState, againDetail] = (await stepsOf(bridge, again))[0]!
  assert.deepEqual([againAction, againState], [`notify-user:${template}`, 'skipped'])
  assert.match(againDetail ?? '', /^already notified of this exposure \(alert [0-9a-f-]+\)$/)
  assert.ok(bridge.logs.some(l => l.includes('"event":"user.notified"')))
})

/** `Friday, 27 November 2026 at 14:05 UTC`. */
function inWords (d: Date): string {
  const day = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'][d.getUTCDay()]
  const month = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'][d.getUTCMonth()]
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${day}, ${d.getUTCDate()} ${month} ${d.getUTCFullYear()} at ${two(d.getUTCHours())}:${two(d.getUTCMinutes())} UTC`
}

test('notify-user: text for a person — defanged (no markup, no link), dates as precise as Enzoic knows them, the deadline in the user\'s time zone, what the grace period ends with', async t => {
  const fa = await fake(t)
  const template = fa.addEmailTemplate('Breach notice')
  const tenant = fa.tenants[0]!.id
  for (const [n, timezone] of [[1, 'America/New_York'], [2, 'Not/A_Zone'], [3, undefined]] as const) fa.addUser({ tenantId: tenant, email: `tz${n}@acme-corp.io`, timezone })
  const bridge = await bridgeOn(t, fa, { BRIDGE_ACTIONS: `notify-user:${template}`, BRIDGE_GRACE_PERIOD: '48h', BRIDGE_GRACE_ACTIONS: 'require-password-change,revoke-sessions' })
  const dates = ['2019-03-01T00:00:00Z', '2019-03-14T00:00:00Z', 'sometime <b>2019</b>']
  const ids: string[] = []
  for (const n of [1, 2, 3]) {
    ids.push(await send(bridge, {
      username: `tz${n}@acme-corp.io`,
      exposureID: `exp-tz${n}`,
      exposureDetails: {
        title: 'https://evil.example/reset <a href="//evil.example">here</a> help@evil.example www.evil.com',
        date: dates[n - 1],
        exposedData: ['Passwords', 'evil.example/x\u200b.com']
      }
    }))
  }
  for (const id of ids) await inState(bridge, id, ['waiting'])
  const byUser = new Map(fa.sentEmails().map(e => [fa.user(e.userIds[0]!)!.email, e.requestData as Record<string, unknown>]))
  const first = byUser.get('tz1@acme-corp.io')!
  assert.equal(first.exposureTitle, 'https[:]//evil[.]example/reset ‹a href="//evil[.]example"›here‹/a› help[@]evil[.]example www[.]evil[.]com')
  assert.deepEqual(first.exposedData, ['Passwords', 'evil[.]example/x .com'], 'a zero-width space is a space: it hides no dot')
  assert.equal(first.breachDate, 'March 2019')
  assert.equal(byUser.get('tz2@acme-corp.io')!.breachDate, '14 March 2019')
  assert.equal(byUser.get('tz3@acme-corp.io')!.breachDate, undefined, 'an unreadable date is left out, never forwarded as text')
  assert.match(String(first.graceDeadline), /^\w+day, \d{1,2} \w+ \d{4} at \d\d:\d\d (GMT-[45]|E[SD]T)$/, 'in the user\'s time zone')
  assert.match(String(byUser.get('tz2@acme-corp.io')!.graceDeadline), / UTC$/, 'a time zone the platform does not know: UTC')
  for (const data of byUser.values()) {
    assert.equal(data.graceAction, 'require-password-change', 'the template words what happens at the deadline by it')
    const text = JSON.stringify(data)
    assert.ok(!/[<>]/.test(text), 'no markup')
    assert.ok(!/[a-z]+:\/\/|www\.|[\w-]+\.[a-z]{2,}/i.test(text), `no link: ${text}`)
  }
})

test('notify-user retried after a 503 does not send twice; a template FusionAuth does not know fails that step only', async t => {
  const fa = await fake(t)
  const template = fa.addEmailTemplate('Breach notice')
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'omar@acme-corp.io' })
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'pia@acme-corp.io' })
  const missing = '00000000-0000-4000-8000-00000000dead'
  fa.fail(503, { times: 1, match: (m, p) => m === 'DELETE' && p === '/api/jwt/refresh' })
  const bridge = await bridgeOn(t, fa, { BRIDGE_ACTIONS: `notify-user:${template},revoke-sessions` })
  const a = await inState(bridge, await send(bridge, alertFor('omar@acme-corp.io')), ['done'])
  assert.equal(a.attempts, 2)
  assert.equal(fa.sentEmails().length, 1, 'the retry did not send the email again')

  const other = await bridgeOn(t, fa, { BRIDGE_ACTIONS: `notify-user:${missing},revoke-sessions` })
  const b = await inState(other, await send(other, alertFor('pia@acme-corp.io')), ['dead'])
  const steps = await stepsOf(other, b.id)
  assert.deepEqual(steps.map(s => [s[0], s[1]]), [[`notify-user:${missing}`, 'failed'], ['revoke-sessions', 'done']], 'the failure sits beside the step that succeeded')
  assert.equal(b.outcome, 'partial')
  assert.match(b.lastError ?? '', /notify-user/)
})

test('grace: a password changed before the deadline skips the grace actions (self-remediated); otherwise the user is deactivated at the deadline', async t => {
  const fa = await fake(t)
  const fixer = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'quin@acme-corp.io', refreshTokens: 1 })
  const idle = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'ravi@acme-corp.io', refreshTokens: 1 })
  const bridge = await bridgeOn(t, fa, { BRIDGE_ACTIONS: 'require-password-change,revoke-sessions', BRIDGE_GRACE_PERIOD: '2s', BRIDGE_GRACE_ACTIONS: 'deactivate' })
  const a1 = await send(bridge, alertFor('quin@acme-corp.io'))
  const a2 = await send(bridge, alertFor('ravi@acme-corp.io'))
  for (const id of [a1, a2]) await inState(bridge, id, ['waiting'])
  // The immediate steps ran at once; the deadline has not come.
  assert.equal(fa.user(fixer.id)!.passwordChangeRequired, true)
  assert.equal(fa.user(fixer.id)!.refreshTokens.length, 0)
  assert.equal(fa.user(fixer.id)!.active, true)
  fa.changePassword(fixer.id) // the user changes their password
  const done1 = await inState(bridge, a1, ['done'], 8000)
  const done2 = await inState(bridge, a2, ['done'], 8000)
  assert.equal(done1.outcome, 'self-remediated')
  assert.equal(fa.user(fixer.id)!.active, true, 'not deactivated')
  assert.deepEqual((await stepsOf(bridge, a1)).at(-1), ['deactivate', 'skipped', 'self-remediated'])
  assert.equal(done2.outcome, 'actioned')
  assert.equal(fa.user(idle.id)!.active, false, 'deactivated at the deadline')
  assert.ok(Date.parse(done2.completedAt!) - Date.parse(done2.receivedAt) >= 1900, 'not before the deadline')
  assert.ok(bridge.logs.some(l => l.includes('"event":"alert.self_remediated"')))
  assert.ok(bridge.logs.some(l => l.includes('"event":"alert.waiting"')))
})

test('grace: the deadline survives a restart in between', async t => {
  const fa = await fake(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'sara@acme-corp.io' })
  const dir = tmpDir(t)
  const env = { BRIDGE_ACTIONS: 'revoke-sessions', BRIDGE_GRACE_PERIOD: '2s', BRIDGE_GRACE_ACTIONS: 'deactivate' }
  const first = await bridgeOn(t, fa, env, dir)
  const id = await send(first, alertFor('sara@acme-corp.io'))
  await inState(first, id, ['waiting'])
  await first.close()
  assert.equal(fa.user(u.id)!.active, true)
  const second = await bridgeOn(t, fa, env, dir)
  const a = await inState(second, id, ['done'], 8000)
  assert.equal(a.outcome, 'actioned')
  assert.equal(fa.user(u.id)!.active, false)
})

test('grace with two replicas on PostgreSQL: the deadline is claimed like any work, and acted on once', async t => {
  const pgc = await startPostgres(t)
  if (pgc === undefined) return
  const url = await pgc.createDatabase()
  const fa = await fake(t)
  const users = ['tom', 'uli', 'val'].map(n => fa.addUser({ tenantId: fa.tenants[0]!.id, email: `${n}@acme-corp.io` }))
  const env = { BRIDGE_DATABASE: url, BRIDGE_ACTIONS: 'revoke-sessions', BRIDGE_GRACE_PERIOD: '2s', BRIDGE_GRACE_ACTIONS: 'deactivate' }
  const [a, b] = [await bridgeOn(t, fa, env), await bridgeOn(t, fa, env)]
  const ids = [await send(a, alertFor('tom@acme-corp.io')), await send(b, alertFor('uli@acme-corp.io')), await send(a, alertFor('val@acme-corp.io'))]
  for (const id of ids) assert.equal((await inState(a, id, ['done'], 10_000)).outcome, 'actioned')
  for (const u of users) {
    assert.equal(fa.user(u.id)!.active, false)
    assert.equal(fa.journal.filter(j => j.method === 'DELETE' && j.path === `/api/user/${u.id}`).length, 1, 'one deactivation per user')
  }
})

test('cancel during the grace period: nothing more happens; twice is a no-op; it shows who and why', async t => {
  const fa = await fake(t)
  const u = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'wes@acme-corp.io' })
  const bridge = await bridgeOn(t, fa, { BRIDGE_ACTIONS: 'revoke-sessions', BRIDGE_GRACE_PERIOD: '2s', BRIDGE_GRACE_ACTIONS: 'deactivate' })
  const id = await send(bridge, alertFor('wes@acme-corp.io'))
  await inState(bridge, id, ['waiting'])
  const r = await cancelAlert({ store: bridge.store, config: bridge.config, log: bridge.app.log }, id, { operator: 'alice', reason: 'false positive: test account' })
  assert.deepEqual(r.cancelled.map(s => s.action), ['deactivate'])
  assert.equal(r.alert.outcome, 'cancelled')
  assert.equal(r.alert.state, 'done')
  const again = await cancelAlert({ store: bridge.store, config: bridge.config }, id, { operator: 'alice', reason: 'again' })
  assert.equal(again.nothingToDo, true)
  await new Promise(resolve => setTimeout(resolve, 2500))
  assert.equal(fa.user(u.id)!.active, true, 'the deadline passed: nothing happened')
  assert.deepEqual((await stepsOf(bridge, id)).at(-1), ['deactivate', 'cancelled', 'cancelled by alice: false positive: test account'])
  const history = await bridge.store.alerts.events(id)
  assert.equal(history.filter(e => e.note?.startsWith('cancelled by alice') === true).length, 1)
})

test('restore undoes exactly what the bridge did, newest first; never reactivates a user inactive before; twice is a no-op', async t => {
  const fa = await fake(t)
  const tenantId = fa.tenants[0]!.id
  const admin = fa.addUser({ tenantId, email: 'secops@acme-corp.io' })
  const lock = fa.addUserAction({ name: 'Breach lock', preventLogin: true })
  const group = fa.addGroup(undefined, 'Breached users')
  const active = fa.addUser({ tenantId, email: 'xena@acme-corp.io', refreshTokens: 1 })
  const inactive = fa.addUser({ tenantId, email: 'yuri@acme-corp.io', active: false })
  const bridge = await bridgeOn(t, fa, {
    FUSIONAUTH_ACTOR_USER_ID: admin.id,
    BRIDGE_ACTIONS: `comment,user-action:${lock},require-password-change,group:${group},deactivate,revoke-sessions`
  })
  const a = await inState(bridge, await send(bridge, alertFor('xena@acme-corp.io')), ['done'])
  const b = await inState(bridge, await send(bridge, alertFor('yuri@acme-corp.io')), ['done'])
  assert.equal(fa.user(active.id)!.active, false)
  assert.equal(fa.user(active.id)!.actions.filter(x => x.cancelled !== true).length, 1)

  const deps = { store: bridge.store, config: bridge.config, gateway: bridge.gateway, log: bridge.app.log }
  const r = await restoreAlert(deps, a.id, { operator: 'bob', reason: 'FusionAuth user confirmed unaffected' })
  assert.deepEqual(r.undone.map(x => x.step.action), ['deactivate', `group:${group}`, 'require-password-change', `user-action:${lock}`], 'newest first')
  assert.deepEqual(r.kept.map(x => [x.step.action, x.detail]).sort(), [
    ['comment', 'a comment is history: FusionAuth keeps it (delete it there if it must go)'],
    ['revoke-sessions', 'revoked refresh tokens cannot come back: the user signs in again']
  ])
  const after = fa.user(active.id)!
  assert.equal(after.active, true)
  assert.equal(after.passwordChangeRequired, false)
  assert.deepEqual(after.memberships, [])
  assert.equal(after.actions.filter(x => x.cancelled !== true).length, 0, 'the user action was cancelled')
  assert.equal(r.alert.outcome, 'restored')
  assert.ok((await bridge.store.alerts.events(a.id)).some(e => e.note === 'restored by bob: FusionAuth user confirmed unaffected'))

  const calls = fa.journal.length
  const twice = await restoreAlert(deps, a.id, { operator: 'bob', reason: 'again' })
  assert.equal(twice.nothingToDo, true)
  assert.equal(fa.journal.length, calls, 'no FusionAuth call')

  const rb = await restoreAlert(deps, b.id, { operator: 'bob', reason: 'restore everything' })
  assert.ok(!rb.undone.some(x => x.step.action === 'deactivate'), 'the bridge never deactivated yuri: nothing to reactivate')
  assert.deepEqual(rb.undone.map(x => x.step.action), [`group:${group}`, 'require-password-change', `user-action:${lock}`])
  assert.equal(fa.user(inactive.id)!.active, false, 'still inactive, as before the bridge acted')
  assert.ok(bridge.logs.some(l => l.includes('"event":"user.reactivated"')))
})

test('a policy file: each tenant gets its own policy, the others the default', async t => {
  const fa = await fake(t, 2)
  const [t1, t2] = [fa.tenants[0]!, fa.tenants[1]!]
  const vip = fa.addGroup(undefined, 'VIP')
  const dir = tmpDir(t)
  const file = join(dir, 'policy.yaml')
  writeFileSync(file, `default:\n  actions: [deactivate, revoke-sessions]\ntenants:\n  ${t2.id}:\n    name: customers\n    actions: [require-password-change]\n    protectedGroupIds: [${vip}]\n`)
  const u1 = fa.addUser({ tenantId: t1.id, email: 'zoe@acme-corp.io' })
  const u2 = fa.addUser({ tenantId: t2.id, email: 'zoe@acme-corp.io' })
  const u3 = fa.addUser({ tenantId: t2.id, email: 'amy@acme-corp.io' })
  fa.addMember(vip, u3.id)
  const bridge = await bridgeOn(t, fa, { BRIDGE_POLICY_FILE: file }, dir)
  const a = await inState(bridge, await send(bridge, alertFor('zoe@acme-corp.io')), ['done'])
  assert.equal(fa.user(u1.id)!.active, false, 'tenant 1: the default policy')
  assert.equal(fa.user(u2.id)!.active, true, 'tenant 2: its own policy')
  assert.equal(fa.user(u2.id)!.passwordChangeRequired, true)
  assert.equal(a.outcome, 'actioned')
  const b = await inState(bridge, await send(bridge, alertFor('amy@acme-corp.io')), ['done'])
  assert.equal(b.outcome, 'protected')
  assert.match(b.users[0]!.detail ?? '', new RegExp(`member of protected group ${vip}`))
  assert.equal(fa.user(u3.id)!.passwordChangeRequired, false)
})

test('a bad policy file: every bad entry, each naming the file, the path inside it, the value and the closest name', t => {
  const dir = tmpDir(t)
  const file = join(dir, 'policy.yaml')
  writeFileSync(file, 'default:\n  actions: [deactivate, deactvate, explode]\n  dryRun: "yes"\n  gracePeriods: 72h\n' +
    'tenants:\n  not-a-uuid:\n    actions: [revoke-session]\n    protectedGroupIds: [abc, 5d9c4a40-0000-4000-8000-00000000000a, def]\n' +
    '  5d9c4a40-0000-4000-8000-000000000001:\n    gracePeriod: soon\n    graceActions: [explode]\n    surprise: 1\n')
  const err = (() => { try { loadConfig({ BRIDGE_POLICY_FILE: file }); return undefined } catch (e) { return e } })()
  assert.ok(err instanceof ConfigError)
  const lines = (err as ConfigError).problems.map(l => l.slice(`BRIDGE_POLICY_FILE ${file}: `.length))
  assert.ok((err as ConfigError).problems.every(l => l.startsWith(`BRIDGE_POLICY_FILE ${file}: `)), lines.join('\n'))
  const syntax = '(deactivate, revoke-sessions, require-password-change, comment, user-action:<id>, group:<id>, notify-user:<id>)'
  assert.deepEqual(lines.sort(), [
    `default.actions: entry 2 "deactvate" is not a known action: did you mean deactivate? ${syntax}`,
    `default.actions: entry 3 "explode" is not a known action ${syntax}`,
    'default.dryRun: "yes" is not true or false',
    'default: unknown key "gracePeriods": did you mean gracePeriod? (known: name, actions, gracePeriod, graceActions, protectedUsers, protectedGroupIds, dryRun, ' +
      'skipIfPasswordChangedAfterExposure)',
    `tenants.5d9c4a40-0000-4000-8000-000000000001.graceActions: entry 1 "explode" is not a known action ${syntax}`,
    'tenants.5d9c4a40-0000-4000-8000-000000000001.gracePeriod: "soon" is not a duration: write one like 72h or 3d, or none',
    'tenants.5d9c4a40-0000-4000-8000-000000000001: unknown key "surprise" (known: name, actions, gracePeriod, graceActions, protectedUsers, protectedGroupIds, dryRun, ' +
      'skipIfPasswordChangedAfterExposure)',
    'tenants.not-a-uuid.actions: entry 1 "revoke-session" is not a known action: did you mean revoke-sessions? ' + syntax,
    'tenants.not-a-uuid.protectedGroupIds: entry 1 "abc" is not a group id (a UUID)',
    'tenants.not-a-uuid.protectedGroupIds: entry 3 "def" is not a group id (a UUID)',
    'tenants.not-a-uuid: "not-a-uuid" is not a tenant id: tenant ids are UUIDs (FusionAuth → Tenants)'
  ].sort())
  // A YAML error is shown whole: the message, and the lines it points at.
  writeFileSync(file, 'default:\n  actions: [deactivate\n  dryRun: true\n')
  const yaml = (() => { try { loadConfig({ BRIDGE_POLICY_FILE: file }); return undefined } catch (e) { return e as ConfigError } })()!
  assert.equal(yaml.problems.length, 1)
  assert.match(yaml.problems[0]!, /^BRIDGE_POLICY_FILE .*: not YAML or JSON: .* at line 3, column 3:\n[\s\S]*actions: \[deactivate\n[\s\S]*\^/)
  assert.match(yaml.message, /\n {4}\s*actions: \[deactivate\n/, 'continued under its problem line')
  assert.throws(() => loadConfig({ BRIDGE_POLICY_FILE: join(dir, 'missing.yaml') }), /BRIDGE_POLICY_FILE .*missing\.yaml: cannot read the file \(ENOENT\)/)
  assert.equal(usernameHash(' A@b.c '), usernameHash('a@b.c'))
})
