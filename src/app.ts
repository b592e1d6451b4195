import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Logger } from 'pino'
import type { SecureContextOptions } from 'node:tls'
import type { Config } from './config.js'
import type { Store } from './store/types.js'
import { createMetrics, type Metrics } from './observability/metrics.js'
import { intakeRoutes, IntakeError, WEBHOOK_PATH } from './intake/route.js'
import { ALERT_STATES } from './alerts/types.js'
import { normaliseIp } from './intake/client-cert.js'

/** A readiness check: resolves when healthy, rejects with a short reason otherwise. */
export type ReadinessCheck = () => Promise<void>

export interface AppDeps {
  config: Config
  store: Store
  logger: Logger
  metrics?: Metrics
  /** Extra readiness checks by name (the worker adds `fusionauth`). */
  readiness?: Record<string, ReadinessCheck>
  /** TLS options for ENZOIC_CLIENT_CERT=direct. */
  https?: SecureContextOptions & { requestCert: boolean, rejectUnauthorized: boolean }
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

const STATUS_BODIES: Record<number, { error: string, outcome: string }> = {
  401: { error: 'unauthorized', outcome: 'unauthorized' },
  403: { error: 'forbidden', outcome: 'forbidden' },
  404: { error: 'not found', outcome: 'not-found' },
  413: { error: 'payload too large', outcome: 'too-large' }
}

/** Builds the HTTP application; no port is opened here (server.ts listens, tests inject or listen on 0). */
export async function buildApp (deps: AppDeps): Promise<FastifyInstance> {
  const { config, store } = deps
  const metrics = deps.metrics ?? createMetrics()
  const options: FastifyServerOptions = {
    loggerInstance: deps.logger,
    // Explicit time-outs: a slow or stalled sender cannot hold a connection for long.
    connectionTimeout: 30_000,
    keepAliveTimeout: 10_000,
    requestTimeout: 30_000,
    return503OnClosing: true
  }
  // Fastify's typings split HTTP and HTTPS servers; the app itself is the same either way.
  const app = (deps.https === undefined
    ? Fastify(options)
    : Fastify({ ...options, https: deps.https } as FastifyServerOptions)) as unknown as FastifyInstance
  app.decorate('metrics', metrics)

  app.setErrorHandler((err: FastifyError | IntakeError, req, reply) => {
    const status = err.statusCode ?? 500
    const known = STATUS_BODIES[status]
    if (status >= 500) {
      req.log.error({ err }, 'request failed')
      req.intakeOutcome = 'error'
      return reply.code(500).send({ error: 'Internal Server Error' })
    }
    req.intakeOutcome = known?.outcome ?? (err instanceof IntakeError ? err.outcome : 'invalid')
    if (status === 401 && !reply.hasHeader('www-authenticate')) reply.header('www-authenticate', 'Basic realm="enzoic"')
    // Our own 4xx carry a short reason; framework 4xx (bad headers, aborted bodies) get a generic one.
    const message = known?.error ?? (err instanceof IntakeError ? err.message : 'bad request')
    return reply.code(status).send({ error: message })
  })
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }))

  // During close(), answers to the requests still in flight end their keep-alive connection: otherwise
  // server.close() waits for the client (or keepAliveTimeout) to drop the idle connection, seconds later.
  let draining = false
  app.addHook('preClose', async () => { draining = true })
  app.addHook('onSend', async (_req, reply, payload) => {
    if (draining) reply.header('connection', 'close')
    return payload
  })

  await app.register(intakeRoutes, { config, store, metrics })

  // In direct mode the bridge itself faces the internet: its operational endpoints answer only local and
  // TRUSTED_PROXIES peers (behind nginx, only POST /webhooks/enzoic is proxied at all).
  const opsPeers = new Set(['127.0.0.1', '::1', ...config.trustedProxies].map(normaliseIp))
  app.addHook('onRequest', async (req, reply) => {
    if (config.clientCert !== 'direct' || req.url.startsWith(WEBHOOK_PATH)) return
    if (!opsPeers.has(normaliseIp(req.socket.remoteAddress))) return reply.code(404).send({ error: 'not found' })
  })

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (_req, reply) => {
    const checks: Record<string, string> = {}
    const all: Record<string, ReadinessCheck> = { store: () => store.ping(), ...deps.readiness }
    await Promise.all(Object.entries(all).map(async ([name, check]) => {
      try {
        await check()
        checks[name] = 'ok'
      } catch (err) {
        checks[name] = (err as Error).message
      }
    }))
    const ready = Object.values(checks).every(v => v === 'ok')
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks })
  })

  app.get('/metrics', async (_req, reply) => {
    const counts = await store.alerts.countByState().catch(() => undefined)
    if (counts !== undefined) for (const state of ALERT_STATES) metrics.queueDepth.set({ state }, counts[state])
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  app.log.debug({ path: WEBHOOK_PATH }, 'routes registered')
  return app
}
