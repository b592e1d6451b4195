/**
 * FusionAuth's own webhook, as operators set it up (docs/design.md §13; README "FusionAuth events"): register (create
 * or update — one webhook per URL, run it twice and nothing changes), list, delete; and the reads `check` shares.
 * An event reaches the bridge only when the webhook enables it AND the tenant does (`eventConfiguration`), so
 * `register` sets both. Nothing here prints; the CLI (src/cli/fusionauth.ts) renders the results.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { FUSIONAUTH_EVENTS, FUSIONAUTH_WEBHOOK_PATH } from '../alerts/fusionauth-events.js'
import { BridgeError } from '../errors.js'
import { CORE, EVENT_SETUP, FusionAuthError, type FusionAuthGateway } from '../fusionauth/index.js'
import { EnvWriteError, openEnvFile } from './enzoic.js'
import { assertSettable } from './env-file.js'

const SECRET_VARIABLE = 'FUSIONAUTH_WEBHOOK_SECRET'

/** A webhook as FusionAuth answers it (the fields the bridge reads and writes; the rest is kept as it was). */
export interface FusionAuthWebhook {
  id: string
  url: string
  description?: string
  connectTimeout?: number
  readTimeout?: number
  eventsEnabled?: Record<string, boolean>
  headers?: Record<string, string>
  global?: boolean
  tenantIds?: string[]
  signatureConfiguration?: { enabled?: boolean, signingKeyId?: string }
}

/** The webhook the bridge sends: what it sets, and whatever else the webhook had (Basic credentials, data, …). */
type WantedWebhook = Required<Pick<FusionAuthWebhook, 'url' | 'description' | 'connectTimeout' | 'readTimeout' | 'eventsEnabled' | 'headers' | 'global' |
  'tenantIds' | 'signatureConfiguration'>> & Record<string, unknown>

export type TransactionType = 'None' | 'Any' | 'SimpleMajority' | 'SuperMajority' | 'AbsoluteMajority'
export interface EventSetting { enabled?: boolean, transactionType?: TransactionType | string }

export type Change = 'created' | 'updated' | 'unchanged'

/** FusionAuth's webhook cannot be set up as asked: `--signing-key-id` on a FusionAuth before 1.48. */
export class WebhookSetupError extends BridgeError {
  readonly code = 'BRIDGE_FUSIONAUTH_WEBHOOK'
}

const DESCRIPTION = 'enzoic-fusionauth-bridge: breach alerts and user events'
const CONNECT_TIMEOUT_MS = 1000
/** FusionAuth waits this long for the answer; the bridge answers after one durable commit (well under a second). */
const READ_TIMEOUT_MS = 2000
/** FusionAuth signs webhook events from 1.48 on. */
const SIGNING_SINCE = [1, 48] as const

/**
 * The transaction type the bridge wants for an event on a tenant. `user.password.breach` with
 * FUSIONAUTH_BREACH_LOGIN=block: `Any` (one webhook must succeed, so the bridge's 500 fails the login); everything
 * else `None`: no FusionAuth operation ever waits on the bridge's answer to go on.
 */
export function wantedTransaction (type: string, breachLogin: 'allow' | 'block'): TransactionType {
  return type === 'user.password.breach' && breachLogin === 'block' ? 'Any' : 'None'
}

/** A header value generated for the webhook: what FUSIONAUTH_WEBHOOK_SECRET holds. */
export function newSecret (): string {
  return `Bearer ${randomBytes(32).toString('base64url')}`
}

/** The Authorization header a webhook sends (its name in any case), or undefined. */
export function authorizationOf (w: Pick<FusionAuthWebhook, 'headers'>): { name: string, value: string } | undefined {
  for (const [name, value] of Object.entries(w.headers ?? {})) if (name.toLowerCase() === 'authorization' && typeof value === 'string') return { name, value }
  return undefined
}

