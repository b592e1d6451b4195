// Every lifecycle event the README documents (src/observability/events.ts) appears in the log of a run
// that takes alerts through the whole lifecycle — so a SIEM rule written against the table finds its lines.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { startEnzoicFake } from '../fakes/enzoic.js'
import { postEvent, userEvent } from '../fakes/fusionauth-events.js'
import { postAlert, startTestBridge, tmpDir, waitFor } from '../helper.js'
import { EVENTS } from '../../src/observability/events.js'
import { cancelAlert, restoreAlert } from '../../src/operations/lifecycle.js'

test('a lifecycle run logs every documented event, each with its event name', async t => {
  // The operator's chat webhook: down at first, then up.
  let up = false
  const srv = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(up ? 200 : 503).end()) })
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => { srv.closeAllConnections(); srv.close(resolve) }))

  const fa = await startFusionAuthFake({ tenants: 3 })
  t.after(() => fa.close())
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const [t1, t2, t3] = [fa.tenants[0]!.id, fa.tenants[1]!.id, fa.tenants[2]!.id]
  const template = fa.addEmailTemplate('Breach notice')
  const missingGroup = '00000000-0000-4000-8000-00000000beef'
  const dir = tmpDir(t)
  const policy = join(dir, 'policy.yaml')
  writeFileSync(policy, [
    'default:',
    `  actions: [notify-user:${template}, revoke-sessions]`,
    '  gracePeriod: 2s',
    '  graceActions: [deactivate]',
    'tenants:',
    `  ${t2}:`,
    `    actions: [group:${missingGroup}, revoke-sessions]`,
    '    gracePeriod: none',
    '    graceActions: []',
    `  ${t3}:`,
    '    actions: [require-password-change]',
    '    gracePeriod: none',
    '    graceActions: []'
  ].join('\n') + '\n')
  const changer = fa.addUser({ tenantId: t3, email: 'ev-change@acme-corp.io' })
  const closer = fa.addUser({ tenantId: t1, email: 'ev-close@acme-corp.io' })
  const fixer = fa.addUser({ tenantId: t1, email: 'ev-fix@acme-corp.io' })
  fa.addUser({ tenantId: t1, email: 'ev-idle@acme-corp.io' })
  fa.addUser({ tenantId: t1, email: 'ev-cancel@acme-corp.io' })
  fa.addUser({ tenantId: t2, email: 'ev-dead@acme-corp.io' })
  fa.addUser({ tenantId: t1, email: 'ev-retry@acme-corp.io' })
  fa.addUser({ tenantId: t1, email: 'ev-pause@acme-corp.io' })
  fa.addUser({ tenantId: t1, email: 'ev-uncertain@acme-corp.io' })
  const bridge = await startTestBridge(t, {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    BRIDGE_POLICY_FILE: policy,
    BRIDGE_RETRY_SCHEDULE: '100ms,100ms,100ms',
    BRIDGE_NOTIFY_URL: `http://127.0.0.1:${(srv.address() as { port: number }).port}/hook`,
    BRIDGE_NOTIFY_INTERVAL: '1s',
    FUSIONAUTH_WEBHOOK_SECRET: 'Bearer events',
    ...ez.env
  }, dir, {
    worker: { probeIntervalMs: 100, random: () => 0.5 },
    pollMs: 50,
    digest: { tickMs: 3_600_000, backoffMs: [100] },
    follower: { pollMs: 100, backoffMs: [100] }
  })
  const event = async (type: string, u: typeof closer): Promise<void> => {
    assert.equal((await postEvent(bridge.url, userEvent(type, u), { authorization: 'Bearer events' })).status, 200)
  }
  const send = async (email: string): Promise<string> => (await postAlert(bridge.url, { username: email, exposureID: `exp-${email}` })).body.alertId as string
  const state = (id: string, ...states: string[]): Promise<unknown> =>
    waitFor(async () => states.includes((await bridge.store.alerts.get(id))?.state ?? ''), `${id} to be ${states.join('/')}`, 10_000)
  const ops = { store: bridge.store, config: bridge.config, gateway: bridge.gateway, log: bridge.app.log }

  await bridge.digest!.tick()
  const fix = await send('ev-fix@acme-corp.io')
  const idle = await send('ev-idle@acme-corp.io')
  const cancelled = await send('ev-cancel@acme-corp.io')
  assert.equal((await postAlert(bridge.url, { username: 'ev-fix@acme-corp.io', exposureID: 'exp-ev-fix@acme-corp.io' })).body.status, 'duplicate')
  for (const id of [fix, idle, cancelled]) await state(id, 'waiting')
  await cancelAlert(ops, cancelled, { operator: 'alice', reason: 'test mailbox' })
  fa.changePassword(fixer.id)
  for (const id of [fix, idle]) await state(id, 'done')
  await state(await send('ev-dead@acme-corp.io'), 'dead')
  fa.fail(503, { times: 1, match: (m, p) => m === 'DELETE' && p === '/api/jwt/refresh' })
  await state(await send('ev-retry@acme-corp.io'), 'waiting')
  // FusionAuth sends the email, then its answer is lost behind a 502: uncertain.
  fa.fail(502, { times: 1, afterEffect: true, match: (m, p) => m === 'POST' && p.startsWith('/api/email/send/') })
  await state(await send('ev-uncertain@acme-corp.io'), 'waiting')
  await restoreAlert(ops, idle, { operator: 'bob', reason: 'confirmed unaffected' })
  // FusionAuth's own events: a password change closes a waiting case, another resolves a required change; a new
  // user's enrolment waits out an Enzoic outage.
  const closing = await send('ev-close@acme-corp.io')
  const changing = await send('ev-change@acme-corp.io')
  await state(closing, 'waiting')
  await state(changing, 'done')
  await event('user.password.update', fa.changePassword(closer.id))
  await event('user.password.update', fa.changePassword(changer.id))
  await waitFor(() => bridge.logs.some(l => l.includes('"event":"case.resolved"')) && bridge.logs.some(l => l.includes('"event":"case.closed"')), 'cases closed')
  ez.fail(503, { times: 4 })
  await event('user.create', fa.addUser({ tenantId: t1, email: 'ev-new@acme-corp.io' }))
  await waitFor(() => bridge.logs.some(l => l.includes('"event":"enrolment.followed"')), 'the enrolment followed', 15_000)
  fa.revokeKey()
  const paused = await send('ev-pause@acme-corp.io')
  await waitFor(() => bridge.worker!.paused, 'the worker to pause')
  fa.restoreKey()
  await state(paused, 'waiting')
  await new Promise(resolve => setTimeout(resolve, 1100))
  await bridge.digest!.tick() // the receiver is down: kept
  up = true
  await new Promise(resolve => setTimeout(resolve, 150))
  await bridge.digest!.tick() // delivered

  const seen = new Set(bridge.logs.map(l => (JSON.parse(l) as { event?: string }).event).filter(e => e !== undefined))
  const missing = Object.keys(EVENTS).filter(e => !seen.has(e))
  assert.deepEqual(missing, [], `events never logged in this run: ${missing.join(', ')}`)
  const unknown = [...seen].filter(e => !(e! in EVENTS))
  assert.deepEqual(unknown, [], 'every event logged is documented')
})
