import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { EVENTS } from '../observability/events.js'
import { HashedEmail } from '../observability/logger.js'
import { createRefusalLog } from '../observability/refusals.js'
import sjson from 'secure-json-parse'
import type { Store } from '../store/types.js'
import { KV, StoreDataError, StoreUnavailableError } from '../store/types.js'
import type { Metrics } from '../observability/metrics.js'
import { classify, HASH_MISMATCH } from './alert.js'
import type { BreachAlert } from '../alerts/types.js'
import { createCredentialCheck, type WebhookCredential } from './credentials.js'
import { createSourceGuard, type SourceOptions } from './client-cert.js'
import { DecryptError, decryptPayload } from './decrypt.js'
import { bodyReservation, createAdmission } from './limits.js'
import { BodyError, bodyText, contentDecode, unwrap } from './body.js'
import { BridgeError } from '../errors.js'

/** The Enzoic webhook's own settings (built from the configuration at the edge: config/parts.ts). */
export interface IntakeSettings {
  credentials: readonly WebhookCredential[]
  source: SourceOptions
  maxBodyBytes: number
  maxInFlight: number
  maxInFlightBytes: number
  payload: { encryption: 'off' | 'optional' | 'required', key?: Buffer, cipher: 'cbc' | 'gcm' }
}

export interface IntakeOptions {
  settings: IntakeSettings
  store: Store
  metrics: Metrics
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The intake outcome, for metrics: accepted, duplicate, test, ignored, unauthorized, … */
    intakeOutcome?: string
    sourceAddress?: string
    /** The in-flight slot this request holds (limits.ts), from admission until its answer and its work are done. */
    inFlight?: InFlightSlot
    /** Why the source check refused the caller (403), for the refusal log. */
    forbiddenBecause?: string
    /** The handler wrote the request's one line already (with its lifecycle event): app.ts writes none. */
    answerLogged?: boolean
  }
}

interface InFlightSlot {
  /** The handler is running (parsing, or waiting for the commit). */
  working: boolean
  /** The response is closed: sent, or the connection is gone. */
  closed: boolean
  release: () => void
}

/** A 4xx with a short, uniform reason; the error handler renders `{"error": reason}`. */
export class IntakeError extends BridgeError {
  readonly code = 'BRIDGE_INTAKE'
  constructor (readonly statusCode: number, message: string, readonly outcome: string) {
    super(message)
  }
}

export const WEBHOOK_PATH = '/webhooks/enzoic'
const RETRY_AFTER_SECONDS = 5
/** At most one "overloaded" warning per this many milliseconds (with the count refused since). */
const OVERLOAD_LOG_MS = 10_000
/** Unauthenticated refusals (401, 403): the first of each reason at once, then one summary per interval. */
const REFUSAL_LOG_MS = 10_000

/**
 * The webhook front door (docs/design.md §2, steps 1–7). Order matters and is fixed: source/certificate check and
 * Basic auth run in onRequest, before the body is read; decryption and parsing only for a caller who
 * passed both; the answer only after the alert's batch is committed.
 */
