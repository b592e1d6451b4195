import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Logger } from 'pino'
import type { TLSSocket, TlsOptions } from 'node:tls'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { Store } from './store/types.js'
import { bridgeVersion, createMetrics, type Metrics } from './observability/metrics.js'
import { intakeRoutes, IntakeError, WEBHOOK_PATH, type IntakeSettings } from './intake/route.js'
import { fusionAuthEventRoutes, type FusionAuthEventSettings } from './intake/fusionauth.js'
import { FUSIONAUTH_WEBHOOK_PATH } from './alerts/fusionauth-events.js'
import { ALERT_STATES } from './alerts/types.js'
import { normaliseIp } from './intake/client-cert.js'
import { guardConnections, type ConnectionLimits } from './intake/connections.js'

/** A readiness check: resolves when healthy, rejects with a short reason otherwise. */
export type ReadinessCheck = () => Promise<void>

export interface AppDeps {
  /** The webhook's settings; `requestTimeoutMs` bounds every request (BRIDGE_REQUEST_TIMEOUT). */
  intake: IntakeSettings
  /** FusionAuth's own webhook (POST /webhooks/fusionauth); absent: the route does not exist. */
  fusionAuthEvents?: FusionAuthEventSettings
  requestTimeoutMs: number
  /** BRIDGE_MAX_CONNECTIONS, BRIDGE_MAX_CONNECTIONS_PER_ADDRESS: bounds applied as each connection arrives. */
  connections: ConnectionLimits
  store: Store
  logger: Logger
  metrics?: Metrics
  /** Extra readiness checks by name (the worker adds `fusionauth`). */
  readiness?: Record<string, ReadinessCheck>
  /** TLS options for ENZOIC_CLIENT_CERT=direct. */
  https?: TlsOptions & { requestCert: boolean, rejectUnauthorized: boolean }
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
  interface FastifyRequest {
    /** Why a request was refused (the `error` of its 4xx body), for its log line. */
    refusal?: { reason: string, code?: string, detail?: string }
  }
}

/** The operational endpoints: polled every few seconds by probes and Prometheus. */
const PROBE_PATHS = new Set(['/healthz', '/readyz', '/metrics'])

/**
 * One log line per request, written when it is answered, instead of Fastify's two info lines ("incoming
 * request", "request completed"). The webhook's line carries its status, outcome, the reason of a refusal
 * and the time taken. Probes (/healthz, /readyz, /metrics) log only at debug: a scrape every few seconds
 * must not fill the log (a probe refused in direct mode, 404, is still logged).
 */
class RequestLog extends LogController {
  override incomingRequest (req: FastifyRequest): void {
    if (!PROBE_PATHS.has(req.routeOptions.url ?? '')) req.log.debug({ req }, 'incoming request')
  }

  override requestCompleted (error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    if (req.answerLogged === true && (error === null || error === undefined)) return
    const status = reply.statusCode
    const fields: Record<string, unknown> = { method: req.method, url: req.url, status, responseTimeMs: Math.round(reply.elapsedTime * 100) / 100 }
    if (error !== null && error !== undefined) {
      reply.log.error({ ...fields, err: error }, 'response failed')
      return
    }
    const route = req.routeOptions.url
    if (route === WEBHOOK_PATH || route === FUSIONAUTH_WEBHOOK_PATH) {
      const outcome = req.intakeOutcome ?? 'error'
      // A refusal is worth a look (what did the sender send?); an overload is summarised by its own warning, and so
      // are unauthenticated callers of both routes (401, 403: intake/route.ts, intake/fusionauth.ts), a flood of which must not write
      // a line each. A `block` answer to a breached-password login is the intended 500: info.
      const summarised = outcome === 'unauthorized' || outcome === 'forbidden' || outcome === 'bad-signature'
      const level = summarised ? 'debug' : status < 400 || outcome === 'overloaded' || outcome.endsWith('blocked') ? 'info' : 'warn'
      reply.log[level]({ ...fields, outcome, ...req.refusal, address: req.sourceAddress }, 'webhook answered')
    } else if (route !== undefined && PROBE_PATHS.has(route) && status !== 404) {
      reply.log.debug(fields, 'request completed')
    } else {
      reply.log.info(fields, 'request completed')
    }
  }
}