/** Equal without telling how much of it matched (digests of equal length). */
function sameSecret (a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()
  return timingSafeEqual(h(a), h(b))
}

/**
 * Whether a webhook is this bridge's: its Authorization header is one of FUSIONAUTH_WEBHOOK_SECRET's values (compared
 * without revealing it), or — less certain — its URL ends with the bridge's path.
 */
export function targetsBridge (w: FusionAuthWebhook, secrets: readonly string[]): 'secret' | 'path' | undefined {
  const auth = authorizationOf(w)?.value
  let bySecret = false
  if (auth !== undefined) for (const s of secrets) bySecret = sameSecret(auth, s) || bySecret
  if (bySecret) return 'secret'
  try {
    if (new URL(w.url).pathname.replace(/\/+$/, '').endsWith(FUSIONAUTH_WEBHOOK_PATH)) return 'path'
  } catch {}
  return undefined
}

export async function readWebhooks (gateway: FusionAuthGateway): Promise<FusionAuthWebhook[]> {
  const r = await gateway.call<{ webhooks?: FusionAuthWebhook[] }>(EVENT_SETUP.webhooks)
  return (r.webhooks ?? []).filter(w => typeof w?.id === 'string' && typeof w.url === 'string')
}

export interface TenantEvents { id: string, name?: string, events: Record<string, EventSetting> }

export async function readTenantEvents (gateway: FusionAuthGateway, tenantId: string): Promise<TenantEvents> {
  const r = await gateway.call<{ tenant?: { id?: string, name?: string, eventConfiguration?: { events?: Record<string, EventSetting> } } }>(
    EVENT_SETUP.tenant, { params: { tenantId } })
  return { id: tenantId, name: r.tenant?.name, events: r.tenant?.eventConfiguration?.events ?? {} }
}

/** The URL as FusionAuth will be given it, for finding a webhook again (`https://X/webhooks/fusionauth/` = `…/fusionauth`). */
const sameUrl = (a: string, b: string): boolean => {
  const norm = (u: string): string => { try { return new URL(u).href.replace(/\/+$/, '') } catch { return u } }
  return norm(a) === norm(b)
}

export interface RegisterFusionAuthRequest {
  /** The public https URL of POST /webhooks/fusionauth. */
  url: string
  /** The webhook covers these tenants (`--tenant`, else FUSIONAUTH_TENANT_IDS); undefined: global, every tenant. */
  tenantIds?: readonly string[]
  /** Sign the events with this FusionAuth key (FusionAuth ≥ 1.48). */
  signingKeyId?: string
  /** A new Authorization secret even when the webhook has one. */
  rotate?: boolean
  /** FUSIONAUTH_BREACH_LOGIN: the transaction type of user.password.breach on the tenants. */
  breachLogin: 'allow' | 'block'
  /** Write FUSIONAUTH_WEBHOOK_SECRET here (and do not return it). */
  envFile?: string
  now?: () => number
}

export interface TenantChange { id: string, name?: string, change: Change, enabled: string[], transactions: Record<string, string>, kept: string[] }

export interface FusionAuthRegistration {
  webhook: {
    id: string
    url: string
    change: Change
    /** What an update changed: `events`, `Authorization header`, `tenants`, `signature`, `time-outs`. */
    changed: string[]
    /** Events newly enabled on the webhook. */
    eventsAdded: string[]
    secret: 'generated' | 'kept' | 'rotated'
    global: boolean
    tenantIds: string[]
    signingKeyId?: string
  }
  tenants: TenantChange[]
  /** Only without `envFile`, and only when it is new: the Authorization header value, to put in the bridge's environment. */
  secret?: string
  written?: { path: string, replaced: boolean }
}

