import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { eventKey, FUSIONAUTH_WEBHOOK_PATH, OUTBOX_KINDS } from '../alerts/fusionauth-events.js'
import { logEvent } from '../observability/events.js'
import { createRefusalLog } from '../observability/refusals.js'
import type { Metrics } from '../observability/metrics.js'
import { StoreDataError, StoreUnavailableError, type Store } from '../store/types.js'
import { BodyError, bodyText, contentDecode } from './body.js'
import { createSourceGuard, type SourceOptions } from './client-cert.js'
import { createSecretCheck } from './credentials.js'
import { classifyEvent, type ClassifiedEvent } from './fusionauth-event.js'
import { createSignatureCheck, SIGNATURE_HEADER, type SignatureSettings } from './fusionauth-signature.js'
import { admissionHook, holdingSlot, IntakeError, parseJson, sourceCheck, type AdmissionLimits } from './route.js'

/** FusionAuth's own webhook (docs/design.md §13), built from the configuration at the edge (config/parts.ts). */
export interface FusionAuthEventSettings {
  /** FUSIONAUTH_WEBHOOK_SECRET: the exact Authorization header values accepted (several: rotation). */
  secrets: readonly string[]
  signature: SignatureSettings
  /** FUSIONAUTH_BREACH_LOGIN. */
  breachLogin: 'allow' | 'block'
  /** FUSIONAUTH_WEBHOOK_ALLOWED_IPS and TRUSTED_PROXIES; never Enzoic's client certificate. */
  source: SourceOptions
  /** Enzoic's API is configured: enrolment follows FusionAuth's user events. */
  enrolment: boolean
  limits: AdmissionLimits
  /** Called after an event for the follower was committed (it looks at once). */
  onStored?: () => void
}

const RETRY_AFTER_SECONDS = 5
/** Unauthenticated refusals: the first of each reason at once, then one summary per interval (as on the Enzoic route). */
const REFUSAL_LOG_MS = 10_000

/**
 * `POST /webhooks/fusionauth`, in the Enzoic route's order: source address, then the Authorization header (constant
 * time), then the in-flight bound — all before the body is read; then the signature over the raw bytes (when
 * required), and only then parsing. The answer goes out after the commit; nothing here calls FusionAuth or
 * Enzoic (FusionAuth waits on transactional events): the follower acts on what was stored.
 */
export interface FusionAuthEventOptions { settings: FusionAuthEventSettings, store: Store, metrics: Metrics }

export async function fusionAuthEventRoutes (app: FastifyInstance, { settings, store, metrics }: FusionAuthEventOptions): Promise<void> {
  const secretOk = createSecretCheck(settings.secrets)
  const signed = settings.signature.mode === 'required' ? createSignatureCheck(settings.signature) : undefined
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: settings.limits.maxBodyBytes }, (_req, body, done) => done(null, body))

  const authenticate = async (req: FastifyRequest): Promise<void> => {
    const value = req.headers.authorization
    if (!secretOk(Array.isArray(value) ? undefined : value)) throw new IntakeError(401, 'unauthorized', 'unauthorized')
  }

  app.post(FUSIONAUTH_WEBHOOK_PATH, {
    onRequest: [sourceCheck(createSourceGuard(settings.source)), authenticate, admissionHook(settings.limits)],
    bodyLimit: settings.limits.maxBodyBytes
  }, async (req, reply) => await holdingSlot(req, async () => {
    const raw = (req.body as Buffer | undefined) ?? Buffer.alloc(0)
    if (signed !== undefined) {
      const header = req.headers[SIGNATURE_HEADER]
      const verdict = await signed(Array.isArray(header) ? undefined : header, raw)
      if (!verdict.ok) {
        req.refusal = { reason: 'unauthorized', detail: verdict.reason }
        throw new IntakeError(401, 'unauthorized', 'bad-signature')
      }
    }
    const event = classifyEvent(decode(req, raw, settings.limits.maxBodyBytes), { enrolment: settings.enrolment })
    if (event.kind === 'invalid') throw new IntakeError(400, event.reason, 'invalid')
    metrics.fusionAuthEvents.inc({ type: event.type, outcome: event.kind === 'ignored' ? 'ignored' : 'stored' })
    return await answer(req, reply, event, store, settings)
  }))

  const refusals = createRefusalLog(app.log, REFUSAL_LOG_MS, 'FusionAuth webhook refusals in the last interval (the first of each reason was logged on its own)')
  app.addHook('onClose', async () => refusals.close())
  app.addHook('onResponse', async (req, reply) => {
    if (req.routeOptions.url !== FUSIONAUTH_WEBHOOK_PATH) return
    if (reply.statusCode === 401) {
      const reason = req.intakeOutcome === 'bad-signature' ? `signature refused: ${req.refusal?.detail ?? ''}` : (req.headers.authorization ?? '') === '' ? 'no Authorization header' : 'Authorization refused'
      refusals.refused(reason, req.sourceAddress, 'FusionAuth webhook caller refused')
    } else if (reply.statusCode === 403) {
      refusals.refused(req.forbiddenBecause ?? 'forbidden', req.sourceAddress, 'FusionAuth webhook caller refused')
    }
    metrics.webhookRequests.inc({ status: String(reply.statusCode), outcome: req.intakeOutcome ?? 'error' })
  })
}

