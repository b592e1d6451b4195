import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request, type Dispatcher } from 'undici'
import type { ExposureDetails } from '../alerts/types.js'
import { parseEnzoicDate } from '../alerts/normalise.js'
import { parseRetryAfter } from '../net/retry-after.js'
import { BridgeError } from '../errors.js'

/**
 * Enzoic REST client (docs/enzoic-api.md). Talks to the API directly with undici: Basic auth, JSON,
 * a time-out per request, retries with back-off. See README.md beside this file.
 */

// ────────────────────────────────────────────────────────────────────────────────────────────────
// SHAPES — every path, parameter and body field the client depends on. Entries marked UNCONFIRMED
// are not stated by any public Enzoic source (docs/enzoic-api.md); change them here and only here.
// ────────────────────────────────────────────────────────────────────────────────────────────────
export const SHAPES = {
  /** Documented: POST {url, default} → 201 {webhookID, url, key, secret, default}. */
  webhooks: '/webhooks',
  /** UNCONFIRMED: list/update/delete take the webhook id as this query parameter. */
  webhookIdParam: 'webhookID',
  /** UNCONFIRMED: the list answer may be a bare array or an object holding one; these keys are tried first. */
  webhookListKeys: ['webhooks', 'results', 'items', 'data'],
  /** UNCONFIRMED: the id field of a listed webhook. */
  webhookIdFields: ['webhookID', 'webhookId', 'id'],
  /** UNCONFIRMED (seen in third-party code, not in the docs): GET ?type=breachAlert|binAlert|piiAlert. */
  webhookTest: '/webhook-test',
  webhookTestTypeParam: 'type',
  /** Documented: add (POST), remove (DELETE with a body) and list (GET) monitored users. */
  monitoredUsers: '/breach-monitoring-for-users',
  /**
   * UNCONFIRMED: removal by custom data. The docs name the field `customData`, the official clients
   * send `usernameCustomData`: send both.
   */
  removeByCustomDataBody: (customData: string): Record<string, unknown> => ({ customData, usernameCustomData: customData }),
  /** Documented: list items sit under `usernameHashes`; `users` tolerated in case the name changes. */
  monitoredListKeys: ['usernameHashes', 'users'],
  /** Documented: GET ?id= (older clients used /exposures). The answer names one `passwordType`; `passwordTypes` is tolerated. */
  exposureDetails: '/exposure-details'
} as const

/** At most this many users per add/remove call (documented). */
export const ENZOIC_MAX_BATCH = 15000

/** A longer Retry-After is not waited out: the error is returned instead. */
const MAX_RETRY_AFTER_MS = 60_000

export interface EnzoicClientOptions {
  /** Ends in `/v1`, e.g. `https://api.enzoic.com/v1`. */
  baseUrl: string
  apiKey: string
  apiSecret: string
  /** Per request (one attempt), default 15000. */
  timeoutMs?: number
  /** Extra attempts after the first, default 3. */
  retries?: number
  /** First back-off wait, doubled each retry, ±20% jitter; default 500. */
  retryBaseMs?: number
  /** Called before each wait; `attempt` is the attempt that just failed (1-based). */
  onRetry?: (info: { call: string, attempt: number, status?: number, waitMs: number }) => void
}

export interface Webhook {
  webhookID: string
  url: string
  default?: boolean
  key?: string
  secret?: string
  [k: string]: unknown
}

export interface MonitoredUser {
  usernameHash: string
  customData?: string
  webhookID?: string
  webhookURL?: string
}

