/**
 * `breach-bridge check`, FusionAuth's events (README "FusionAuth events"): with FUSIONAUTH_WEBHOOK_SECRET set, that a
 * FusionAuth webhook sends it (compared, never printed) and carries every event the bridge acts on, that each
 * allowed tenant sends them, that FUSIONAUTH_BREACH_LOGIN=block can fail a login (the tenant's transaction setting),
 * that signatures can be verified when required; which events need a paid FusionAuth. Read-only, as all of check.
 */
import { FUSIONAUTH_EVENTS, FUSIONAUTH_WEBHOOK_PATH, type FusionAuthEventType } from '../alerts/fusionauth-events.js'
import type { Config } from '../config/index.js'
import { createFusionAuthGateway, describeEndpoint, EVENT_SETUP, FusionAuthError, type FusionAuthGateway, type FusionAuthProbes } from '../fusionauth/index.js'
import { readTenantEvents, readWebhooks, summarise, targetsBridge, type FusionAuthWebhook } from './fusionauth-webhooks.js'

type Add = (level: 'OK' | 'FAIL' | 'WARN' | 'SKIP' | 'INFO', what: string, detail: string) => void

const REGISTER = 'breach-bridge fusionauth webhooks register --url https://…/webhooks/fusionauth'
const named = (events: readonly FusionAuthEventType[]): string => events.map(e => e.edition === 'any' ? e.type : `${e.type} (${e.edition})`).join(', ')
const refused = (e: unknown): boolean => e instanceof FusionAuthError && e.kind === 'auth'

/** Which events only a paid FusionAuth sends (without it they never come; the rest of the bridge works). */
function editions (): string {
  const paid = new Map<string, string[]>()
  for (const e of FUSIONAUTH_EVENTS) if (e.edition !== 'any') paid.set(e.edition, [...paid.get(e.edition) ?? [], e.type])
  return `${[...paid].map(([edition, types]) => `${types.join(', ')}: ${edition}`).join('; ')}; the other ${FUSIONAUTH_EVENTS.length -
    [...paid.values()].flat().length} on any plan. An event FusionAuth's plan does not send never arrives: nothing else depends on it`
}

/** The webhook that sends the secret, with what it lacks; undefined when there is none (a FAIL) or it cannot be read. */
async function checkWebhook (gw: FusionAuthGateway, config: Config, add: Add): Promise<FusionAuthWebhook | undefined> {
  let hooks: FusionAuthWebhook[]
  try {
    hooks = await readWebhooks(gw)
  } catch (e) {
    if (refused(e)) add('WARN', 'FusionAuth webhook', `not checked: the key may not call ${describeEndpoint(EVENT_SETUP.webhooks)} (401); allow it to have the webhook checked`)
    else add('FAIL', 'FusionAuth webhook', `cannot read FusionAuth's webhooks: ${(e as Error).message}`)
    return undefined
  }
  const ours = hooks.filter(w => targetsBridge(w, config.faWebhookSecrets) === 'secret')
  const byPath = hooks.filter(w => targetsBridge(w, config.faWebhookSecrets) === 'path')
  if (ours.length === 0) {
    add('FAIL', 'FusionAuth webhook', byPath.length > 0
      ? `${byPath.map(w => `${w.id} → ${w.url}`).join(', ')} looks like this bridge's, but sends none of FUSIONAUTH_WEBHOOK_SECRET's values as its Authorization header: ` +
        `the bridge refuses its events (401) — run ${REGISTER} --write-env …, then restart the bridge`
      : `no FusionAuth webhook sends FUSIONAUTH_WEBHOOK_SECRET as its Authorization header: FusionAuth sends the bridge nothing — run ${REGISTER}`)
    return undefined
  }
  const hook = ours[0]!
  if (ours.length > 1) add('WARN', 'FusionAuth webhook', `${ours.length} webhooks send the secret (${ours.map(w => w.id).join(', ')}): each event arrives ${ours.length} times (repeats are dropped by event id)`)
  const url = URL.canParse(hook.url) ? new URL(hook.url) : undefined
  const where = url === undefined || url.pathname.replace(/\/+$/, '').endsWith(FUSIONAUTH_WEBHOOK_PATH) ? '' : `; its path is not ${FUSIONAUTH_WEBHOOK_PATH} (fine only if a proxy maps it there)`
  add(where === '' ? 'OK' : 'WARN', 'FusionAuth webhook', `${hook.id} → ${hook.url} sends the secret (its Authorization header)${where}`)
  if (url?.protocol === 'http:') add('WARN', 'FusionAuth webhook', `${hook.url} is http: the secret and the events travel unencrypted — use https (nginx's TLS, deploy/nginx/)`)
  const missing = FUSIONAUTH_EVENTS.filter(e => summarise(hook, []).missing.includes(e.type))
  if (missing.length === 0) add('OK', 'webhook events', `all ${FUSIONAUTH_EVENTS.length} events the bridge acts on are enabled on the webhook`)
  else add('WARN', 'webhook events', `the webhook does not send ${named(missing)}: run ${REGISTER} again`)
  return hook
}

