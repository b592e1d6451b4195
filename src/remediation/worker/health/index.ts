import type { Logger } from 'pino'
import type { Metrics } from '../../../observability/metrics.js'
import type { WorkQueue } from '../../../store/types.js'
import type { FusionAuthError, FusionAuthGateway } from '../../../fusionauth/index.js'
import { createKeyPause } from './key-pause.js'
import { createOutageWatch } from './outage.js'
import { createReadinessCheck } from './readiness.js'
import { createStoreBackoff } from './store-backoff.js'

export interface HealthOptions {
  gateway: Pick<FusionAuthGateway, 'probe'>
  queue: Pick<WorkQueue, 'expedite'>
  log: Logger
  metrics: Pick<Metrics, 'workerPaused' | 'storeErrors'>
  /** While paused on 401/403: how often to probe the key, and how often to say so in the log. */
  probeIntervalMs: number
  pausedLogIntervalMs: number
  /** Readiness caches FusionAuth's answer this long. */
  readinessCacheMs: number
  /** First wait after a store error (doubles up to 30 s). */
  storeRetryMs: number
  /** While FusionAuth is failing (network errors, 5xx): how often to check whether it answers again. */
  recoveryProbeMs: number
  /** Told once when the worker pauses (the operator digest). */
  onPaused: (reason: string) => void
  /** Told when the key works again after a pause (the operator digest). */
  onResumed?: () => void
  /** Look for work in `ms` (after a store error). */
  wakeIn: (ms: number) => void
  /** Look for work now (the API key works again). */
  resume: () => void
}

/** What the other parts of the worker report to health, and what they ask of it. */
export interface Health {
  /** True while FusionAuth refuses the API key: nothing is claimed. */
  readonly paused: boolean
  pause (failure: FusionAuthError): void
  fusionAuthFails (): void
  fusionAuthAnswers (): void
  storeFailed (err: unknown, what: string): void
  storeRecovered (): void
  readiness (): Promise<void>
  /** Stops the probes' timers (shutdown). */
  stop (): void
}

/** The worker's view of its dependencies: a refused key, FusionAuth down, the store failing, and readiness from all three. */
export function createHealth (options: HealthOptions): Health {
  const { gateway, log } = options
  const storeBackoff = createStoreBackoff({ log, metrics: options.metrics, firstWaitMs: options.storeRetryMs, retryIn: options.wakeIn })
  const outage = createOutageWatch({ gateway, queue: options.queue, log, recoveryProbeMs: options.recoveryProbeMs, onStoreError: storeBackoff.failed })
  const key = createKeyPause({
    gateway,
    log,
    metrics: options.metrics,
    probeIntervalMs: options.probeIntervalMs,
    pausedLogIntervalMs: options.pausedLogIntervalMs,
    onPaused: options.onPaused,
    onResumed: () => {
      readiness.forget()
      options.resume()
      options.onResumed?.()
    }
  })
  const readiness = createReadinessCheck({
    gateway,
    cacheMs: options.readinessCacheMs,
    paused: () => key.paused,
    storeFailingSince: () => storeBackoff.failingSince,
    onAnswer: outage.answers
  })
  return {
    get paused () { return key.paused },
    pause: key.pause,
    fusionAuthFails: outage.fails,
    fusionAuthAnswers: outage.answers,
    storeFailed: storeBackoff.failed,
    storeRecovered: storeBackoff.recovered,
    readiness: readiness.check,
    stop () {
      key.stop()
      outage.stop()
    }
  }
}