export async function intakeRoutes (app: FastifyInstance, { settings, store, metrics }: IntakeOptions): Promise<void> {
  const check = createCredentialCheck(settings.credentials)
  const noteRefusal = refusalNote(store)
  const authenticate = (req: FastifyRequest, reply: FastifyReply): void => {
    const pair = basicCredentials(req.headers.authorization)
    if (pair === undefined || !check(pair.key, pair.secret)) {
      if (pair !== undefined) noteRefusal(req.sourceAddress)
      reply.header('www-authenticate', 'Basic realm="enzoic", charset="UTF-8"')
      throw new IntakeError(401, 'unauthorized', 'unauthorized')
    }
  }
  const refusals = createRefusalLog(app.log, REFUSAL_LOG_MS, 'webhook refusals in the last interval (the first of each reason was logged on its own)')
  app.addHook('onClose', async () => refusals.close())
  // Take every body raw, whatever its content type (Enzoic's is unconfirmed; encrypted bodies are text).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: settings.maxBodyBytes }, (_req, body, done) => done(null, body))

  app.post(WEBHOOK_PATH, {
    onRequest: webhookGate(createSourceGuard(settings.source), authenticate, settings),
    bodyLimit: settings.maxBodyBytes
  }, async (req: FastifyRequest, reply: FastifyReply) => await holdingSlot(req, () => handle(req, reply, settings, store)))

  app.addHook('onResponse', (req, reply, done) => {
    if (req.routeOptions.url === WEBHOOK_PATH) counted(req, reply)
    done()
  })
  function counted (req: FastifyRequest, reply: FastifyReply): void {
    if (reply.statusCode === 401) {
      refusals.refused((req.headers.authorization ?? '') === '' ? 'no credentials' : 'credentials refused', req.sourceAddress, 'webhook credentials refused')
    } else if (reply.statusCode === 403) {
      refusals.refused(req.forbiddenBecause ?? 'forbidden', req.sourceAddress, 'webhook caller refused')
    }
    const status = String(reply.statusCode)
    metrics.webhookRequests.inc({ status, outcome: req.intakeOutcome ?? 'error' })
    metrics.webhookDuration.observe({ status }, reply.elapsedTime / 1000)
  }
}

/**
 * Remembers the last refused credentials (when and from where; nothing of what was sent) so `enzoic webhooks test
 * --wait` can say that the bridge refused the test call. At most one write a second: a flood of wrong passwords
 * costs the store nothing more.
 */
function refusalNote (store: Store): (address: string | undefined) => void {
  let lastAt = 0
  let latest: { at: string, address?: string } | undefined
  let pending: NodeJS.Timeout | undefined
  return address => {
    latest = { at: new Date().toISOString(), address }
    if (pending !== undefined) return
    // The newest refusal is always written, within a second.
    pending = setTimeout(() => {
      pending = undefined
      lastAt = Date.now()
      store.kv.set(KV.lastRefused, JSON.stringify(latest)).catch(() => undefined)
    }, Math.max(0, lastAt + 1000 - Date.now()))
    pending.unref()
  }
}

/** onRequest: the source address and client certificate (403 when refused); each webhook route has its own guard. */
export function sourceCheck (guard: ReturnType<typeof createSourceGuard>): (req: FastifyRequest) => Promise<void> {
  return async req => checkSource(guard, req)
}

function checkSource (guard: ReturnType<typeof createSourceGuard>, req: FastifyRequest): void {
  const verdict = guard(req.raw)
  req.sourceAddress = verdict.address
  if (!verdict.allowed) {
    req.forbiddenBecause = verdict.reason
    throw new IntakeError(403, 'forbidden', 'forbidden')
  }
}

/**
 * The Enzoic route's onRequest, one hook instead of three: the source check (403), the Basic credentials (401),
 * admission (503) — in that order, all before the body is read.
 */
function webhookGate (guard: ReturnType<typeof createSourceGuard>, authenticate: (req: FastifyRequest, reply: FastifyReply) => void, limits: AdmissionLimits):
(req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  const admit = admitter(limits)
  return async (req, reply) => {
    checkSource(guard, req)
    authenticate(req, reply)
    return admit(req, reply)
  }
}

// RFC 7617 Basic credentials, read as @fastify/basic-auth reads them (strict: `Basic <token68>`; UTF-8; no control
// characters; the key is everything before the first colon).
const BASIC_RE = /^basic ([\w.~+/-]+=*)$/iu
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROL_RE = /[\x00-\x1F\x7F]/u
const USER_PASS_RE = /^([^:]*):(.*)$/u

/** The key and secret of an `Authorization: Basic …` header; undefined when absent or malformed. */
export function basicCredentials (header: string | undefined): { key: string, secret: string } | undefined {
  if (typeof header !== 'string') return undefined
  const token = BASIC_RE.exec(header)?.[1]
  if (token === undefined) return undefined
  const decoded = Buffer.from(token, 'base64').toString('utf8')
  if (CONTROL_RE.test(decoded)) return undefined
  const pair = USER_PASS_RE.exec(decoded)
  return pair === null ? undefined : { key: pair[1]!, secret: pair[2]! }
}