/** The webhook the bridge wants, from what is there (kept: other events, other headers, Basic credentials, time-outs). */
function desiredWebhook (existing: FusionAuthWebhook | undefined, req: RegisterFusionAuthRequest, secret: string): WantedWebhook {
  const events = { ...existing?.eventsEnabled }
  for (const e of FUSIONAUTH_EVENTS) events[e.type] = true
  const headers = { ...existing?.headers }
  const auth = existing === undefined ? undefined : authorizationOf(existing)
  headers[auth?.name ?? 'Authorization'] = secret
  const scoped = req.tenantIds !== undefined && req.tenantIds.length > 0
  const signature = req.signingKeyId !== undefined ? { enabled: true, signingKeyId: req.signingKeyId } : existing?.signatureConfiguration ?? { enabled: false }
  const { id: _id, insertInstant: _i, lastUpdateInstant: _l, ...kept } = (existing ?? {}) as Record<string, unknown>
  return {
    ...kept,
    url: existing !== undefined && sameUrl(existing.url, req.url) ? existing.url : req.url,
    description: existing?.description ?? DESCRIPTION,
    connectTimeout: existing?.connectTimeout ?? CONNECT_TIMEOUT_MS,
    readTimeout: existing?.readTimeout ?? READ_TIMEOUT_MS,
    eventsEnabled: events,
    headers,
    global: !scoped,
    tenantIds: scoped ? [...req.tenantIds!].map(t => t.toLowerCase()) : [],
    signatureConfiguration: signature
  }
}

/** What differs between the webhook there and the one wanted (empty: unchanged). */
function differences (before: FusionAuthWebhook, after: WantedWebhook): string[] {
  const out: string[] = []
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)
  if (FUSIONAUTH_EVENTS.some(e => before.eventsEnabled?.[e.type] !== true)) out.push('events')
  if (authorizationOf(before)?.value !== authorizationOf(after)?.value) out.push('Authorization header')
  if ((before.global === true) !== after.global || !same([...before.tenantIds ?? []].sort(), [...after.tenantIds].sort())) out.push('tenants')
  const sig = (s: FusionAuthWebhook['signatureConfiguration']): string => s?.enabled === true ? `on:${s.signingKeyId ?? ''}` : 'off'
  if (sig(before.signatureConfiguration) !== sig(after.signatureConfiguration)) out.push('signature')
  if (before.connectTimeout !== after.connectTimeout || before.readTimeout !== after.readTimeout) out.push('time-outs')
  return out
}

/** FusionAuth's version, when the key may read it; undefined otherwise. */
async function versionOf (gateway: FusionAuthGateway): Promise<number[] | undefined> {
  try {
    const v = (await gateway.call<{ version?: string }>(CORE.version)).version
    return typeof v === 'string' ? v.split('.').map(Number) : undefined
  } catch {
    return undefined
  }
}

async function checkSigning (gateway: FusionAuthGateway, req: RegisterFusionAuthRequest): Promise<void> {
  if (req.signingKeyId === undefined) return
  const v = await versionOf(gateway)
  if (v !== undefined && (v[0]! < SIGNING_SINCE[0] || (v[0] === SIGNING_SINCE[0] && v[1]! < SIGNING_SINCE[1]))) {
    throw new WebhookSetupError(`--signing-key-id: FusionAuth signs webhook events from 1.48 on; this one is ${v.join('.')}`)
  }
}

interface Applied { webhook: FusionAuthWebhook, change: Change, changed: string[], eventsAdded: string[], secret: FusionAuthRegistration['webhook']['secret'], previous?: FusionAuthWebhook }