const STATUS_BODIES: Record<number, { error: string, outcome: string }> = {
  401: { error: 'unauthorized', outcome: 'unauthorized' },
  403: { error: 'forbidden', outcome: 'forbidden' },
  404: { error: 'not found', outcome: 'not-found' },
  413: { error: 'payload too large', outcome: 'too-large' }
}

/**
 * Node's request time-outs, enforced for real: Node checks them only every `connectionsCheckingInterval`
 * (30 s by default, so a 30 s request time-out used to cut a trickling sender after 30–90 s). Headers must
 * arrive within 10 s as behind nginx (`client_header_timeout`); the whole request within `requestTimeoutMs`.
 */
export function serverTimeouts (requestTimeoutMs: number): { requestTimeout: number, headersTimeout: number, connectionsCheckingInterval: number } {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(10_000, requestTimeoutMs),
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(requestTimeoutMs / 10)))
  }
}

/**
 * Requests Node refuses before Fastify sees them (the request time-out, oversized headers, malformed HTTP):
 * the same `{"error": …}` bodies as every other answer, and the connection closed.
 */
function clientErrorHandler (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
  const reason = status === 408 ? 'request timeout' : status === 431 ? 'headers too large' : 'bad request'
  const body = JSON.stringify({ error: reason })
  this.log.info({ status, reason, code: err.code, address: socket.remoteAddress }, 'request refused before it was read')
  // Only when no answer has started on this connection (as Node does): never write into the middle of one.
  const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (socket.writable && current?.headersSent !== true) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  }
  socket.destroy(err)
}

/** One error handler: a short reason for 4xx (`{"error": …}`), a bare "Internal Server Error" for 5xx (logged). */
function answerError (err: FastifyError | IntakeError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = err.statusCode ?? 500
  const known = STATUS_BODIES[status]
  if (status >= 500) {
    req.log.error({ err }, 'request failed')
    req.intakeOutcome = 'error'
    return reply.code(500).send({ error: 'Internal Server Error' })
  }
  req.intakeOutcome = err instanceof IntakeError ? err.outcome : known?.outcome ?? 'invalid'
  if (status === 401 && !reply.hasHeader('www-authenticate') && req.routeOptions.url === WEBHOOK_PATH) reply.header('www-authenticate', 'Basic realm="enzoic"')
  // Our own 4xx carry a short reason; framework 4xx (bad headers, aborted bodies) get a generic one, and
  // their own message goes to the log only.
  const message = known?.error ?? (err instanceof IntakeError ? err.message : 'bad request')
  req.refusal = known === undefined && !(err instanceof IntakeError)
    ? { reason: message, code: (err as FastifyError).code, detail: err.message }
    : { ...req.refusal, reason: message }
  return reply.code(status).send({ error: message })
}

/** Builds the HTTP application; no port is opened here (server.ts listens, tests inject or listen on 0). */
export async function buildApp (deps: AppDeps): Promise<FastifyInstance> {
  const { intake, store } = deps
  const metrics = deps.metrics ?? createMetrics()
  const timeouts = serverTimeouts(deps.requestTimeoutMs)
  const options = {
    loggerInstance: deps.logger,
    // Explicit time-outs: a slow or stalled sender cannot hold a connection for long.
    connectionTimeout: 30_000, // idle socket (no byte either way)
    keepAliveTimeout: 10_000,
    requestTimeout: timeouts.requestTimeout,
    // No route reads more than the webhook may (Fastify's default is 1 MiB).
    bodyLimit: intake.maxBodyBytes,
    // Node's own server options (http.createServer); the HTTPS server takes the same ones beside its TLS options.
    http: timeouts,
    clientErrorHandler,
    logController: new RequestLog(),
    return503OnClosing: true
  } as FastifyServerOptions
  // Fastify's typings split HTTP and HTTPS servers; the app itself is the same either way.
  const app = (deps.https === undefined
    ? Fastify(options)
    : Fastify({ ...options, https: { ...deps.https, ...timeouts } } as FastifyServerOptions)) as unknown as FastifyInstance
  app.decorate('metrics', metrics)
  const sources = deps.fusionAuthEvents === undefined ? [intake.source] : [intake.source, deps.fusionAuthEvents.source]
  guardConnections(app.server, sources, deps.connections, deps.logger, reason => metrics.connectionsRefused.inc({ reason }))
  metrics.buildInfo.set({ version: bridgeVersion(), nodejs_version: process.version, store: store.kind }, 1)
  // Direct TLS: a client-initiated renegotiation ends the connection (secureOptions already has OpenSSL refuse
  // it; this also covers a TLS library that ignores the refusal).
  if (deps.https !== undefined) app.server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation())

  app.setErrorHandler(answerError)
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }))
  // An unknown path or method is answered before its body is read (the not-found route would parse it first).
  // Hooks on every request take the callback form: no promise per request.
  app.addHook('onRequest', (req, reply, done) => {
    if (req.is404) reply.code(404).send({ error: 'not found' })
    else done()
  })

  // During close(), answers to the requests still in flight end their keep-alive connection: otherwise
  // server.close() waits for the client (or keepAliveTimeout) to drop the idle connection, seconds later.
  let draining = false
  app.addHook('preClose', async () => { draining = true })
  app.addHook('onSend', (req, reply, payload, done) => {
    // An answer sent before the request's body was all received (401, 403, 404, 413, 503 …) ends the
    // connection: otherwise Node would read and discard the rest of the body, however long, to reach the
    // next request on it. Node closes the socket as soon as this answer is written.
    if (draining || !req.raw.complete) reply.header('connection', 'close')
    done(null, payload)
  })

  await app.register(intakeRoutes, { settings: intake, store, metrics })
  if (deps.fusionAuthEvents !== undefined) await app.register(fusionAuthEventRoutes, { settings: deps.fusionAuthEvents, store, metrics })

  opsRoutes(app, deps, metrics)
  app.log.debug({ path: WEBHOOK_PATH }, 'routes registered')
  return app
}