/** The in-flight bounds of a webhook route (BRIDGE_MAX_IN_FLIGHT, BRIDGE_MAX_IN_FLIGHT_BYTES) and its body limit. */
export interface AdmissionLimits { maxBodyBytes: number, maxInFlight: number, maxInFlightBytes: number }

/**
 * onRequest, after authentication and before the body is read: admit the request within the in-flight bound,
 * or answer 503 + Retry-After at once and close the connection (its body is never read). Refusals are
 * summarised by one warning per OVERLOAD_LOG_MS, with the count refused since the last.
 */
export function admissionHook (limits: AdmissionLimits): (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  const admit = admitter(limits)
  return async (req, reply) => admit(req, reply)
}

function admitter (limits: AdmissionLimits): (req: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined {
  // The byte bound never refuses a body the body limit allows when nothing else is in flight (limits.ts).
  const admission = createAdmission({ maxRequests: limits.maxInFlight, maxBytes: limits.maxInFlightBytes })
  let overloadLoggedAt = 0
  let refusedSinceLog = 0
  return (req, reply) => {
    const release = admission.tryAcquire(bodyReservation(req.headers, limits.maxBodyBytes))
    if (release === undefined) {
      req.intakeOutcome = 'overloaded'
      refusedSinceLog++
      const now = Date.now()
      if (now - overloadLoggedAt >= OVERLOAD_LOG_MS) {
        req.log.warn({ refused: refusedSinceLog, inFlight: admission.requests, inFlightBytes: admission.bytes }, 'webhook overloaded: answering 503 so the sender retries')
        overloadLoggedAt = now
        refusedSinceLog = 0
      }
      return reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).header('connection', 'close').send({ error: 'overloaded' })
    }
    const slot: InFlightSlot = { working: false, closed: false, release }
    req.inFlight = slot
    reply.raw.once('close', () => {
      slot.closed = true
      if (!slot.working) release()
    })
  }
}

/**
 * Runs a handler while holding the request's in-flight slot: the slot is held until the handler is done as well
 * as the answer sent, so a sender that hangs up while its alert waits for the commit frees no memory still in use.
 */
export async function holdingSlot<T> (req: FastifyRequest, handler: () => Promise<T>): Promise<T> {
  const slot = req.inFlight
  if (slot !== undefined) slot.working = true
  try {
    return await handler()
  } finally {
    if (slot !== undefined) {
      slot.working = false
      if (slot.closed) slot.release()
    }
  }
}

export const parseJson = (text: string): unknown => sjson.parse(text, null, { protoAction: 'remove', constructorAction: 'remove' })

/**
 * The raw body → the JSON value, through whatever wrappers a mainstream sender adds (body.ts): content
 * coding, BOM or charset, whitespace, a JSON string around the JSON or the ciphertext. Every failure is a
 * 400 (413 when a compressed body inflates past the limit) with a short reason.
 */
function decode (req: FastifyRequest, raw: Buffer, settings: IntakeSettings): unknown {
  let body
  try {
    const bytes = contentDecode(raw, req.headers['content-encoding'], settings.maxBodyBytes)
    body = unwrap(bodyText(bytes, req.headers['content-type']))
  } catch (err) {
    if (err instanceof BodyError) throw new IntakeError(err.statusCode, err.message, err.statusCode === 413 ? 'too-large' : 'invalid')
    throw err
  }
  if (body.kind === 'empty') throw new IntakeError(400, 'empty body', 'invalid')
  const { payload } = settings
  if (body.kind === 'json') {
    if (payload.encryption === 'required') throw new IntakeError(400, 'encryption required', 'invalid')
    try {
      return parseJson(body.text)
    } catch {
      throw new IntakeError(400, 'not JSON', 'invalid')
    }
  }
  if (payload.encryption === 'off' || payload.key === undefined) throw new IntakeError(400, 'not JSON', 'invalid')
  try {
    // The plaintext may carry the same wrappers (a BOM, whitespace, a JSON string), never a second ciphertext.
    const plain = unwrap(bodyText(decryptPayload(body.text, payload.key, payload.cipher)))
    if (plain.kind !== 'json') throw new DecryptError()
    return parseJson(plain.text)
  } catch {
    // A wrong key can still unpad to garbage: every failure is the same answer.
    throw new IntakeError(400, new DecryptError().message, 'invalid')
  }
}