/** Creates the webhook, or updates the one with this URL; the Authorization secret kept unless `rotate`. */
async function applyWebhook (gateway: FusionAuthGateway, req: RegisterFusionAuthRequest): Promise<Applied> {
  const existing = (await readWebhooks(gateway)).find(w => sameUrl(w.url, req.url))
  const had = existing === undefined ? undefined : authorizationOf(existing)?.value
  const keep = had !== undefined && req.rotate !== true
  const secret = keep ? had : newSecret()
  const wanted = desiredWebhook(existing, req, secret)
  const eventsAdded = FUSIONAUTH_EVENTS.map(e => e.type).filter(t => existing?.eventsEnabled?.[t] !== true)
  const secretState = keep ? 'kept' : had === undefined ? 'generated' : 'rotated'
  if (existing === undefined) {
    const r = await gateway.call<{ webhook: FusionAuthWebhook }>(EVENT_SETUP.createWebhook, { body: { webhook: wanted } })
    return { webhook: r.webhook, change: 'created', changed: [], eventsAdded, secret: secretState }
  }
  const changed = differences(existing, wanted)
  if (changed.length === 0) return { webhook: existing, change: 'unchanged', changed, eventsAdded, secret: secretState }
  const r = await gateway.call<{ webhook: FusionAuthWebhook }>(EVENT_SETUP.updateWebhook, { params: { webhookId: existing.id }, body: { webhook: wanted } })
  return { webhook: r.webhook, change: 'updated', changed, eventsAdded, secret: secretState, previous: existing }
}

/** Puts the webhook back as it was (the env file could not take its secret): deleted if created, the old one restored. */
async function undoWebhook (gateway: FusionAuthGateway, applied: Applied): Promise<boolean> {
  try {
    if (applied.change === 'created') await gateway.call(EVENT_SETUP.deleteWebhook, { params: { webhookId: applied.webhook.id } })
    else if (applied.previous !== undefined) {
      const { id, insertInstant: _i, lastUpdateInstant: _l, ...rest } = applied.previous as FusionAuthWebhook & Record<string, unknown>
      await gateway.call(EVENT_SETUP.updateWebhook, { params: { webhookId: id }, body: { webhook: rest } })
    }
    return true
  } catch {
    return false
  }
}

/**
 * Enables the bridge's events on a tenant. An event the tenant already sends keeps a transaction type another
 * webhook may rely on (`kept`), except `user.password.breach`, whose type follows FUSIONAUTH_BREACH_LOGIN.
 */
async function enableOnTenant (gateway: FusionAuthGateway, tenantId: string, breachLogin: 'allow' | 'block'): Promise<TenantChange> {
  const current = await readTenantEvents(gateway, tenantId)
  const changes: Record<string, EventSetting> = {}
  const transactions: Record<string, string> = {}
  const kept: string[] = []
  for (const { type } of FUSIONAUTH_EVENTS) {
    const now = current.events[type]
    const wanted = wantedTransaction(type, breachLogin)
    const keepOther = now?.enabled === true && type !== 'user.password.breach' && now.transactionType !== undefined && now.transactionType !== wanted
    const transactionType = keepOther ? now.transactionType! : wanted
    if (keepOther) kept.push(`${type} (${transactionType})`)
    transactions[type] = transactionType
    if (now?.enabled !== true || now.transactionType !== transactionType) changes[type] = { enabled: true, transactionType }
  }
  const enabled = Object.keys(changes)
  if (enabled.length === 0) return { id: tenantId, name: current.name, change: 'unchanged', enabled, transactions, kept }
  // The whole map, changes on top: the same result whether FusionAuth merges a PATCH's maps or replaces them.
  const events = { ...current.events, ...changes }
  await gateway.call(EVENT_SETUP.enableTenantEvents, { params: { tenantId }, body: { tenant: { eventConfiguration: { events } } } })
  return { id: tenantId, name: current.name, change: 'updated', enabled, transactions, kept }
}

/**
 * `fusionauth webhooks register`: the webhook (created, or the one with this URL updated), its secret written to
 * `envFile` when given — opened and checked before anything changes; if the write fails the webhook is put back
 * as it was (EnvWriteError says whether that worked) — and the events enabled on each tenant.
 */
