import { constants as cryptoConstants, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { ConfigError, envFileWarning, loadConfig, unknownVariables, type Config } from './config/index.js'
import { connectionLimits, enzoicApiSettings, fusionAuthEventSettings, gatewayOptions, intakeSettings, remediationSettings } from './config/parts.js'
import { buildApp, type AppDeps } from './app.js'
import { openStore, describeDatabase, type OpenStoreOptions } from './store/index.js'
import { startRetention } from './store/retention.js'
import { createDigest, type Digest } from './digest/index.js'
import { maskEmail } from './observability/logger.js'
import { createMetrics, type Metrics } from './observability/metrics.js'
import { createLogger } from './observability/logger.js'
import type { Store } from './store/types.js'
import { createFusionAuthGateway, type FusionAuthGateway } from './fusionauth/index.js'
import { createWorker, type Worker, type WorkerOptions } from './remediation/worker/index.js'
import { createExposureLookup, type ExposureLookup } from './enzoic/exposures.js'
import { createEnzoicClient, type EnzoicApi } from './enzoic/client.js'
import { createFollower, type Follower } from './remediation/follow/index.js'
import { describePolicies } from './remediation/policy.js'
import { processOwner } from './process-owner.js'

export interface RunningBridge {
  app: FastifyInstance
  store: Store
  /** Absent when FusionAuth is not configured (intake only). */
  worker?: Worker
  /** Present when BRIDGE_NOTIFY_URL is set. */
  digest?: Digest
  /** Present when FUSIONAUTH_WEBHOOK_SECRET is set (and FusionAuth configured). */
  follower?: Follower
  gateway?: FusionAuthGateway
  url: string
  /** Stops taking requests, lets in-flight ones finish and commit, then closes the store. */
  close (): Promise<void>
}

export interface StartOptions {
  /** Worker tuning (tests shorten intervals). */
  worker?: Partial<Pick<WorkerOptions, 'leaseMs' | 'probeIntervalMs' | 'pausedLogIntervalMs' | 'readinessCacheMs' | 'random' | 'storeRetryMs'>>
  busyTimeoutMs?: number
  /** PostgreSQL's time-outs (tests shorten them): see OpenStoreOptions. */
  store?: Pick<OpenStoreOptions, 'insertDeadlineMs' | 'statementTimeoutMs' | 'lockTimeoutMs'>
  /** How often the store looks for other processes' commits (SQLite) or polls as a backstop (PostgreSQL). */
  pollMs?: number
  retention?: { everyMs?: number, firstAfterMs?: number }
  /** The operator digest's tick (tests drive it by hand with a long one). */
  digest?: { tickMs?: number, backoffMs?: number[] }
  /** The FusionAuth events follower's poll and back-off (tests shorten them). */
  follower?: { pollMs?: number, backoffMs?: number[] }
  /** ENZOIC_CLIENT_CERT=direct: how long a TLS handshake may take (default TLS_HANDSHAKE_TIMEOUT_MS; tests shorten it). */
  tlsHandshakeTimeoutMs?: number
}

/** ENZOIC_CLIENT_CERT=direct: a connection that has not completed its TLS handshake by then is closed (nginx: 10 s). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000

/** The worker's settings from the configuration (what it uses of it, no more), then the tests' tuning. */
function workerOptions (config: Config, tuning: StartOptions['worker'] = {}): Pick<WorkerOptions, 'concurrency' | 'leaseMs' | 'retrySchedule' | 'fusionAuthTimeoutMs' | 'describe'> & NonNullable<StartOptions['worker']> {
  const { leaseMs, ...rest } = tuning
  return {
    concurrency: config.fusionAuthConcurrency,
    leaseMs: leaseMs ?? config.leaseMs,
    retrySchedule: config.retrySchedule,
    fusionAuthTimeoutMs: config.fusionAuthTimeoutMs,
    describe: { actions: config.actions.map(a => a.label), dryRun: config.dryRun },
    ...rest
  }
}

/** ENZOIC_CLIENT_CERT=direct: the TLS server options (the bridge terminates TLS and asks for Enzoic's certificate). */
function directTls (config: Config, options: StartOptions): AppDeps['https'] {
  if (config.clientCert !== 'direct') return undefined
  return {
    cert: readFileSync(config.tlsCertFile!),
    key: readFileSync(config.tlsKeyFile!),
    ca: readFileSync(config.clientCaFile!),
    // Ask for a certificate but answer a bad one with a 403 rather than a TLS alert: clearer for operators.
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2' as const,
    // As nginx: a connection that has not finished its handshake in 10 s is closed (Node's default: 120 s),
    // and a client may not renegotiate (Node allows 3 renegotiations per 10 minutes; app.ts also refuses).
    handshakeTimeout: options.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS,
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION
  }
}

/** What runs beside intake when FusionAuth is configured: the gateway, the worker, the digest, the exposure lookup. */
interface Remediation { gateway: FusionAuthGateway, worker: Worker, digest?: Digest, exposures?: ExposureLookup, follower?: Follower, enzoic?: EnzoicApi }

function startRemediation (config: Config, store: Store, logger: Logger, metrics: Metrics, options: StartOptions): Remediation | undefined {
  const foreign = aggregatedWarning(logger, 10_000)
  const fusionauth = gatewayOptions(config, {
    connections: config.fusionAuthConcurrency * 2,
    onCall: (operation, status, seconds) => metrics.fusionAuthCalls.observe({ operation, status: String(status) }, seconds),
    onForeign: (operation, status, err) => {
      metrics.fusionAuthForeign.inc({ operation, status: String(status) })
      foreign({ operation, status, reason: err.message }, 'an answer that is not FusionAuth\'s (a proxy or load balancer in between?): not believed, the alert is retried')
    }
  })
  if (fusionauth === undefined) return undefined
  const gateway = createFusionAuthGateway(fusionauth)
  const enzoic = enzoicApiSettings(config)
  const exposures = enzoic === undefined ? undefined : createExposureLookup(enzoic, store, logger)
  const digest = config.notify === undefined
    ? undefined
    : createDigest({
      store,
      notify: config.notify,
      logger,
      owner: processOwner(`digest-${randomUUID().slice(0, 8)}`),
      email: e => config.logEmails === 'full' ? e : maskEmail(e) as string | undefined,
      tickMs: options.digest?.tickMs,
      backoffMs: options.digest?.backoffMs
    })
  const remediation = { settings: remediationSettings(config), gateway, store, exposureDetails: exposures?.lookup }
  const worker = createWorker({ ...workerOptions(config, options.worker), store, gateway, logger, metrics, notify: digest, remediation })
  // FusionAuth's own events (when its webhook is configured): acted on after they are stored.
  const events = fusionAuthEventSettings(config)
  const enzoicApi = events?.enrolment === true && enzoic !== undefined ? createEnzoicClient(enzoic) : undefined
  const follower = events === undefined
    ? undefined
    : createFollower({ store, gateway, enzoic: enzoicApi, logger, metrics, owner: processOwner(`events-${randomUUID().slice(0, 8)}`), ...options.follower })
  return { gateway, worker, digest, exposures, follower, enzoic: enzoicApi }
}

/**
 * A warning that may come in bursts, logged at most once per `everyMs` with the count since the last one (the
 * rest would only push real events out of the log).
 */
function aggregatedWarning (logger: Logger, everyMs: number): (fields: Record<string, unknown>, message: string) => void {
  let last = 0
  let since = 0
  return (fields, message) => {
    since++
    const now = Date.now()
    if (now - last < everyMs) return
    logger.warn({ ...fields, count: since }, message)
    last = now
    since = 0
  }
}

/** The start line: where it listens and what it will do (policies, digest, retention). */
function startLine (config: Config, store: Store, url: string): Record<string, unknown> {
  return {
    url,
    database: describeDatabase(config.database),
    store: store.kind,
    clientCert: config.clientCert,
    encryption: config.payloadEncryption,
    policies: Object.fromEntries(describePolicies(config.policies).map(p => [p.what, p.detail])),
    fusionauthEvents: config.faWebhookSecrets.length === 0
      ? 'off'
      : `on${config.faWebhookSignature === 'required' ? ', signed' : ''}, breach login ${config.faBreachLogin}`,
    digest: config.notify === undefined ? 'off' : `every ${Math.round(config.notify.intervalMs / 60_000)} min${config.notify.secret === undefined ? '' : ', signed'}`,
    retention: config.retentionMs === undefined ? 'off' : `${Math.round(config.retentionMs / 86_400_000)}d`
  }
}

/**
 * Wires config → store → app → worker and listens. The worker runs when FusionAuth is configured.
 * Used by `breach-bridge serve` and by tests.
 */
export async function startBridge (config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningBridge> {
  const metrics = createMetrics()
  // The TLS files first: a file that cannot be read stops the start before anything is opened.
  const https = directTls(config, options)
  const store = await openStore(config.database, {
    role: 'serve',
    tombstoneKey: config.tombstoneKey,
    busyTimeoutMs: options.busyTimeoutMs,
    pollMs: options.pollMs,
    ...options.store,
    onCommit: (n, seconds) => {
      metrics.commitBatchSize.observe(n)
      metrics.commitDuration.observe(seconds)
    },
    onTransaction: synced => metrics.storeTransactions.inc({ synced: String(synced) }),
    onConnectionError: err => logger.warn({ err }, 'a database connection failed; it will be replaced'),
    onRecovered: r => logger.error(r, r.what === 'recreated'
      ? 'the database file was removed: re-created from what this process still had open (nothing acknowledged lost); find out who removed it'
      : `the database file was replaced: now using the new file; what the old one held is saved in ${r.savedTo ?? '?'}`)
  })
  const r = startRemediation(config, store, logger, metrics, options)
  const readiness = r === undefined ? undefined : { fusionauth: () => r.worker.readiness() }
  const events = fusionAuthEventSettings(config)
  const fusionAuthEvents = events === undefined ? undefined : { ...events, onStored: () => r?.follower?.wake() }
  const app = await buildApp({
    intake: intakeSettings(config),
    fusionAuthEvents,
    connections: connectionLimits(config),
    requestTimeoutMs: config.requestTimeoutMs,
    store,
    logger,
    metrics,
    https,
    readiness
  })
  try {
    await app.listen({ host: config.host, port: config.port })
  } catch (err) {
    await r?.gateway.close()
    await r?.exposures?.close()
    await r?.enzoic?.close()
    await store.close()
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const url = `${https === undefined ? 'http' : 'https'}://${host}:${port}`
  logger.info(startLine(config, store, url), 'bridge listening')
  await r?.worker.start()
  r?.digest?.start()
  r?.follower?.start()
  const retention = config.retentionMs === undefined ? undefined : startRetention({ store, retentionMs: config.retentionMs, logger, ...options.retention })

  let closing: Promise<void> | undefined
  return {
    app,
    store,
    worker: r?.worker,
    gateway: r?.gateway,
    digest: r?.digest,
    follower: r?.follower,
    url,
    close () {
      closing ??= (async () => {
        retention?.stop()
        await app.close() // waits for in-flight requests, whose inserts commit before they answer
        await r?.worker.stop() // lets in-flight alerts finish, releases leases
        await r?.digest?.stop()
        await r?.follower?.stop()
        await r?.gateway.close()
        await r?.exposures?.close()
        await r?.enzoic?.close()
        await store.close()
      })()
      return closing
    }
  }
}

/** How long a SIGTERM waits before the process is ended regardless (the systemd unit allows more). */
export function shutdownGraceMs (config: Config): number {
  return config.fusionAuthTimeoutMs + 10_000
}

/** Process entry: exits 2 (the CLI's "fix the configuration" code) with one line per configuration problem. */
export async function main (env: NodeJS.ProcessEnv = process.env, options: { envFileProblem?: string } = {}): Promise<void> {
  const warnings: Array<[Record<string, unknown>, string]> = []
  let envFileProblem = options.envFileProblem
  if (env === process.env) {
    const r = (await import('dotenv')).config({ quiet: true })
    const code = (r.error as NodeJS.ErrnoException | undefined)?.code
    if (r.error !== undefined && code !== 'ENOENT') envFileProblem = code ?? r.error.message
  }
  if (envFileProblem !== undefined) warnings.push([{ file: '.env', code: envFileProblem }, envFileWarning(envFileProblem)])
  for (const u of unknownVariables(env)) {
    warnings.push([{ variable: u.name, closest: u.closest }, `${u.name} is set, but the bridge reads no such variable (ignored)${u.closest === undefined ? '' : `: did you mean ${u.closest}?`}`])
  }
  let config: Config
  try {
    config = loadConfig(env, ['webhook', 'fusionauth'])
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`breach-bridge: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const logger = createLogger(config.logLevel, undefined, { emails: config.logEmails })
  for (const [fields, message] of warnings) logger.warn(fields, message)
  const bridge = await startBridge(config, logger)
  // Long enough for in-flight FusionAuth calls to end (each bounded by FUSIONAUTH_TIMEOUT_MS) and leases
  // to be given back; the worker stops waiting for its calls before this runs out.
  closeWithGrace({ delay: shutdownGraceMs(config), logger }, async ({ err, signal }) => {
    if (err !== undefined) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    await bridge.close()
  })
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main()
}
