// `npm run demo`, scenario 3: FusionAuth's own events (docs/design.md §13). A login with a breached password in
// FusionAuth → the signed `user.password.breach` event → the bridge stores it, fails that login (block mode) and
// deactivates the user; then a password change closes a waiting case at once, long before its deadline.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../src/config/index.js'
import { startBridge } from '../src/server.js'
import { createLogger } from '../src/observability/logger.js'
import { table } from '../src/cli/output.js'
import type { FusionAuthFake } from '../test/fakes/fusionauth.js'
import { createEventSigner, postEvent, userEvent } from '../test/fakes/fusionauth-events.js'

const SECRET = 'Bearer demo-fusionauth-webhook-secret'

export async function fusionAuthEventsScenario (fa: FusionAuthFake, dir: string, say: (text?: string) => void, heading: (text: string) => void): Promise<void> {
  const [acme, globex] = [fa.tenants[0]!, fa.tenants[1]!]
  const signer = await createEventSigner(fa)
  const frank = fa.addUser({ tenantId: acme.id, email: 'frank@acme-corp.com', refreshTokens: 2, firstName: 'Frank' })
  const gina = fa.addUser({ tenantId: globex.id, email: 'gina@globex-corp.com', refreshTokens: 1, firstName: 'Gina' })
  const policy = join(dir, 'policy.yaml')
  writeFileSync(policy, `tenants:\n  ${globex.id}:\n    actions: [revoke-sessions]\n    gracePeriod: 1h\n    graceActions: [deactivate]\n`)
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    BRIDGE_DATABASE: join(dir, 'events.db'),
    ENZOIC_WEBHOOK_CREDENTIALS: 'demo-webhook-key:demo-webhook-secret',
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    FUSIONAUTH_WEBHOOK_SECRET: SECRET,
    FUSIONAUTH_WEBHOOK_SIGNATURE: 'required',
    FUSIONAUTH_BREACH_LOGIN: 'block',
    BRIDGE_POLICY_FILE: policy
  }, ['webhook', 'fusionauth'])
  const bridge = await startBridge(config, createLogger('warn'), { follower: { pollMs: 200 } })
  const stateOf = async (id: string, states: string[]): Promise<string> => {
    const t0 = Date.now()
    let a = await bridge.store.alerts.get(id)
    while (!states.includes(a?.state ?? '') && Date.now() - t0 < 15_000) {
      await new Promise(resolve => setTimeout(resolve, 50))
      a = await bridge.store.alerts.get(id)
    }
    return a?.state ?? '?'
  }
  try {
    heading('Scenario 3: FusionAuth\'s own events (POST /webhooks/fusionauth)')
    say('FUSIONAUTH_WEBHOOK_SECRET=<the Authorization header FusionAuth sends>   FUSIONAUTH_WEBHOOK_SIGNATURE=required')
    say(`FUSIONAUTH_BREACH_LOGIN=block   policy: ${acme.name} deactivate,revoke-sessions; ${globex.name} revoke-sessions, then deactivate after a 1 h grace period`)
    say()
    say('Frank logs in with a password FusionAuth\'s breached password detection knows. FusionAuth posts, signed:')
    const breach = userEvent('user.password.breach', frank)
    const r = await postEvent(bridge.url, breach, { authorization: SECRET, signature: signer })
    say(`  user.password.breach (event ${breach.event.id as string}) → ${r.status} ${r.text}`)
    say('  → the alert is stored first; the 500 then fails that login (the tenant requires this webhook to succeed).')
    const frankAlert = (r.body as { alertId: string }).alertId
    await stateOf(frankAlert, ['done'])
    say()
    say('Gina\'s address is in an Enzoic alert: her sessions are revoked, deactivation waits for the 1 h deadline.')
    const enzoic = await fetch(`${bridge.url}/webhooks/enzoic`, {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from('demo-webhook-key:demo-webhook-secret').toString('base64'), 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'gina@globex-corp.com', exposureID: 'demo-exposure-3', exposureDetails: { title: 'Example Travel breach' } })
    })
    const ginaAlert = ((await enzoic.json()) as { alertId: string }).alertId
    say(`  alert ${ginaAlert}: ${await stateOf(ginaAlert, ['waiting'])}`)
    say('Gina changes her password in FusionAuth; FusionAuth posts user.password.update:')
    const changed = userEvent('user.password.update', fa.changePassword(gina.id))
    const c = await postEvent(bridge.url, changed, { authorization: SECRET, signature: signer })
    say(`  → ${c.status} ${c.text}`)
    await stateOf(ginaAlert, ['done'])
    heading('After the events (no deadline reached)')
    const rows = await Promise.all([[frank, frankAlert] as const, [gina, ginaAlert] as const].map(async ([u, id]) => {
      const a = (await bridge.store.alerts.get(id))!
      return [u.email, fa.user(u.id)!.active ? 'yes' : 'NO', a.source, a.state, a.outcome ?? '-']
    }))
    say(table(['USER', 'ACTIVE', 'SOURCE', 'ALERT', 'OUTCOME'], rows))
    say(`Gina's case closed by the event: ${(await bridge.store.alerts.events(ginaAlert)).at(-1)?.note ?? ''}`)
  } finally {
    await bridge.close()
  }
}