function decode (req: FastifyRequest, raw: Buffer, maxBytes: number): unknown {
  try {
    const text = bodyText(contentDecode(raw, req.headers['content-encoding'], maxBytes), req.headers['content-type']).trim()
    if (text === '') throw new IntakeError(400, 'empty body', 'invalid')
    return parseJson(text)
  } catch (err) {
    if (err instanceof IntakeError) throw err
    if (err instanceof BodyError) throw new IntakeError(err.statusCode, err.message, err.statusCode === 413 ? 'too-large' : 'invalid')
    throw new IntakeError(400, 'not JSON', 'invalid')
  }
}

/** Commits what the event asks for, then answers: 200 (accepted, duplicate, ignored), 503 when nothing could be stored. */
async function answer (req: FastifyRequest, reply: FastifyReply, event: Exclude<ClassifiedEvent, { kind: 'invalid' }>, store: Store, settings: FusionAuthEventSettings): Promise<unknown> {
  const { eventId, type } = event
  if (event.kind === 'ignored') {
    req.intakeOutcome = 'ignored'
    logEvent(req.log, 'fusionauth.event', { eventId, type, outcome: 'ignored', reason: event.reason }, `FusionAuth ${type} ignored: ${event.reason}`)
    return { status: 'ignored' }
  }
  let duplicate: boolean
  let alertId: string | undefined
  try {
    if (event.kind === 'breach') {
      const r = await store.alerts.insert(event.alert, { sourceIp: req.sourceAddress })
      duplicate = r.duplicate
      alertId = r.id
    } else if (event.kind === 'password-changed' && event.change.login && (await store.steps.alertsOfUser(event.change.userId, 1)).length === 0) {
      // Every login of every user: only one whose user has a case is worth a row.
      req.intakeOutcome = 'ignored'
      return { status: 'ignored' }
    } else {
      const kind = event.kind === 'enrolment' ? OUTBOX_KINDS.enrolment : OUTBOX_KINDS.passwordChanged
      duplicate = !await store.outbox.add(eventKey(eventId), kind, event.change)
      if (!duplicate) settings.onStored?.()
    }
  } catch (err) {
    if (err instanceof StoreDataError) {
      // The database refused this event's data (whatever was committed beside it is stored): a retry would fail again.
      req.log.error({ err, eventId, type }, 'the store refused this FusionAuth event\'s data: answering 400')
      throw new IntakeError(400, err.message, 'invalid')
    }
    if (!(err instanceof StoreUnavailableError)) throw err
    req.intakeOutcome = 'unavailable'
    req.log.error({ err }, 'the store cannot commit a FusionAuth event: answering 503 so FusionAuth retries')
    return reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send({ error: 'unavailable' })
  }
  req.intakeOutcome = duplicate ? 'duplicate' : 'accepted'
  const user = event.kind === 'breach' ? { userId: event.userId, tenantId: event.tenantId } : event.kind === 'password-changed' ? { userId: event.change.userId, tenantId: event.change.tenantId } : {}
  logEvent(req.log, 'fusionauth.event', { eventId, type, outcome: req.intakeOutcome, alertId, ...user }, `FusionAuth ${type} ${duplicate ? 'already stored' : 'stored'}`)
  if (event.kind === 'breach' && !duplicate) {
    logEvent(req.log, 'alert.received', { alertId, source: 'fusionauth', email: event.alert.email, test: false }, 'alert stored (FusionAuth breached password detection)')
  }
  if (event.kind === 'breach' && settings.breachLogin === 'block') {
    // After the commit: the alert is stored whatever FusionAuth does with this answer (it fails the login).
    req.intakeOutcome = duplicate ? 'duplicate-blocked' : 'blocked'
    return reply.code(500).send({ error: 'login blocked: breached password', status: duplicate ? 'duplicate' : 'accepted', alertId })
  }
  return { status: duplicate ? 'duplicate' : 'accepted', ...(alertId === undefined ? {} : { alertId }) }
}