/** The tenants the bridge serves: FUSIONAUTH_TENANT_IDS, else every tenant (undefined when they cannot be listed). */
async function allowedTenants (gw: FusionAuthGateway, config: Config, add: Add): Promise<Array<{ id: string, name?: string }> | undefined> {
  if (config.tenantIds !== undefined) return config.tenantIds.map(id => ({ id }))
  try {
    return await gw.listTenants()
  } catch (e) {
    add(refused(e) ? 'WARN' : 'FAIL', 'tenant events', `not checked: the tenants cannot be listed (${(e as Error).message})`)
    return undefined
  }
}

/**
 * Each tenant sends the events (and reaches the webhook); with block, user.password.breach is transactional. A tenant
 * that sends none is a WARN (its users are still served by Enzoic's alerts); no tenant sending any is a FAIL.
 */
async function checkTenants (gw: FusionAuthGateway, config: Config, hook: FusionAuthWebhook | undefined, add: Add): Promise<void> {
  const tenants = await allowedTenants(gw, config, add)
  const silent: string[] = []
  let read = 0
  for (const t of tenants ?? []) {
    let events
    try {
      events = (await readTenantEvents(gw, t.id)).events
    } catch (e) {
      add(refused(e) ? 'WARN' : 'FAIL', 'tenant events', `${t.id}: not checked (${refused(e) ? `the key may not call ${describeEndpoint(EVENT_SETUP.tenant)}` : (e as Error).message})`)
      continue
    }
    read++
    const shown = t.name === undefined ? t.id : `${t.id} (${t.name})`
    if (hook !== undefined && hook.global !== true && !(hook.tenantIds ?? []).includes(t.id)) {
      add('WARN', 'tenant events', `${shown}: the webhook does not cover this tenant (not global, not in its tenantIds): none of its events are sent — run ${REGISTER}`)
    }
    const off = FUSIONAUTH_EVENTS.filter(e => events[e.type]?.enabled !== true)
    if (off.length === FUSIONAUTH_EVENTS.length) {
      silent.push(t.id)
      add('WARN', 'tenant events', `${shown} sends none of the bridge's events (Tenants → Webhooks): nothing arrives from it — ${REGISTER} enables them`)
    } else if (off.length > 0) add('WARN', 'tenant events', `${shown} does not send ${named(off)} (Tenants → Webhooks): run ${REGISTER}`)
    else add('OK', 'tenant events', `${shown} sends all ${FUSIONAUTH_EVENTS.length} events`)
    const breach = events['user.password.breach']
    if (config.faBreachLogin !== 'block' || breach?.enabled !== true) continue
    if (breach.transactionType !== undefined && breach.transactionType !== 'None') {
      add('OK', 'breach login', `${shown}: user.password.breach waits for the webhooks (${breach.transactionType}): the bridge's 500 fails a login with a breached password`)
    } else {
      add('WARN', 'breach login', `FUSIONAUTH_BREACH_LOGIN=block has no effect on ${shown}: its user.password.breach transaction is ${breach.transactionType ?? 'None'} ` +
        '("No webhooks are required to succeed"), so the login goes on; set "Any single webhook must succeed" (fusionauth webhooks register does)')
    }
  }
  if (read > 0 && silent.length === read) add('FAIL', 'tenant events', `no tenant sends any of the bridge's events: FusionAuth sends the bridge nothing — ${REGISTER} enables them`)
}

