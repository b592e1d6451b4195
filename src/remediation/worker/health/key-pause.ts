import type { Logger } from 'pino'
import { logEvent } from '../../../observability/events.js'
import type { Metrics } from '../../../observability/metrics.js'
import { FusionAuthError, type FusionAuthGateway } from '../../../fusionauth/index.js'

export interface KeyPauseOptions {
  gateway: Pick<FusionAuthGateway, 'probe'>
  log: Logger
  metrics: Pick<Metrics, 'workerPaused'>
  /** While paused: how often to try the key, and how often to say in the log that it still fails. */
  probeIntervalMs: number
  pausedLogIntervalMs: number
  /** Told once when the worker pauses (the operator digest). */
  onPaused: (reason: string) => void
  /** The key works again: look for work. */
  onResumed: () => void
}

export interface KeyPause {
  readonly paused: boolean
  /** FusionAuth refused the API key (401/403). Idempotent while paused. */
  pause (failure: FusionAuthError): void
  /** Stops probing (shutdown). */
  stop (): void
}

/**
 * A refused API key pauses the whole worker rather than burning every alert's retries on it. A probe tries
 * the key at intervals and resumes the worker when FusionAuth accepts it again.
 */
export function createKeyPause (options: KeyPauseOptions): KeyPause {
  const { gateway, log, metrics, probeIntervalMs, pausedLogIntervalMs } = options
  let paused = false
  let probeTimer: NodeJS.Timeout | undefined
  let lastPausedLog = 0

  async function probe (): Promise<void> {
    try {
      await gateway.probe()
    } catch (err) {
      if (Date.now() - lastPausedLog >= pausedLogIntervalMs) {
        lastPausedLog = Date.now()
        // The expected case (FusionAuth still refusing, or not answering) is its reason, without a stack.
        log.error(err instanceof FusionAuthError ? { reason: err.message, httpStatus: err.status } : { err }, 'still paused: FusionAuth refuses the API key')
      }
      return
    }
    paused = false
    metrics.workerPaused.set(0)
    if (probeTimer !== undefined) clearInterval(probeTimer)
    probeTimer = undefined
    logEvent(log, 'worker.resumed', {}, 'FusionAuth accepts the API key again: worker resumed')
    options.onResumed()
  }

  return {
    get paused () { return paused },
    pause (failure) {
      if (paused) return
      paused = true
      metrics.workerPaused.set(1)
      lastPausedLog = Date.now()
      options.onPaused(failure.message)
      logEvent(log, 'worker.paused', { reason: failure.message }, `FusionAuth refused the API key: worker paused, alerts stay queued; probing every ${Math.round(probeIntervalMs / 1000)} s`)
      // One probe at a time: a FusionAuth slower than the interval (or hanging until the time-out) must not pile
      // probes up in the gateway's queue, where the one that would see the key work again waits behind them.
      let probing = false
      probeTimer = setInterval(() => {
        if (probing) return
        probing = true
        probe().catch(() => undefined).finally(() => { probing = false })
      }, probeIntervalMs)
      probeTimer.unref()
    },
    stop () {
      if (probeTimer !== undefined) clearInterval(probeTimer)
    }
  }
}
