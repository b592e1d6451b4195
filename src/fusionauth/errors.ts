import { BridgeError } from '../errors.js'

/**
 * How FusionAuth failed, classified once at the seam: `kind` drives the worker (auth → pause, retryable → back
 * off, permanent → the step fails for good, not-found → the caller decides).
 */
export type FusionAuthErrorKind = 'auth' | 'retryable' | 'permanent' | 'not-found'

export class FusionAuthError extends BridgeError {
  readonly code = 'BRIDGE_FUSIONAUTH'
  constructor (
    readonly operation: string,
    readonly status: number | undefined,
    readonly kind: FusionAuthErrorKind,
    /** FusionAuth's own error code, e.g. `[TenantIdRequired]`. */
    readonly fusionAuthCode: string | undefined,
    message: string,
    /** How long FusionAuth asked us to wait (`Retry-After` on a 429 or 503). */
    readonly retryAfterMs?: number,
    /**
     * The answer did not come from FusionAuth (a proxy's HTML page, a captive portal, a misrouted load
     * balancer): never believed, always retried.
     */
    readonly foreign = false,
    /** No HTTP answer, and the request certainly never left: the connection could not even be made. */
    readonly notSent = false
  ) {
    super(message)
  }

  get retryable (): boolean { return this.kind === 'retryable' }

  override toJSON (): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      operation: this.operation,
      status: this.status,
      kind: this.kind,
      fusionAuthCode: this.fusionAuthCode,
      message: this.message,
      retryAfterMs: this.retryAfterMs,
      foreign: this.foreign || undefined
    }
  }
}

export function kindOf (status: number | undefined): FusionAuthErrorKind {
  if (status === undefined || status === 0) return 'retryable' // network error or time-out
  if (status === 401 || status === 403) return 'auth'
  if (status === 404) return 'not-found'
  if (status === 429 || status >= 500) return 'retryable'
  return 'permanent'
}

interface ErrorBody {
  generalErrors?: Array<{ code?: string, message?: string }>
  // FusionAuth sends an object keyed by field (its OpenAPI file says array): accept both.
  fieldErrors?: Record<string, Array<{ code?: string, message?: string }>> | Array<{ code?: string, message?: string }>
}

/** The first of FusionAuth's `{generalErrors, fieldErrors}`, for messages. */
export function firstErrorCode (body: unknown): { code?: string, message?: string } {
  if (body === null || typeof body !== 'object') return {}
  const b = body as ErrorBody
  const general = b.generalErrors?.[0]
  if (general !== undefined) return general
  const fields = b.fieldErrors
  if (Array.isArray(fields)) return fields[0] ?? {}
  if (fields !== undefined) {
    const [field, errs] = Object.entries(fields)[0] ?? []
    if (errs?.[0] !== undefined) return { code: errs[0].code, message: `${field ?? ''}: ${errs[0].message ?? ''}` }
  }
  return {}
}

/** Every error code of an errors body (general and per field). */
export function errorCodes (body: unknown): string[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return []
  const b = body as ErrorBody
  const codes = (b.generalErrors ?? []).map(g => g.code)
  const fields = b.fieldErrors
  const lists = Array.isArray(fields) ? [fields] : fields !== undefined && typeof fields === 'object' ? Object.values(fields) : []
  for (const l of lists) if (Array.isArray(l)) codes.push(...l.map(f => f?.code))
  return codes.filter((c): c is string => typeof c === 'string')
}

/** A FusionAuth error answer (4xx/5xx) → the error the callers handle. */
export function answerError (operation: string, status: number, body: unknown, retryAfterMs?: number): FusionAuthError {
  const { code, message } = firstErrorCode(body)
  const kind = kindOf(status)
  const text = kind === 'auth'
    ? `${operation}: FusionAuth refused the API key (${status}): check FUSIONAUTH_API_KEY and its endpoint permissions`
    : `${operation}: HTTP ${status}${code !== undefined ? ` ${code}` : ''}${message !== undefined ? ` ${message}` : ''}`
  return new FusionAuthError(operation, status, kind, code, text, kind === 'retryable' ? retryAfterMs : undefined)
}

/** Failures of making the connection: the request was certainly not sent. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])

/** No HTTP answer at all: a network error or a time-out. */
export function networkError (operation: string, err: unknown): FusionAuthError {
  const e = err as NodeJS.ErrnoException
  const code = e?.code ?? (e?.cause as NodeJS.ErrnoException | undefined)?.code
  const timeout = e?.name === 'TimeoutError' || e?.name === 'AbortError' || /TIMEOUT/.test(code ?? '')
  const cause = code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect time-out' : timeout ? 'time-out' : code ?? e?.message ?? 'network error'
  return new FusionAuthError(operation, undefined, 'retryable', undefined, `${operation}: ${cause}`, undefined, false, code !== undefined && NOT_CONNECTED.has(code))
}

/**
 * Whether a failed call certainly did not take effect: FusionAuth refused it (4xx, or 503 with Retry-After: it
 * is shedding load), or it never left. A time-out, a reset or a 5xx after the request was sent is ambiguous.
 */
export function certainlyNotDone (err: unknown): boolean {
  if (!(err instanceof FusionAuthError)) return false
  if (err.notSent) return true
  if (err.status === undefined || err.foreign) return false
  return (err.status >= 400 && err.status < 500) || (err.status === 503 && err.retryAfterMs !== undefined)
}

/** An answer that is not FusionAuth's (wrong shape for the endpoint): retried, never believed. */
export function foreignAnswer (operation: string, status: number, contentType: string, bytes: number, why: string): FusionAuthError {
  const type = contentType === '' ? 'no content type' : contentType.split(';')[0]!
  return new FusionAuthError(operation, status, 'retryable', undefined,
    `${operation}: HTTP ${status} (${type}, ${bytes} bytes) is not FusionAuth's answer (${why}): a proxy, portal or load balancer in between? Check FUSIONAUTH_URL`,
    undefined, true)
}
