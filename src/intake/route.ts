import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import basicAuth from '@fastify/basic-auth'
import sjson from 'secure-json-parse'
import type { Config } from '../config.js'
import type { Store } from '../store/types.js'
import { KV, StoreUnavailableError } from '../store/types.js'
import type { Metrics } from '../observability/metrics.js'
import { classify } from './alert.js'
import { createCredentialCheck } from './credentials.js'
import { createSourceGuard } from './client-cert.js'
import { DecryptError, decryptPayload } from './decrypt.js'

export interface IntakeOptions {
  config: Config
  store: Store
  metrics: Metrics
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The intake outcome, for metrics: accepted, duplicate, test, ignored, unauthorized, … */
    intakeOutcome?: string
    sourceAddress?: string
  }
}

/** A 4xx with a short, uniform reason; the error handler renders `{"error": reason}`. */
export class IntakeError extends Error {
  constructor (readonly statusCode: number, message: string, readonly outcome: string) {
    super(message)
    this.name = 'IntakeError'
  }
}

export const WEBHOOK_PATH = '/webhooks/enzoic'
const RETRY_AFTER_SECONDS = 5

/**
 * The webhook front door (docs/design.md §2, steps 1–7). Order matters and is fixed: source/certificate check and
 * Basic auth run in onRequest, before the body is read; decryption and parsing only for a caller who
 * passed both; the answer only after the alert's batch is committed.
 */
export async function intakeRoutes (app: FastifyInstance, { config, store, metrics }: IntakeOptions): Promise<void> {
  const guard = createSourceGuard(config)
  const check = createCredentialCheck(config.webhookCredentials)

  await app.register(basicAuth, {
    authenticate: { realm: 'enzoic' },
    validate: async (key: string, secret: string, req: FastifyRequest) => {
      if (!check(key, secret)) {
        req.log.warn({ address: req.sourceAddress }, 'webhook credentials refused')
        throw new IntakeError(401, 'unauthorized', 'unauthorized')
      }
    }
  })

  // Take every body raw, whatever its content type (Enzoic's is unconfirmed; encrypted bodies are text).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.maxBodyBytes }, (_req, body, done) => done(null, body))

  async function sourceCheck (req: FastifyRequest): Promise<void> {
    const verdict = guard(req.raw)
    req.sourceAddress = verdict.address
    if (!verdict.allowed) {
      req.log.warn({ address: verdict.address, reason: verdict.reason }, 'webhook caller refused')
      throw new IntakeError(403, 'forbidden', 'forbidden')
    }
  }

  function decode (raw: Buffer): unknown {
    const first = raw.find(b => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09)
    const looksJson = first === 0x7b /* { */ || first === 0x5b /* [ */
    if (looksJson) {
      if (config.payloadEncryption === 'required') throw new IntakeError(400, 'encryption required', 'invalid')
      try {
        return sjson.parse(raw.toString('utf8'), null, { protoAction: 'remove', constructorAction: 'remove' })
      } catch {
        throw new IntakeError(400, 'not JSON', 'invalid')
      }
    }
    if (config.payloadEncryption === 'off' || config.payloadKey === undefined) {
      throw new IntakeError(400, raw.length === 0 ? 'empty body' : 'not JSON', 'invalid')
    }
    try {
      const plain = decryptPayload(raw, config.payloadKey, config.payloadCipher)
      return sjson.parse(plain.toString('utf8'), null, { protoAction: 'remove', constructorAction: 'remove' })
    } catch {
      // A wrong key can still unpad to garbage: every failure is the same answer.
      throw new IntakeError(400, new DecryptError().message, 'invalid')
    }
  }

  app.post(WEBHOOK_PATH, {
    onRequest: [sourceCheck, app.basicAuth],
    bodyLimit: config.maxBodyBytes
  }, async (req: FastifyRequest, reply: FastifyReply) => {
    const json = decode((req.body as Buffer | undefined) ?? Buffer.alloc(0))
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
      if (!(err instanceof StoreUnavailableError)) throw err
      req.intakeOutcome = 'unavailable'
      req.log.error({ err }, 'alert store cannot commit: answering 503 so Enzoic retries')
      return reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send({ error: 'unavailable' })
    }
    req.intakeOutcome = result.duplicate ? 'duplicate' : result.test ? 'test' : 'accepted'
    req.log.info({
      alertId: result.id,
      duplicate: result.duplicate,
      test: result.test,
      exposureId: alert.exposureId,
      email: alert.email,
      warnings: alert.warnings.length > 0 ? alert.warnings : undefined
    }, result.duplicate ? 'alert already stored' : 'alert stored')
    const body: Record<string, unknown> = { status: result.duplicate ? 'duplicate' : 'accepted', alertId: result.id }
    if (result.test) body.test = true
    return body
  })

  app.addHook('onResponse', async (req, reply) => {
    if (req.routeOptions.url !== WEBHOOK_PATH) return
    const status = String(reply.statusCode)
    metrics.webhookRequests.inc({ status, outcome: req.intakeOutcome ?? 'error' })
    metrics.webhookDuration.observe({ status }, reply.elapsedTime / 1000)
  })
}
