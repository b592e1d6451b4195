import { Agent } from 'undici'
import { parseRetryAfter } from '../net/retry-after.js'
import { answerError, foreignAnswer, networkError } from './errors.js'
import type { Endpoint, Method } from './endpoints.js'

export interface TransportOptions {
  url: string
  apiKey: string
  /** Per request: connecting, waiting for the headers, and between body chunks. */
  timeoutMs: number
  /** Keep-alive connections in the pool. */
  connections?: number
  /** Observes every call: operation, HTTP status (0 = no answer), seconds. */
  onCall?: (operation: string, status: number, seconds: number) => void
  /** An answer that was not FusionAuth's (the error says what came back). */
  onForeign?: (operation: string, status: number, err: Error) => void
}

export interface CallOptions {
  /** Fills the endpoint's `{name}` path segments. */
  params?: Record<string, string>
  query?: Record<string, string | number | boolean | undefined>
  /** `X-FusionAuth-TenantId`. */
  tenantId?: string
  body?: unknown
}

/** A request `breach-bridge check` sends to learn what the server is: nothing is interpreted, nothing thrown. */
export interface InspectRequest {
  method?: Method
  /** From the base URL, e.g. `/api/status`. */
  path: string
  /** Send no API key (FusionAuth's anonymous endpoints). */
  anonymous?: boolean
  tenantId?: string
  body?: unknown
}

export interface InspectAnswer {
  /** Undefined when no HTTP answer came (`error` says why). */
  status?: number
  contentType?: string
  /** The parsed body when it was JSON (by content type). */
  json?: unknown
  bodyBytes?: number
  /** No answer: `ECONNREFUSED`, `time-out`, … */
  error?: string
}

export interface Transport {
  /**
   * One call. Resolves with the parsed JSON object (`answers: 'json'`) or undefined (`'empty'`); rejects with
   * FusionAuthError — including for a 2xx, 400 or 404 whose body is not FusionAuth's (`foreign`).
   */
  call<T = unknown>(endpoint: Endpoint, options?: CallOptions): Promise<T>
  inspect (req: InspectRequest): Promise<InspectAnswer>
  close (): Promise<void>
}

interface Raw { status: number, contentType: string, text: string, retryAfter?: string | string[] }

const isJsonType = (contentType: string): boolean => /^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType)

function parseObject (raw: Raw): Record<string, unknown> | undefined {
  if (!isJsonType(raw.contentType) || raw.text === '') return undefined
  try {
    const v: unknown = JSON.parse(raw.text)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/**
 * Believes only FusionAuth's answers: a success must have the documented shape (a JSON object, or an empty
 * body), a 404 is empty (or JSON), a 400 carries FusionAuth's errors JSON. A proxy's HTML page with any of
 * those statuses is `foreign`: retried, never recorded as done or as "no such user".
 */
export function interpret (endpoint: Endpoint, raw: Raw): unknown {
  const { operation } = endpoint
  const json = parseObject(raw)
  const empty = raw.text.trim() === ''
  const foreign = (why: string): Error => foreignAnswer(operation, raw.status, raw.contentType, Buffer.byteLength(raw.text), why)
  if (raw.status >= 200 && raw.status < 300) {
    if (endpoint.answers === 'json') {
      if (json === undefined) throw foreign('FusionAuth answers this call with JSON')
      return json
    }
    if (empty || json !== undefined) return undefined
    throw foreign('FusionAuth answers this call with an empty body')
  }
  if ((raw.status === 404 || raw.status === 400) && !empty && json === undefined) {
    throw foreign(raw.status === 404 ? 'FusionAuth\'s 404 is empty' : 'FusionAuth\'s 400 carries its errors as JSON')
  }
  const retryAfterMs = raw.status === 429 || raw.status === 503 ? parseRetryAfter(raw.retryAfter) : undefined
  throw answerError(operation, raw.status, json, retryAfterMs)
}

function fillPath (endpoint: Endpoint, params: Record<string, string> = {}): string {
  return endpoint.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = params[name]
    if (v === undefined) throw new Error(`${endpoint.operation}: no value for {${name}}`)
    return encodeURIComponent(v)
  })
}

function queryString (query: CallOptions['query']): string {
  if (query === undefined) return ''
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v))
  const s = q.toString()
  return s === '' ? '' : `?${s}`
}

/**
 * FusionAuth's HTTP client: one keep-alive pool per origin (undici), time-outs enforced by the dispatcher,
 * every answer classified here and nowhere else. No client library: the calls are few and small, and this is
 * the one place that decides what to believe. Requests go to the pool itself (`dispatcher.request` with the
 * origin parsed once): undici's top-level `request(url)` parses the URL and looks the pool up on every call.
 */
export function createTransport (options: TransportOptions): Transport {
  const base = new URL(options.url)
  const origin = base.origin
  /** FUSIONAUTH_URL's own path (FusionAuth behind a path prefix), without its trailing slash. */
  const prefix = base.pathname.replace(/\/+$/, '')
  // undici drops a connection `keepAliveTimeoutThreshold` (default 2 s) before the server's advertised keep-alive
  // ends: a server announcing `Keep-Alive: timeout=2` would cost a new TCP connection per call. 1 s keeps the margin.
  const dispatcher = new Agent({
    connections: options.connections ?? 32,
    keepAliveTimeout: 30_000,
    keepAliveTimeoutThreshold: 1000,
    connect: { timeout: options.timeoutMs },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs
  })
  const baseHeaders = { authorization: options.apiKey, accept: 'application/json' }

  async function send (method: Method, path: string, headers: Record<string, string>, body: unknown): Promise<Raw> {
    const res = await dispatcher.request({
      origin,
      path: `${prefix}${path}`,
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.body.text()
    return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), text, retryAfter: res.headers['retry-after'] }
  }

  return {
    async call<T>(endpoint: Endpoint, opts: CallOptions = {}): Promise<T> {
      const started = performance.now()
      const headers: Record<string, string> = opts.tenantId === undefined ? baseHeaders : { ...baseHeaders, 'x-fusionauth-tenantid': opts.tenantId }
      let raw: Raw
      try {
        raw = await send(endpoint.method, `${fillPath(endpoint, opts.params)}${queryString(opts.query)}`, headers, opts.body)
      } catch (err) {
        options.onCall?.(endpoint.operation, 0, (performance.now() - started) / 1000)
        throw networkError(endpoint.operation, err)
      }
      options.onCall?.(endpoint.operation, raw.status, (performance.now() - started) / 1000)
      try {
        return interpret(endpoint, raw) as T
      } catch (err) {
        if ((err as { foreign?: boolean }).foreign === true) options.onForeign?.(endpoint.operation, raw.status, err as Error)
        throw err
      }
    },
    async inspect ({ method = 'GET', path, anonymous = false, tenantId, body }) {
      const headers: Record<string, string> = anonymous ? { accept: 'application/json' } : { ...baseHeaders }
      if (tenantId !== undefined) headers['x-fusionauth-tenantid'] = tenantId
      try {
        const raw = await send(method, path, headers, body)
        const json = isJsonType(raw.contentType) ? safeParse(raw.text) : undefined
        return { status: raw.status, contentType: raw.contentType, json, bodyBytes: Buffer.byteLength(raw.text) }
      } catch (err) {
        return { error: networkError('inspect', err).message.replace(/^inspect: /, '') }
      }
    },
    async close () {
      await dispatcher.close()
    }
  }
}

function safeParse (text: string): unknown {
  if (text === '') return undefined
  try { return JSON.parse(text) } catch { return undefined }
}
