// `npm run demo`: the whole flow on this machine, no configuration needed, in three scenarios (the third: scripts/demo-events.ts). Starts the FusionAuth fake
// (two tenants, a few users), the bridge on a temporary database, sends an Enzoic-style breach alert
// with Basic auth, and shows the users before and after, and the alert record.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config/index.js'
import { startBridge } from '../src/server.js'
import { createLogger } from '../src/observability/logger.js'
import { describeAlert } from '../src/cli/alerts.js'
import { restoreAlert } from '../src/operations/lifecycle.js'
import { table } from '../src/cli/output.js'
import { startFusionAuthFake, type FusionAuthFake } from '../test/fakes/fusionauth.js'
import { fusionAuthEventsScenario } from './demo-events.js'

const say = (text = ''): void => { process.stdout.write(text + '\n') }
/** A section title, its rule as wide as the widest title (so they line up). */
const heading = (text: string): void => say(`\n== ${text} ${'='.repeat(Math.max(3, 76 - text.length))}`)

function showUsers (fa: FusionAuthFake): void {
  const names = new Map(fa.tenants.map(t => [t.id, t.name]))
  say(table(['TENANT', 'EMAIL', 'ACTIVE', 'REFRESH TOKENS', 'USER ID'],
    fa.users().map(u => [names.get(u.tenantId) ?? u.tenantId, u.email, u.active ? 'yes' : 'NO', String(u.refreshTokens.length), u.id])))
}

const dir = mkdtempSync(join(tmpdir(), 'breach-bridge-demo-'))
const fa = await startFusionAuthFake({ tenants: 2 })
const [acme, globex] = fa.tenants
/** The tables show tenant names beside ids, as the commands do with FusionAuth configured. */
const tenantNames = new Map(fa.tenants.map(t => [t.id, t.name]))
fa.addUser({ tenantId: acme!.id, email: 'alice@acme-corp.com', refreshTokens: 2, firstName: 'Alice' })
fa.addUser({ tenantId: globex!.id, email: 'alice@acme-corp.com', refreshTokens: 1, firstName: 'Alice' })
fa.addUser({ tenantId: acme!.id, email: 'bob@acme-corp.com', refreshTokens: 3, firstName: 'Bob' })
fa.addUser({ tenantId: globex!.id, email: 'carol@globex-corp.com', refreshTokens: 1, firstName: 'Carol' })

const config = loadConfig({
  HOST: '127.0.0.1',
  PORT: '0',
  BRIDGE_DATABASE: join(dir, 'bridge.db'),
  ENZOIC_WEBHOOK_CREDENTIALS: 'demo-webhook-key:demo-webhook-secret',
  FUSIONAUTH_URL: fa.url,
  FUSIONAUTH_API_KEY: fa.apiKey
}, ['webhook', 'fusionauth'])
const bridge = await startBridge(config, createLogger('warn'))

try {
  say('enzoic-fusionauth-bridge demo')
  say(`FusionAuth (fake): ${fa.url}   tenants: ${fa.tenants.map(t => t.name).join(', ')}`)
  say(`Bridge:            ${bridge.url}   database: ${config.database}`)

  heading('FusionAuth users before')
  showUsers(fa)

  const alert = {
    date: new Date().toISOString().replace(/\.(\d{3})Z$/, '.$10000Z'),
    exposureID: '5e2c0b1a9d3f4e0012ab34cd',
    username: 'Alice@Acme-Corp.com',
    passwordType: 1,
    passwordHash: '5f4dcc3b5aa765d61d8327deb882cf99',
    exposureDetails: { title: 'Example Forum breach', date: '2026-10-01T00:00:00Z', entries: 120000, category: 'Forum', exposedData: ['Emails', 'Passwords'] }
  }
  heading('Enzoic POSTs a breach alert')
  say(`POST ${bridge.url}/webhooks/enzoic  (Basic auth: the webhook key/secret)`)
  say(JSON.stringify({ ...alert, passwordHash: '…(never logged, never stored)…' }, null, 2))
  const started = Date.now()
  const res = await fetch(`${bridge.url}/webhooks/enzoic`, {
    method: 'POST',
    headers: { authorization: 'Basic ' + Buffer.from('demo-webhook-key:demo-webhook-secret').toString('base64'), 'content-type': 'application/json' },
    body: JSON.stringify(alert)
  })
  const answer = await res.json() as { alertId: string }
  say(`→ ${res.status} ${JSON.stringify(answer)}   (answered after the alert was committed to disk)`)

  let record = (await bridge.store.alerts.get(answer.alertId))
  while (record !== undefined && record.state !== 'done' && record.state !== 'dead' && Date.now() - started < 15_000) {
    await new Promise(resolve => setTimeout(resolve, 25))
    record = (await bridge.store.alerts.get(answer.alertId))
  }
  heading(`FusionAuth users after (${Date.now() - started} ms, no login involved)`)
  showUsers(fa)

  heading('The alert record (`breach-bridge alerts show ID`)')
  say(describeAlert(record!, await bridge.store.alerts.events(answer.alertId), await bridge.store.steps.list(answer.alertId), tenantNames))
} finally {
  await bridge.close()
}