export async function registerFusionAuthWebhook (
  gateway: FusionAuthGateway, req: RegisterFusionAuthRequest, tenants: () => Promise<string[]>
): Promise<FusionAuthRegistration> {
  const target = req.envFile === undefined ? undefined : openEnvFile(req.envFile, req.now)
  let changed = false
  try {
    if (target !== undefined) assertSettable(target.path, readFileSync(target.path, 'utf8'), SECRET_VARIABLE)
    await checkSigning(gateway, req)
    const applied = await applyWebhook(gateway, req)
    changed = applied.change !== 'unchanged'
    const secret = authorizationOf(applied.webhook)?.value ?? ''
    let written: FusionAuthRegistration['written']
    if (target !== undefined) {
      try {
        written = { path: target.path, ...target.set(SECRET_VARIABLE, secret, 'FusionAuth webhook: the Authorization header it sends') }
        changed = true
      } catch (e) {
        const undone = applied.change === 'unchanged' || await undoWebhook(gateway, applied)
        throw new EnvWriteError(target.path, (e as NodeJS.ErrnoException).code ?? (e as Error).message, applied.webhook.id, undone)
      }
    }
    const results: TenantChange[] = []
    for (const id of await tenants()) results.push(await enableOnTenant(gateway, id, req.breachLogin))
    const w = applied.webhook
    return {
      webhook: {
        id: w.id,
        url: w.url,
        change: applied.change,
        changed: applied.changed,
        eventsAdded: applied.eventsAdded,
        secret: applied.secret,
        global: w.global === true,
        tenantIds: w.tenantIds ?? [],
        signingKeyId: w.signatureConfiguration?.enabled === true ? w.signatureConfiguration.signingKeyId : undefined
      },
      tenants: results,
      secret: target === undefined && applied.secret !== 'kept' ? secret : undefined,
      written
    }
  } finally {
    target?.close(!changed)
  }
}

export interface WebhookSummary {
  id: string
  url: string
  /** Every event type the webhook enables. */
  events: string[]
  /** The bridge's events it does not enable. */
  missing: string[]
  global: boolean
  tenantIds: string[]
  signed: boolean
  signingKeyId?: string
  /** This bridge's webhook: by its Authorization secret, or by its URL's path. */
  targetsBridge: 'secret' | 'path' | null
}

export function summarise (w: FusionAuthWebhook, secrets: readonly string[]): WebhookSummary {
  const events = Object.entries(w.eventsEnabled ?? {}).filter(([, on]) => on).map(([t]) => t).sort()
  return {
    id: w.id,
    url: w.url,
    events,
    missing: FUSIONAUTH_EVENTS.map(e => e.type).filter(t => !events.includes(t)),
    global: w.global === true,
    tenantIds: w.tenantIds ?? [],
    signed: w.signatureConfiguration?.enabled === true,
    signingKeyId: w.signatureConfiguration?.enabled === true ? w.signatureConfiguration.signingKeyId : undefined,
    targetsBridge: targetsBridge(w, secrets) ?? null
  }
}

/** `fusionauth webhooks list`: every webhook, without its headers or credentials. */
export async function listFusionAuthWebhooks (gateway: FusionAuthGateway, secrets: readonly string[]): Promise<WebhookSummary[]> {
  return (await readWebhooks(gateway)).map(w => summarise(w, secrets))
}

/** No webhook has that id. */
export class WebhookNotFoundError extends BridgeError {
  readonly code = 'BRIDGE_FUSIONAUTH_WEBHOOK'
  constructor (readonly id: string) { super(`no FusionAuth webhook ${id}`) }
}

export async function deleteFusionAuthWebhook (gateway: FusionAuthGateway, id: string): Promise<void> {
  try {
    await gateway.call(EVENT_SETUP.deleteWebhook, { params: { webhookId: id } })
  } catch (e) {
    if (e instanceof FusionAuthError && (e.kind === 'not-found' || (e.status === 400 && /couldNotConvert/.test(e.fusionAuthCode ?? '')))) throw new WebhookNotFoundError(id)
    throw e
  }
}