/** The operational endpoints: /healthz, /readyz (every readiness check), /metrics (with the store's gauges). */
function opsRoutes (app: FastifyInstance, deps: AppDeps, metrics: Metrics): void {
  const { intake, store } = deps
  // In direct mode the bridge itself faces the internet: its operational endpoints answer only local and
  // TRUSTED_PROXIES peers (behind nginx, only POST /webhooks/enzoic is proxied at all).
  const opsPeers = new Set(['127.0.0.1', '::1', ...intake.source.trustedProxies].map(normaliseIp))
  if (intake.source.clientCert === 'direct') {
    app.addHook('onRequest', (req, reply, done) => {
      if (req.url.startsWith(WEBHOOK_PATH) || req.url.startsWith(FUSIONAUTH_WEBHOOK_PATH) || opsPeers.has(normaliseIp(req.socket.remoteAddress))) done()
      else reply.code(404).send({ error: 'not found' })
    })
  }

  app.get('/healthz', async () => ({ status: 'ok' }))

  const readinessChecks: Record<string, ReadinessCheck> = { store: () => store.ping(), ...deps.readiness }
  let readinessRun: Promise<{ ready: boolean, checks: Record<string, string> }> | undefined
  /** Runs every readiness check (calls at the same time share one run) and sets enzoic_bridge_ready. */
  function evaluateReadiness (): Promise<{ ready: boolean, checks: Record<string, string> }> {
    readinessRun ??= (async () => {
      const checks: Record<string, string> = {}
      await Promise.all(Object.entries(readinessChecks).map(async ([name, check]) => {
        try {
          await check()
          checks[name] = 'ok'
        } catch (err) {
          checks[name] = (err as Error).message
        }
      }))
      const ready = Object.values(checks).every(v => v === 'ok')
      metrics.ready.set(ready ? 1 : 0)
      return { ready, checks }
    })().finally(() => { readinessRun = undefined })
    return readinessRun
  }

  app.get('/readyz', async (_req, reply) => {
    const { ready, checks } = await evaluateReadiness()
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks })
  })

  app.get('/metrics', async (_req, reply) => {
    // enzoic_bridge_ready is evaluated here too (the checks cache FusionAuth's answer), but a scrape waits at
    // most a second for it: a hanging check keeps the last value and sets the gauge when it ends.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([evaluateReadiness(), new Promise(resolve => { timer = setTimeout(resolve, 1000) })])
    clearTimeout(timer)
    const counts = await store.alerts.countByState().catch(() => undefined)
    if (counts !== undefined) {
      for (const state of ALERT_STATES) metrics.queueDepth.set({ state }, counts[state])
      const age = await store.queue.oldestQueuedAge().catch(() => null)
      if (age !== null) metrics.oldestQueuedAge.set(age ?? 0)
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}
