/**
 * The fake FusionAuth's webhooks and each tenant's event configuration (docs/fusionauth-api.md, "Events"): what
 * `breach-bridge fusionauth webhooks register` writes and `check` reads, and `emit()`, which sends an event to every
 * webhook that would get it, as FusionAuth does.
 *
 * Semantics imitated (FusionAuth's Webhook and Tenant APIs; shapes per the OpenAPI spec's `Webhook`,
 * `WebhookSignatureConfiguration`, `EventConfiguration`):
 * - `POST /api/webhook[/{id}]`, `GET /api/webhook[/{id}]`, `PUT`, `PATCH` (merge) and `DELETE /api/webhook/{id}`.
 *   Every problem of a webhook is reported at once (400, `fieldErrors` keyed by field): `url` (blank, not an http(s)
 *   URL), `connectTimeout` and `readTimeout` (required, positive), an `eventsEnabled` key that is not a FusionAuth
 *   event type (the list of @fusionauth/typescript-client's `EventType`), a `tenantIds` entry that is no tenant, a
 *   `signatureConfiguration` enabled without a `signingKeyId` of a key FusionAuth has.
 * - A tenant's `eventConfiguration.events[type] = {enabled, transactionType}` (every event type present, disabled,
 *   `None`, until set): `PATCH /api/tenant/{id}` merges, `PUT` replaces. An unknown event or transaction type: 400.
 * - An event reaches a webhook when the webhook enables its type, covers the tenant (`global` or `tenantIds`) and
 *   the tenant enables the type; it carries the webhook's `headers`, Basic credentials when it has them, and an
 *   `X-FusionAuth-Signature-JWT` made with the webhook's signing key when its signature configuration is enabled.
 */
import { randomUUID } from 'node:crypto'
import { EventType, TransactionType } from '@fusionauth/typescript-client'
import { userEvent } from './fusionauth-events.js'
import type { FakeTenant, FakeUser } from './fusionauth.js'

/** Every event type FusionAuth 1.69 knows (its TypeScript client's `EventType`). */
export const FUSIONAUTH_EVENT_TYPE_NAMES: readonly string[] = Object.values(EventType)
export const TRANSACTION_TYPE_NAMES: readonly string[] = Object.values(TransactionType)
const KNOWN_EVENTS = new Set(FUSIONAUTH_EVENT_TYPE_NAMES)
const KNOWN_TRANSACTIONS = new Set(TRANSACTION_TYPE_NAMES)

export interface FakeEventSetting { enabled: boolean, transactionType: string }
export interface FakeEventConfiguration { events: Record<string, FakeEventSetting> }

export interface FakeWebhook {
  id: string
  url: string
  description?: string
  connectTimeout: number
  readTimeout: number
  eventsEnabled: Record<string, boolean>
  headers: Record<string, string>
  global: boolean
  tenantIds: string[]
  signatureConfiguration: { enabled: boolean, signingKeyId?: string }
  httpAuthenticationUsername?: string
  httpAuthenticationPassword?: string
  insertInstant: number
  lastUpdateInstant: number
}

/** What one webhook answered to an emitted event. */
export interface EmittedEvent { webhookId: string, url: string, status: number, text: string }

type Json = Record<string, unknown>
type Fields = Record<string, Array<[string, string]>>
interface Reply { status: number, body?: unknown }