export interface EnzoicApi {
  /** POST /webhooks. Not retried when the request may have reached Enzoic (a retry could register twice). */
  registerWebhook (url: string, isDefault?: boolean): Promise<Webhook & { key: string, secret: string }>
  listWebhooks (): Promise<Webhook[]>
  deleteWebhook (webhookID: string): Promise<void>
  /** Makes Enzoic POST a test notification to the default webhook. */
  testWebhook (type?: 'breachAlert' | 'binAlert' | 'piiAlert'): Promise<void>
  /** At most ENZOIC_MAX_BATCH users; more throws before any call. */
  addMonitoredUsers (users: Array<{ usernameHash: string, customData?: string }>, webhookID?: string): Promise<{ added: number, alreadyExisted: number }>
  /** At most ENZOIC_MAX_BATCH hashes; more throws before any call. */
  removeMonitoredUsers (usernameHashes: string[]): Promise<{ deleted: number, notFound: number }>
  removeMonitoredByCustomData (customData: string): Promise<{ deleted: number, notFound: number }>
  /** One page (extended info); follow `pagingToken` until it is undefined. */
  listMonitoredUsers (opts?: { pagingToken?: string, pageSize?: number }): Promise<{ count: number, users: MonitoredUser[], pagingToken?: string }>
  isMonitored (usernameHash: string): Promise<boolean>
  /** undefined when Enzoic does not know the id. */
  exposureDetails (exposureId: string): Promise<ExposureDetails | undefined>
  close (): Promise<void>
}

/** Every failure of the client. Its message names the call and status, never a credential. */
export class EnzoicApiError extends BridgeError {
  readonly code = 'BRIDGE_ENZOIC_API'
  /** How many attempts were made (0 when refused before any call). */
  attempts = 0
  constructor (readonly call: string, readonly status: number | undefined, message: string, readonly retryable: boolean) {
    super(message)
  }

  override toJSON (): Record<string, unknown> {
    return { ...super.toJSON(), call: this.call, status: this.status, retryable: this.retryable, attempts: this.attempts }
  }
}

type Query = Record<string, string | number | boolean | undefined>

interface CallSpec {
  method: Dispatcher.HttpMethod
  path: string
  query?: Query
  body?: unknown
  /** false: retry only when the request surely did not reach Enzoic (429, connection refused). */
  idempotent?: boolean
  /** Answer 404 with `undefined` instead of throwing. */
  allow404?: boolean
}

type Attempt =
  | { ok: true, status: number, json: unknown }
  | { ok: false, error: EnzoicApiError, retryAfterMs?: number, notSent?: boolean }

/** Errors that mean the request never left this machine. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH'])

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | undefined => typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined
const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : undefined
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined
const date = (v: unknown): string | undefined => { const s = str(v); return parseEnzoicDate(s) ?? s }
const compact = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T

function firstArray (json: unknown, keys: readonly string[]): unknown[] | undefined {
  if (Array.isArray(json)) return json
  if (!isObject(json)) return undefined
  for (const k of keys) if (Array.isArray(json[k])) return json[k] as unknown[]
  return Object.values(json).find(Array.isArray)
}

function toWebhook (item: unknown): Webhook | undefined {
  if (!isObject(item)) return undefined
  const id = SHAPES.webhookIdFields.map(f => str(item[f])).find(v => v !== undefined)
  if (id === undefined) return undefined
  const out: Webhook = { ...item, webhookID: id, url: str(item.url) ?? '' }
  if (typeof item.default === 'boolean') out.default = item.default
  else if (item.default !== undefined) out.default = item.default === 'true' || item.default === 1
  return out
}

function toMonitoredUser (item: unknown): MonitoredUser | undefined {
  if (typeof item === 'string') return { usernameHash: item }
  if (!isObject(item)) return undefined
  const usernameHash = str(item.usernameHash)
  if (usernameHash === undefined) return undefined
  return compact({ usernameHash, customData: str(item.customData), webhookID: str(item.webhookID), webhookURL: str(item.webhookURL) })
}

function toExposureDetails (raw: Record<string, unknown>): ExposureDetails {
  const types = Array.isArray(raw.passwordTypes)
    ? raw.passwordTypes
    : raw.passwordType !== undefined && raw.passwordType !== null && raw.passwordType !== '' ? [raw.passwordType] : undefined
  return compact<ExposureDetails>({
    title: str(raw.title),
    date: date(raw.date),
    entries: num(raw.entries),
    domainsAffected: num(raw.domainsAffected),
    category: str(raw.category),
    sourceURLs: strings(raw.sourceURLs),
    source: str(raw.source),
    passwordTypes: types?.filter(x => typeof x === 'number' || typeof x === 'string'),
    exposedData: strings(raw.exposedData),
    dateAdded: date(raw.dateAdded)
  })
}

function describeStatus (status: number, detail: string): { message: string, retryable: boolean } {
  if (status === 401 || status === 403) {
    return { message: `Enzoic refused the API credentials (${status}): check ENZOIC_API_KEY and ENZOIC_API_SECRET`, retryable: false }
  }
  if (status === 429) return { message: `Enzoic rate limit reached (429)${detail}`, retryable: true }
  if (status >= 500) return { message: `Enzoic server error (${status})${detail}`, retryable: true }
  if (status === 404) return { message: `not found (404)${detail}`, retryable: false }
  return { message: `Enzoic rejected the request (${status})${detail}`, retryable: false }
}

/** The base URL as error messages name it: without any user:password in it. */
function shownUrl (base: string): string {
  try {
    const u = new URL(base)
    u.username = ''
    u.password = ''
    return u.toString().replace(/\/+$/, '')
  } catch { return 'the configured URL' }
}