// ── Scenario 2: the lifecycle — tell the users, give them time, deactivate who did nothing, restore ────────
const deadlineSeconds = 3
const template = fa.addEmailTemplate('Your credentials appeared in a breach')
const dana = fa.addUser({ tenantId: acme!.id, email: 'dana@acme-corp.com', refreshTokens: 1, firstName: 'Dana' })
const erik = fa.addUser({ tenantId: acme!.id, email: 'erik@acme-corp.com', refreshTokens: 1, firstName: 'Erik' })
const lifecycleConfig = loadConfig({
  HOST: '127.0.0.1',
  PORT: '0',
  BRIDGE_DATABASE: join(dir, 'lifecycle.db'),
  ENZOIC_WEBHOOK_CREDENTIALS: 'demo-webhook-key:demo-webhook-secret',
  FUSIONAUTH_URL: fa.url,
  FUSIONAUTH_API_KEY: fa.apiKey,
  BRIDGE_ACTIONS: `notify-user:${template},require-password-change,revoke-sessions`,
  BRIDGE_GRACE_PERIOD: `${deadlineSeconds}s`,
  BRIDGE_GRACE_ACTIONS: 'deactivate'
}, ['webhook', 'fusionauth'])
const lifecycle = await startBridge(lifecycleConfig, createLogger('warn'))
try {
  heading('Scenario 2: the lifecycle (notify, grace period, self-remediation, restore)')
  say('BRIDGE_ACTIONS=notify-user:<template>,require-password-change,revoke-sessions')
  say(`BRIDGE_GRACE_PERIOD=${deadlineSeconds}s   BRIDGE_GRACE_ACTIONS=deactivate   (in production: 72h or so)`)
  const post = async (email: string): Promise<string> => {
    const r = await fetch(`${lifecycle.url}/webhooks/enzoic`, {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from('demo-webhook-key:demo-webhook-secret').toString('base64'), 'content-type': 'application/json' },
      body: JSON.stringify({ username: email, exposureID: 'demo-exposure-2', exposureDetails: { title: 'Example Shop breach', date: '2026-11-01T00:00:00Z', exposedData: ['Emails', 'Passwords'] } })
    })
    return ((await r.json()) as { alertId: string }).alertId
  }
  const until = async (id: string, states: string[]): Promise<void> => {
    const t0 = Date.now()
    while (!states.includes((await lifecycle.store.alerts.get(id))?.state ?? '') && Date.now() - t0 < 15_000) await new Promise(resolve => setTimeout(resolve, 50))
  }
  const [danaAlert, erikAlert] = [await post('dana@acme-corp.com'), await post('erik@acme-corp.com')]
  await until(danaAlert, ['waiting'])
  await until(erikAlert, ['waiting'])
  say('')
  say(`Both alerts are waiting for their deadline (${deadlineSeconds} s). Emails FusionAuth was asked to send:`)
  for (const e of fa.sentEmails().filter(x => x.templateId === template)) say(`  to ${e.userIds.map(id => fa.user(id)?.email).join(', ')}: ${JSON.stringify(e.requestData)}`)
  say('Dana changes her password before the deadline; Erik does nothing.')
  fa.changePassword(dana.id)
  await until(danaAlert, ['done'])
  await until(erikAlert, ['done'])
  heading('After the deadline')
  say(table(['USER', 'ACTIVE', 'MUST CHANGE PASSWORD', 'ALERT OUTCOME'], [
    ['Dana', fa.user(dana.id)!.active ? 'yes' : 'NO', fa.user(dana.id)!.passwordChangeRequired ? 'yes' : 'no', (await lifecycle.store.alerts.get(danaAlert))!.outcome ?? '-'],
    ['Erik', fa.user(erik.id)!.active ? 'yes' : 'NO', fa.user(erik.id)!.passwordChangeRequired ? 'yes' : 'no', (await lifecycle.store.alerts.get(erikAlert))!.outcome ?? '-']
  ]))
  heading('An operator restores Erik (`breach-bridge alerts restore ID --reason …`)')
  const restored = await restoreAlert({ store: lifecycle.store, config: lifecycleConfig, gateway: lifecycle.gateway }, erikAlert, { operator: 'demo-operator', reason: 'Erik confirmed he never used that password here' })
  say(table(['RESULT', 'ACTION', 'DETAIL'], [
    ...restored.undone.map(u => ['undone', u.step.action, u.detail]),
    ...restored.kept.map(k => ['kept', k.step.action, k.detail])
  ]).replace(/^/gm, '  '))
  say(`Erik active again: ${fa.user(erik.id)!.active ? 'yes' : 'no'}`)
  heading('Erik\'s alert record')
  const erikRecord = (await lifecycle.store.alerts.get(erikAlert))!
  say(describeAlert(erikRecord, await lifecycle.store.alerts.events(erikAlert), await lifecycle.store.steps.list(erikAlert), tenantNames))
} finally {
  await lifecycle.close()
}
try {
  await fusionAuthEventsScenario(fa, dir, say, heading)
  say()
  say('Next: README.md → Quick start, to run it against your FusionAuth and Enzoic.')
} finally {
  await fa.close()
  rmSync(dir, { recursive: true, force: true })
}