/** What the webhooks need of the fake around them. */
export interface WebhookHost {
  tenant (id: string): FakeTenant | undefined
  /** The ids of the signing keys FusionAuth has (its published JWKS). */
  keyIds (): string[]
  /** `X-FusionAuth-Signature-JWT` for a body, made with that key (undefined: the fake has no signer). */
  sign (body: string, kid: string): Promise<string> | undefined
  notFound (): Error
  badRequest (fields: Fields): Error
  couldNotConvert (field: string, value: unknown): Error
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const isUuid = (s: unknown): s is string => typeof s === 'string' && UUID_RE.test(s)
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Every event type, disabled, as a new tenant has them. */
export function defaultEventConfiguration (): FakeEventConfiguration {
  return { events: Object.fromEntries(FUSIONAUTH_EVENT_TYPE_NAMES.map(t => [t, { enabled: false, transactionType: 'None' }])) }
}

/** JSON merge patch (RFC 7396): objects merge, `null` removes, anything else replaces. */
function mergePatch (target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch
  const out: Json = isObject(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

class Problems {
  readonly fields: Fields = {}
  constructor (private readonly prefix: string) {}
  add (field: string, rule: string, message: string): void {
    const name = `${this.prefix}.${field}`;
    (this.fields[name] ??= []).push([`[${rule}]${name}`, message])
  }

  get any (): boolean { return Object.keys(this.fields).length > 0 }
}

/** A tenant's event configuration after a PATCH (merged into `current`) or a PUT (`current` undefined). */
export function readEventConfiguration (given: unknown, current: FakeEventConfiguration | undefined, host: Pick<WebhookHost, 'badRequest'>): FakeEventConfiguration {
  const base = current ?? defaultEventConfiguration()
  if (given === undefined) return base
  const problems = new Problems('tenant.eventConfiguration')
  const merged = mergePatch(base, given)
  const events = isObject(merged) && isObject(merged.events) ? merged.events : undefined
  if (events === undefined) throw host.badRequest({ 'tenant.eventConfiguration': [['[invalid]tenant.eventConfiguration', 'Invalid eventConfiguration.']] })
  const out: FakeEventConfiguration = { events: {} }
  for (const [type, setting] of Object.entries(events)) {
    if (!KNOWN_EVENTS.has(type)) { problems.add('events', 'invalid', `[${type}] is not an event type.`); continue }
    const enabled = isObject(setting) ? setting.enabled ?? false : undefined
    const transactionType = isObject(setting) ? setting.transactionType ?? 'None' : undefined
    if (typeof enabled !== 'boolean') problems.add(`events[${type}].enabled`, 'couldNotConvert', `Invalid enabled [${JSON.stringify(enabled)}].`)
    if (typeof transactionType !== 'string' || !KNOWN_TRANSACTIONS.has(transactionType)) {
      problems.add(`events[${type}].transactionType`, 'couldNotConvert', `Invalid transactionType [${JSON.stringify(transactionType)}]. Possible values are [${TRANSACTION_TYPE_NAMES.join(', ')}].`)
    }
    out.events[type] = { enabled: enabled === true, transactionType: String(transactionType) }
  }
  if (problems.any) throw host.badRequest(problems.fields)
  return out
}

export class FakeWebhooks {
  readonly byId = new Map<string, FakeWebhook>()

  constructor (private readonly host: WebhookHost) {}

  list (): FakeWebhook[] { return [...this.byId.values()] }

  /** `/api/webhook[/{id}]`; `id` is the path's second segment, `deeper` a path with more segments. */
  route (method: string, id: string | undefined, deeper: boolean, body: unknown): Reply | undefined {
    if (deeper) return undefined
    if (id === undefined) {
      if (method === 'GET') return { status: 200, body: { webhooks: this.list().map(json) } }
      if (method === 'POST') return this.create(randomUUID(), body)
      return undefined
    }
    if (!isUuid(id)) throw this.host.couldNotConvert('webhookId', id)
    const key = id.toLowerCase()
    const existing = this.byId.get(key)
    if (method === 'POST') {
      if (existing !== undefined) throw this.host.badRequest({ webhookId: [['[duplicate]webhookId', `A Webhook with Id [${key}] already exists.`]] })
      return this.create(key, body)
    }
    if (existing === undefined) {
      if (['GET', 'PUT', 'PATCH', 'DELETE'].includes(method)) throw this.host.notFound()
      return undefined
    }
    switch (method) {
      case 'GET': return { status: 200, body: { webhook: json(existing) } }
      case 'DELETE': this.byId.delete(key); return { status: 200 }
      case 'PUT': return this.save(existing, this.read(body, key, existing.insertInstant))
      case 'PATCH': {
        const patch = isObject(body) ? body.webhook : undefined
        if (!isObject(patch)) return this.save(existing, this.read(body, key, existing.insertInstant))
        return this.save(existing, this.read({ webhook: mergePatch(json(existing), patch) }, key, existing.insertInstant))
      }
    }
    return undefined
  }

  private create (id: string, body: unknown): Reply {
    const webhook = this.read(body, id, Date.now())
    this.byId.set(id, webhook)
    return { status: 200, body: { webhook: json(webhook) } }
  }

  private save (existing: FakeWebhook, next: FakeWebhook): Reply {
    this.byId.set(existing.id, next)
    return { status: 200, body: { webhook: json(next) } }
  }

  /** A request's webhook, checked as FusionAuth's validator does: every problem at once. */
  private read (body: unknown, id: string, insertInstant: number): FakeWebhook {
    const w = isObject(body) ? body.webhook : undefined
    if (!isObject(w)) throw this.host.badRequest({ webhook: [['[missing]webhook', 'Your request is missing the Webhook information as JSON in the entity-body.']] })
    const problems = new Problems('webhook')
    const url = typeof w.url === 'string' ? w.url.trim() : ''
    if (url === '') problems.add('url', 'blank', 'You must specify the [webhook.url] property.')
    else if (!/^https?:\/\/[^/\s]+/i.test(url) || !URL.canParse(url)) problems.add('url', 'invalid', 'The [webhook.url] property is not a valid URL.')
    const timeout = (field: 'connectTimeout' | 'readTimeout'): number => {
      const v = w[field]
      if (v === undefined || v === null) problems.add(field, 'blank', `You must specify the [webhook.${field}] property.`)
      else if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) problems.add(field, 'invalid', `The [webhook.${field}] must be greater than 0.`)
      return typeof v === 'number' ? v : 0
    }
    const webhook: FakeWebhook = {
      id,
      url,
      connectTimeout: timeout('connectTimeout'),
      readTimeout: timeout('readTimeout'),
      eventsEnabled: this.events(w.eventsEnabled, problems),
      headers: strings(w.headers, 'headers', problems),
      global: w.global === true,
      tenantIds: this.tenants(w.tenantIds, problems),
      signatureConfiguration: this.signature(w.signatureConfiguration, problems),
      insertInstant,
      lastUpdateInstant: Date.now()
    }
    for (const k of ['description', 'httpAuthenticationUsername', 'httpAuthenticationPassword'] as const) {
      const v = w[k]
      if (typeof v === 'string' && v !== '') webhook[k] = v
      else if (v !== undefined && v !== null && typeof v !== 'string') problems.add(k, 'couldNotConvert', `Invalid webhook.${k}.`)
    }
    if (problems.any) throw this.host.badRequest(problems.fields)
    return webhook
  }

  private events (v: unknown, problems: Problems): Record<string, boolean> {
    if (v === undefined || v === null) return {}
    if (!isObject(v)) { problems.add('eventsEnabled', 'couldNotConvert', 'Invalid webhook.eventsEnabled.'); return {} }
    const out: Record<string, boolean> = {}
    for (const [type, on] of Object.entries(v)) {
      if (!KNOWN_EVENTS.has(type)) problems.add('eventsEnabled', 'invalid', `[${type}] is not an event type.`)
      else if (typeof on !== 'boolean') problems.add(`eventsEnabled[${type}]`, 'couldNotConvert', `Invalid value [${JSON.stringify(on)}].`)
      else out[type] = on
    }
    return out
  }

  private tenants (v: unknown, problems: Problems): string[] {
    if (v === undefined || v === null) return []
    if (!Array.isArray(v)) { problems.add('tenantIds', 'couldNotConvert', 'Invalid webhook.tenantIds.'); return [] }
    const out: string[] = []
    for (const id of v) {
      if (!isUuid(id) || this.host.tenant(id.toLowerCase()) === undefined) problems.add('tenantIds', 'invalid', `The tenant [${String(id)}] does not exist.`)
      else if (!out.includes(id.toLowerCase())) out.push(id.toLowerCase())
    }
    return out
  }

  private signature (v: unknown, problems: Problems): FakeWebhook['signatureConfiguration'] {
    if (v === undefined || v === null) return { enabled: false }
    if (!isObject(v)) { problems.add('signatureConfiguration', 'couldNotConvert', 'Invalid webhook.signatureConfiguration.'); return { enabled: false } }
    const enabled = v.enabled === true
    const keyId = v.signingKeyId
    const out: FakeWebhook['signatureConfiguration'] = { enabled }
    if (keyId !== undefined && keyId !== null) {
      if (!isUuid(keyId)) problems.add('signatureConfiguration.signingKeyId', 'couldNotConvert', `Invalid signingKeyId [${String(keyId)}].`)
      else if (!this.host.keyIds().includes(keyId.toLowerCase())) problems.add('signatureConfiguration.signingKeyId', 'invalid', `The key [${keyId}] does not exist.`)
      else out.signingKeyId = keyId.toLowerCase()
    } else if (enabled) {
      problems.add('signatureConfiguration.signingKeyId', 'missing', 'You must specify a signing key when signing is enabled.')
    }
    return out
  }

  /** Posts a user event of `type` to every webhook that gets it, as FusionAuth does; what each answered. */
  async emit (type: string, user: FakeUser, extra: Record<string, unknown> = {}): Promise<EmittedEvent[]> {
    if (!KNOWN_EVENTS.has(type)) throw new Error(`fake FusionAuth: ${type} is not an event type`)
    const event = JSON.stringify(userEvent(type, user, extra))
    const tenantOn = this.host.tenant(user.tenantId)?.eventConfiguration.events[type]?.enabled === true
    const out: EmittedEvent[] = []
    for (const w of this.byId.values()) {
      if (w.eventsEnabled[type] !== true || !tenantOn || !(w.global || w.tenantIds.includes(user.tenantId))) continue
      const headers: Record<string, string> = { 'content-type': 'application/json', ...w.headers }
      if (w.httpAuthenticationUsername !== undefined) {
        headers.authorization = `Basic ${Buffer.from(`${w.httpAuthenticationUsername}:${w.httpAuthenticationPassword ?? ''}`).toString('base64')}`
      }
      if (w.signatureConfiguration.enabled && w.signatureConfiguration.signingKeyId !== undefined) {
        const jwt = await this.host.sign(event, w.signatureConfiguration.signingKeyId)
        if (jwt !== undefined) headers['x-fusionauth-signature-jwt'] = jwt
      }
      try {
        const res = await fetch(w.url, { method: 'POST', headers, body: event, signal: AbortSignal.timeout(w.readTimeout + w.connectTimeout) })
        out.push({ webhookId: w.id, url: w.url, status: res.status, text: await res.text() })
      } catch (err) {
        out.push({ webhookId: w.id, url: w.url, status: 0, text: (err as Error).message })
      }
    }
    return out
  }
}

function strings (v: unknown, field: string, problems: Problems): Record<string, string> {
  if (v === undefined || v === null) return {}
  if (!isObject(v) || Object.values(v).some(x => typeof x !== 'string')) { problems.add(field, 'couldNotConvert', `Invalid webhook.${field}: a map of strings.`); return {} }
  return { ...v as Record<string, string> }
}

/** A webhook as FusionAuth answers it. */
function json (w: FakeWebhook): Json {
  const out: Json = {
    id: w.id,
    url: w.url,
    connectTimeout: w.connectTimeout,
    readTimeout: w.readTimeout,
    eventsEnabled: { ...w.eventsEnabled },
    headers: { ...w.headers },
    global: w.global,
    tenantIds: [...w.tenantIds],
    signatureConfiguration: { ...w.signatureConfiguration },
    insertInstant: w.insertInstant,
    lastUpdateInstant: w.lastUpdateInstant
  }
  for (const k of ['description', 'httpAuthenticationUsername', 'httpAuthenticationPassword'] as const) if (w[k] !== undefined) out[k] = w[k]
  return out
}