/** Decode, classify, commit, answer. */
async function handle (req: FastifyRequest, reply: FastifyReply, settings: IntakeSettings, store: Store): Promise<unknown> {
  const json = decode(req, (req.body as Buffer | undefined) ?? Buffer.alloc(0), settings)
  const c = classify(json)
  if (c.kind === 'invalid') throw new IntakeError(400, c.reason, 'invalid')
  if (c.kind === 'ignored') {
    req.intakeOutcome = 'ignored'
    req.log.info({ reason: c.reason }, 'webhook ignored: not a breach alert')
    // Remembered (not the body) so `enzoic webhooks test --wait --type binAlert` can see it arrived.
    store.kv.set(KV.lastIgnored, JSON.stringify({ at: new Date().toISOString(), reason: c.reason })).catch(() => undefined)
    return { status: 'ignored', reason: c.reason }
  }
  const { alert } = c
  let result
  try {
    result = await store.alerts.insert(alert, { sourceIp: req.sourceAddress })
  } catch (err) {
    if (err instanceof StoreDataError) {
      // The database refused this alert's data (its batch neighbours are stored): a retry would fail again.
      req.log.error({ err, exposureId: alert.exposureId }, 'the store refused this alert\'s data: answering 400')
      throw new IntakeError(400, err.message, 'invalid')
    }
    if (!(err instanceof StoreUnavailableError)) throw err
    req.intakeOutcome = 'unavailable'
    req.log.error({ err }, 'alert store cannot commit: answering 503 so Enzoic retries')
    return reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send({ error: 'unavailable' })
  }
  req.intakeOutcome = result.duplicate ? 'duplicate' : result.test ? 'test' : 'accepted'
  answeredLine(req, reply, result, alert)
  const body: Record<string, unknown> = { status: result.duplicate ? 'duplicate' : 'accepted', alertId: result.id }
  if (result.test) body.test = true
  return body
}

/**
 * The request's one line (app.ts's `webhook answered`, written here as the 200 goes out, after the commit) carrying
 * its lifecycle event too: `alert.received` (a new alert) or `alert.duplicate`, with the event's fields. One line
 * instead of two per accepted alert; written before the answer, so a sender that hangs up cannot lose it.
 */
function answeredLine (req: FastifyRequest, reply: FastifyReply, result: { id: string, duplicate: boolean, test: boolean }, alert: BreachAlert): void {
  const { email } = alert
  req.answerLogged = true
  req.log[EVENTS[result.duplicate ? 'alert.duplicate' : 'alert.received'].level]({
    event: result.duplicate ? 'alert.duplicate' : 'alert.received',
    alertId: result.id,
    source: result.duplicate ? undefined : 'enzoic',
    test: result.test,
    exposureId: alert.exposureId,
    // The mask reuses the alert's usernameHash when it is the email's own SHA-256 (no second hash of the address).
    email: email !== undefined && alert.usernameHash !== undefined && !alert.warnings.includes(HASH_MISMATCH)
      ? new HashedEmail(email, alert.usernameHash)
      : email,
    warnings: alert.warnings.length > 0 ? alert.warnings : undefined,
    method: req.method,
    url: req.url,
    status: 200,
    responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
    outcome: req.intakeOutcome,
    address: req.sourceAddress
  }, 'webhook answered')
}