const CHECK_URL = 'check ENZOIC_API_URL (the API base URL, ending in /v1) and the network'

/** Enzoic's HTTP transport: Basic credentials, a keep-alive pool, time-outs, retries of what is safe to repeat. */
class EnzoicTransport {
  readonly #base: string
  readonly #where: string
  readonly #timeoutMs: number
  readonly #retries: number
  readonly #retryBaseMs: number
  readonly #secrets: string[]
  readonly #headers: Record<string, string>
  readonly #agent: Agent
  readonly #closing = new AbortController()

  constructor (readonly opts: EnzoicClientOptions) {
    this.#base = opts.baseUrl.trim().replace(/\/+$/, '')
    this.#where = shownUrl(this.#base)
    this.#timeoutMs = opts.timeoutMs ?? 15000
    this.#retries = Math.max(0, opts.retries ?? 3)
    this.#retryBaseMs = opts.retryBaseMs ?? 500
    const token = Buffer.from(`${opts.apiKey}:${opts.apiSecret}`, 'utf8').toString('base64')
    this.#secrets = [token, opts.apiSecret].filter(x => x.length > 0)
    this.#headers = { authorization: `Basic ${token}`, accept: 'application/json', 'user-agent': 'enzoic-fusionauth-bridge' }
    this.#agent = new Agent({ keepAliveTimeout: 10_000, connections: 16, connect: { timeout: this.#timeoutMs } })
  }

  /** Whatever Enzoic answered, stripped of anything that could be a credential, short. */
  #snippet (text: string): string {
    let t = text.replace(/\s+/g, ' ').trim()
    for (const s of this.#secrets) t = t.split(s).join('[redacted]')
    t = t.slice(0, 200)
    return t === '' ? '' : `: ${t}`
  }

  /** A 404 from a base URL without the API version: the likely cause, said. */
  #versionHint (): string {
    let path = ''
    try { path = new URL(this.#base).pathname } catch {}
    return /\/v\d+$/.test(path) ? '' : ` — ENZOIC_API_URL (${this.#where}) does not end in /v1: Enzoic's API is at https://api.enzoic.com/v1`
  }

  #closed (call: string, status?: number): EnzoicApiError {
    return new EnzoicApiError(call, status, `${call}: the client was closed`, false)
  }