/** FUSIONAUTH_WEBHOOK_SIGNATURE=required: keys to verify with, and a webhook that signs. */
async function checkSignatures (gw: FusionAuthProbes, config: Config, hook: FusionAuthWebhook | undefined, add: Add): Promise<void> {
  const signs = hook?.signatureConfiguration?.enabled === true
  if (config.faWebhookSignature !== 'required') {
    if (signs) add('INFO', 'event signatures', `the webhook signs its events (key ${hook.signatureConfiguration?.signingKeyId ?? '?'}): FUSIONAUTH_WEBHOOK_SIGNATURE=required would verify them`)
    return
  }
  const jwks = await gw.inspect({ path: '/.well-known/jwks.json', anonymous: true })
  const keys = jwks.status === 200 && typeof jwks.json === 'object' && jwks.json !== null && Array.isArray((jwks.json as { keys?: unknown }).keys)
    ? (jwks.json as { keys: Array<{ kid?: unknown }> }).keys
    : []
  const hmac = config.faWebhookHmacKey !== undefined
  if (keys.length > 0) add('OK', 'event signatures', `FusionAuth publishes ${keys.length} key(s) at /.well-known/jwks.json${hmac ? '; FUSIONAUTH_WEBHOOK_HMAC_KEY is set too' : ''}`)
  else if (hmac) add('OK', 'event signatures', 'FUSIONAUTH_WEBHOOK_HMAC_KEY is set (HS256/384/512 signatures); FusionAuth publishes no public key')
  else add('FAIL', 'event signatures', `no key to verify with: GET /.well-known/jwks.json answered ${jwks.status ?? jwks.error ?? '?'} with no key, and FUSIONAUTH_WEBHOOK_HMAC_KEY is not set: every event is refused (401)`)
  if (hook === undefined) return
  const kid = hook.signatureConfiguration?.signingKeyId
  if (!signs) add('FAIL', 'event signatures', `the webhook does not sign its events, and FUSIONAUTH_WEBHOOK_SIGNATURE=required refuses unsigned ones (401): ${REGISTER} --signing-key-id <key id>`)
  else if (kid !== undefined && !keys.some(k => String(k.kid).toLowerCase() === kid.toLowerCase()) && !hmac) {
    add('FAIL', 'event signatures', `the webhook signs with key ${kid}, which FusionAuth does not publish (an HMAC key? then set FUSIONAUTH_WEBHOOK_HMAC_KEY): every event is refused (401)`)
  } else add('OK', 'event signatures', `the webhook signs its events with key ${kid ?? '?'}`)
}

/**
 * The FusionAuth events checks. `fusionAuthUsable`: FUSIONAUTH_URL and FUSIONAUTH_API_KEY are set and valid (the
 * FusionAuth checks above say whether it answers).
 */
export async function checkFusionAuthEvents (config: Config, fusionAuthUsable: boolean, add: Add, timeoutMs: number): Promise<void> {
  if (config.faWebhookSecrets.length === 0) {
    add('INFO', 'FusionAuth events', 'FUSIONAUTH_WEBHOOK_SECRET is not set: POST /webhooks/fusionauth is off (404), FusionAuth\'s own events are not received ' +
      `(its breach detection at login, password changes, user changes); ${REGISTER} --write-env … sets it up`)
    return
  }
  add('INFO', 'FusionAuth events', `editions: ${editions()}`)
  if (!fusionAuthUsable) {
    add('SKIP', 'FusionAuth webhook', 'not checked: FUSIONAUTH_URL and FUSIONAUTH_API_KEY must be set and valid (above)')
    return
  }
  const gw = createFusionAuthGateway({ url: config.fusionAuthUrl!, apiKey: config.fusionAuthApiKey!, timeoutMs, tenantIds: config.tenantIds })
  try {
    const hook = await checkWebhook(gw, config, add)
    await checkTenants(gw, config, hook, add)
    await checkSignatures(gw, config, hook, add)
  } finally {
    await gw.close()
  }
}
