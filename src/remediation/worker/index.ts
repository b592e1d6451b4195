import type { Logger } from 'pino'
import type { Metrics } from '../../observability/metrics.js'
import type { Store } from '../../store/types.js'
import type { FusionAuthGateway } from '../../fusionauth/index.js'
import { createCompleter } from './completer.js'
import { createExecutor, type RemediationContext } from './executor.js'
import { createHealth, type Health } from './health/index.js'
import { createProducer, type Producer } from './producer.js'
import { createRescuer, type Rescuer } from './rescuer.js'
import { processOwner } from '../../process-owner.js'

export { retryDelay } from './retry.js'
export type { RemediationContext }

export interface WorkerOptions {
  store: Store
  gateway: FusionAuthGateway
  logger: Logger
  metrics: Metrics
  /** FUSIONAUTH_CONCURRENCY: alerts processed at once. */
  concurrency: number
  /** How long a claim lasts without renewal; a holder that dies loses its alerts after this. */
  leaseMs: number
  /** BRIDGE_RETRY_SCHEDULE: the wait before each retry. */
  retrySchedule: readonly number[]
  /** FUSIONAUTH_TIMEOUT_MS: every in-flight call ends within it, so stop waits for them this long (plus 2 s). */
  fusionAuthTimeoutMs: number
  /** What the `worker started` line says about the configuration. */
  describe: { actions: readonly string[], dryRun: boolean }
  /** Passed untouched to remediate() for every alert. */
  remediation: RemediationContext
  /** 0..1 source for jitter (tests pin it). */
  random?: () => number
  /** While paused on 401/403: how often to probe the key, and how often to say so in the log. */
  probeIntervalMs?: number
  pausedLogIntervalMs?: number
  /** Readiness caches FusionAuth's answer this long. */
  readinessCacheMs?: number
  /** First wait after a store error (doubles up to 30 s). */
  storeRetryMs?: number
  /** While FusionAuth is failing (network errors, 5xx): how often to check whether it answers again. */
  recoveryProbeMs?: number
  /** Told at once when an alert dies or the worker pauses (the operator digest). */
  notify?: { dead (alertId: string, reason: string): void, paused (reason: string): void, resumed? (): void }
}

export interface Worker {
  /** Unique per process and host: `host/pid/random`. */
  readonly owner: string
  start (): Promise<void>
  /** Stops claiming, waits for in-flight alerts (bounded by the FusionAuth time-out), releases leases. */
  stop (): Promise<void>
  readonly paused: boolean
  readonly inFlight: number
  /** Rejects while paused, while the store fails, or when FusionAuth does not answer with a valid key. */
  readiness (): Promise<void>
  /** Look for due work now. */
  kick (): void
}

/** Past the FusionAuth time-out, stop waits this much longer for in-flight alerts to record their results. */
const STOP_MARGIN_MS = 2000

/**
 * At-least-once processing of stored alerts, in the parts riverqueue/river has: the producer claims due
 * alerts under a fenced lease, the executor runs each, the completer records the result, the rescuer looks
 * after leases, and health pauses, backs off and answers readiness. Store errors never end the process.
 */
export function createWorker (options: WorkerOptions): Worker {
  const { store, leaseMs } = options
  const owner = processOwner()
  const log = options.logger.child({ component: 'worker' })
  const storeRetryMs = options.storeRetryMs ?? 1000
  // The parts reach each other through these closures; `producer` is built last, once the rest exists.
  const health = createHealth({
    gateway: options.gateway,
    queue: store.queue,
    log,
    metrics: options.metrics,
    probeIntervalMs: options.probeIntervalMs ?? 30_000,
    pausedLogIntervalMs: options.pausedLogIntervalMs ?? 60_000,
    readinessCacheMs: options.readinessCacheMs ?? 5000,
    storeRetryMs,
    recoveryProbeMs: options.recoveryProbeMs ?? 5000,
    onPaused: reason => options.notify?.paused(reason),
    onResumed: () => options.notify?.resumed?.(),
    wakeIn: ms => producer.wake(ms),
    resume: () => producer.pump()
  })
  const storeHealth = { failed: health.storeFailed, recovered: health.storeRecovered }
  const completer = createCompleter({
    queue: store.queue,
    log,
    metrics: options.metrics,
    leaseMs,
    storeRetryMs,
    storeHealth,
    isStopping: () => producer.stopping,
    onDead: (alertId, reason) => options.notify?.dead(alertId, reason)
  })
  const executor = createExecutor({
    remediation: options.remediation,
    retrySchedule: options.retrySchedule,
    random: options.random ?? Math.random,
    log,
    metrics: options.metrics,
    completer,
    health
  })
  const producer = createProducer({
    owner,
    concurrency: options.concurrency,
    // Claims of a quarter of the slots, made ahead (twice that kept ready): a claim serves several alerts, no slot waits for one.
    prefetch: Math.ceil(options.concurrency / 4),
    leaseMs,
    queue: store.queue,
    changes: store.changes,
    log,
    execute: (job, free) => executor.execute(job, free),
    isPaused: () => health.paused,
    onStoreError: storeHealth.failed,
    onStoreAnswers: storeHealth.recovered
  })
  const rescuer = createRescuer({
    owner,
    leaseMs,
    queue: store.queue,
    log,
    held: () => producer.held(),
    claiming: () => producer.claiming,
    renewed: (ids, sentAt) => producer.renewed(ids, sentAt),
    onStoreError: storeHealth.failed
  })
  return lifecycle({ owner, log, options, health, producer, rescuer })
}

interface Parts {
  owner: string
  log: Logger
  options: WorkerOptions
  health: Health
  producer: Producer
  rescuer: Rescuer
}

/** The public face: start and stop the parts in order. */
function lifecycle ({ owner, log, options, health, producer, rescuer }: Parts): Worker {
  let started = false
  return {
    owner,
    async start () {
      if (started) return
      started = true
      producer.start()
      await rescuer.releaseOrphanedLeases()
      producer.listen()
      rescuer.startHeartbeat()
      const { actions, dryRun } = options.describe
      log.info({ owner, concurrency: options.concurrency, leaseSeconds: options.leaseMs / 1000, actions, dryRun }, 'worker started')
      producer.pump()
    },
    async stop () {
      producer.stop()
      rescuer.stopHeartbeat()
      health.stop()
      // In-flight calls end within their time-out; past that the leases are given back regardless (the
      // shutdown grace is derived from the same time-out) and the next holder repeats the idempotent work.
      await producer.drain(options.fusionAuthTimeoutMs + STOP_MARGIN_MS)
      await rescuer.releaseAtShutdown()
    },
    get paused () { return health.paused },
    get inFlight () { return producer.inFlight },
    readiness: () => health.readiness(),
    kick () { producer.pump() }
  }
}