  async #attempt (spec: CallSpec, call: string, url: string, body: string | undefined): Promise<Attempt> {
    const timer = new AbortController()
    const t = setTimeout(() => timer.abort(), this.#timeoutMs)
    try {
      const res = await request(url, {
        dispatcher: this.#agent,
        method: spec.method,
        headers: body === undefined ? this.#headers : { ...this.#headers, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([timer.signal, this.#closing.signal])
      })
      return this.#answer(spec, call, res.statusCode, await res.body.text(), res.headers['retry-after'])
    } catch (err) {
      if (this.#closing.signal.aborted) return { ok: false, error: this.#closed(call) }
      if (timer.signal.aborted) {
        return { ok: false, error: new EnzoicApiError(call, undefined, `${call}: no answer from Enzoic within ${this.#timeoutMs} ms at ${this.#where}: ${CHECK_URL}`, true) }
      }
      const code = (err as { code?: string }).code ?? (err as Error).name ?? 'error'
      return {
        ok: false,
        error: new EnzoicApiError(call, undefined, `${call}: cannot reach Enzoic at ${this.#where} (${code}): ${CHECK_URL}`, true),
        notSent: NOT_SENT.has(code)
      }
    } finally {
      clearTimeout(t)
    }
  }

  #answer (spec: CallSpec, call: string, status: number, text: string, retryAfter: string | string[] | undefined): Attempt {
    if (status === 404 && spec.allow404 === true) return { ok: true, status, json: undefined }
    if (status >= 200 && status < 300) {
      if (text.trim() === '') return { ok: true, status, json: undefined }
      try {
        return { ok: true, status, json: JSON.parse(text) }
      } catch {
        return { ok: false, error: new EnzoicApiError(call, status, `${call}: Enzoic answered ${status} with a body that is not JSON`, false) }
      }
    }
    const { message, retryable } = describeStatus(status, status === 401 || status === 403 ? '' : this.#snippet(text))
    return {
      ok: false,
      error: new EnzoicApiError(call, status, `${call}: ${message}${status === 404 ? this.#versionHint() : ''}`, retryable),
      retryAfterMs: status === 429 || status === 503 ? parseRetryAfter(retryAfter) : undefined,
      notSent: status === 429
    }
  }

  async send (spec: CallSpec): Promise<{ status: number, json: unknown }> {
    const call = `${spec.method} ${spec.path}`
    if (this.#closing.signal.aborted) throw this.#closed(call)
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) qs.set(k, String(v))
    const url = `${this.#base}${spec.path}${qs.size > 0 ? `?${qs.toString()}` : ''}`
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body)
    for (let n = 1; ; n++) {
      const r = await this.#attempt(spec, call, url, body)
      if (r.ok) return r
      const { error } = r
      error.attempts = n
      const safeToRepeat = spec.idempotent !== false || r.notSent === true
      if (!error.retryable || !safeToRepeat || n > this.#retries) throw error
      if (r.retryAfterMs !== undefined && r.retryAfterMs > MAX_RETRY_AFTER_MS) throw error
      const backoff = this.#retryBaseMs * 2 ** (n - 1) * (0.8 + Math.random() * 0.4)
      const waitMs = Math.round(r.retryAfterMs ?? backoff)
      this.opts.onRetry?.({ call, attempt: n, status: error.status, waitMs })
      try {
        await sleep(waitMs, undefined, { signal: this.#closing.signal })
      } catch {
        throw this.#closed(call, error.status)
      }
    }
  }

  async close (): Promise<void> {
    if (this.#closing.signal.aborted) return
    this.#closing.abort()
    await this.#agent.close()
  }
}

export function createEnzoicClient (opts: EnzoicClientOptions): EnzoicApi {
  const transport = new EnzoicTransport(opts)
  const send = async (spec: CallSpec): Promise<{ status: number, json: unknown }> => await transport.send(spec)
  return { ...webhookCalls(send), ...monitoringCalls(send), close: async () => await transport.close() }
}

type Send = (spec: CallSpec) => Promise<{ status: number, json: unknown }>

const unreadable = (call: string, status: number, what: string): EnzoicApiError =>
  new EnzoicApiError(call, status, `${call}: unexpected answer from Enzoic (${what})`, false)

const tooMany = (call: string, n: number): EnzoicApiError =>
  new EnzoicApiError(call, undefined, `${call}: at most ${ENZOIC_MAX_BATCH} users per call (got ${n}): split the batch`, false)

const counts = <A extends string, B extends string>(json: unknown, a: A, b: B): Record<A | B, number> => {
  const o = isObject(json) ? json : {}
  return { [a]: num(o[a]) ?? 0, [b]: num(o[b]) ?? 0 } as Record<A | B, number>
}

/** The Webhooks API: register, list, delete, and the test call. */
function webhookCalls (send: Send): Pick<EnzoicApi, 'registerWebhook' | 'listWebhooks' | 'deleteWebhook' | 'testWebhook'> {
  return {
    async registerWebhook (url, isDefault = false) {
      const path = SHAPES.webhooks
      const { status, json } = await send({ method: 'POST', path, body: { url, default: isDefault }, idempotent: false })
      const hook = toWebhook(json)
      if (hook === undefined || typeof hook.key !== 'string' || typeof hook.secret !== 'string') {
        throw unreadable(`POST ${path}`, status, 'no webhookID, key and secret in the answer')
      }
      return hook as Webhook & { key: string, secret: string }
    },

    async listWebhooks () {
      const path = SHAPES.webhooks
      const { status, json } = await send({ method: 'GET', path })
      if (json === undefined) return []
      const items = firstArray(json, SHAPES.webhookListKeys)
      if (items === undefined) throw unreadable(`GET ${path}`, status, 'no list of webhooks')
      return items.map(toWebhook).filter((w): w is Webhook => w !== undefined)
    },

    async deleteWebhook (webhookID) {
      await send({ method: 'DELETE', path: SHAPES.webhooks, query: { [SHAPES.webhookIdParam]: webhookID } })
    },

    async testWebhook (type = 'breachAlert') {
      await send({ method: 'GET', path: SHAPES.webhookTest, query: { [SHAPES.webhookTestTypeParam]: type } })
    }
  }
}

/** Breach Monitoring by User, and the Exposure Details API. */
function monitoringCalls (send: Send): Omit<EnzoicApi, 'registerWebhook' | 'listWebhooks' | 'deleteWebhook' | 'testWebhook' | 'close'> {
  return {
    async addMonitoredUsers (users, webhookID) {
      const path = SHAPES.monitoredUsers
      if (users.length > ENZOIC_MAX_BATCH) throw tooMany(`POST ${path}`, users.length)
      if (users.length === 0) return { added: 0, alreadyExisted: 0 }
      const usersToMonitor = users.map(u => compact({ usernameHash: u.usernameHash, customData: u.customData }))
      const { json } = await send({ method: 'POST', path, body: compact({ usersToMonitor, webhookID }) })
      return counts(json, 'added', 'alreadyExisted')
    },

    async removeMonitoredUsers (usernameHashes) {
      const path = SHAPES.monitoredUsers
      if (usernameHashes.length > ENZOIC_MAX_BATCH) throw tooMany(`DELETE ${path}`, usernameHashes.length)
      if (usernameHashes.length === 0) return { deleted: 0, notFound: 0 }
      const { json } = await send({ method: 'DELETE', path, body: { usernameHashes } })
      return counts(json, 'deleted', 'notFound')
    },

    async removeMonitoredByCustomData (customData) {
      const { json } = await send({ method: 'DELETE', path: SHAPES.monitoredUsers, body: SHAPES.removeByCustomDataBody(customData) })
      return counts(json, 'deleted', 'notFound')
    },

    async listMonitoredUsers ({ pagingToken, pageSize } = {}) {
      const path = SHAPES.monitoredUsers
      const { status, json } = await send({ method: 'GET', path, query: { includeExtendedInfo: true, pageSize, pagingToken } })
      if (json === undefined) return { count: 0, users: [] }
      const items = firstArray(json, SHAPES.monitoredListKeys)
      if (items === undefined) throw unreadable(`GET ${path}`, status, 'no list of users')
      const users = items.map(toMonitoredUser).filter((u): u is MonitoredUser => u !== undefined)
      const o = isObject(json) ? json : {}
      const next = str(o.pagingToken)
      return compact({ count: num(o.count) ?? users.length, users, pagingToken: next === '' ? undefined : next })
    },

    async isMonitored (usernameHash) {
      const { status } = await send({ method: 'GET', path: SHAPES.monitoredUsers, query: { usernameHash }, allow404: true })
      return status !== 404
    },

    async exposureDetails (exposureId) {
      const path = SHAPES.exposureDetails
      const { status, json } = await send({ method: 'GET', path, query: { id: exposureId }, allow404: true })
      if (status === 404) return undefined
      if (!isObject(json)) throw unreadable(`GET ${path}`, status, 'exposure details are not an object')
      return toExposureDetails(json)
    }
  }
}
