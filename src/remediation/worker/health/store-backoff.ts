import type { Logger } from 'pino'
import type { Metrics } from '../../../observability/metrics.js'

/** The longest wait between two looks at a failing store. */
export const MAX_STORE_BACKOFF_MS = 30_000
/** While the store keeps failing, it is said again at most this often. */
const STILL_FAILING_LOG_MS = 60_000

export interface StoreBackoffOptions {
  log: Logger
  metrics: Pick<Metrics, 'storeErrors'>
  /** First wait after a store error; doubles up to MAX_STORE_BACKOFF_MS. */
  firstWaitMs: number
  /** Told when to look for work again (the producer's wake-up). */
  retryIn: (ms: number) => void
}

export interface StoreBackoff {
  /** A store call failed: counted and logged once per outage, the wait before the next look doubles. */
  failed (err: unknown, what: string): void
  /** A store call succeeded: ends the outage, if any. */
  recovered (): void
  /** Epoch ms at which the current outage began; undefined while the store answers. */
  readonly failingSince: number | undefined
}

/** Store errors never end the process: the worker backs off and resumes, and readiness fails meanwhile. */
export function createStoreBackoff ({ log, metrics, firstWaitMs, retryIn }: StoreBackoffOptions): StoreBackoff {
  let outage: { since: number, backoffMs: number, lastLog: number } | undefined

  return {
    failed (err, what) {
      const t = Date.now()
      if (outage === undefined) {
        outage = { since: t, backoffMs: firstWaitMs, lastLog: t }
        metrics.storeErrors.inc()
        log.error({ err }, `store error while ${what}: worker backs off and retries; readiness fails meanwhile`)
      } else {
        outage.backoffMs = Math.min(outage.backoffMs * 2, MAX_STORE_BACKOFF_MS)
        if (t - outage.lastLog >= STILL_FAILING_LOG_MS) {
          outage.lastLog = t
          log.error({ err, failingForSeconds: Math.round((t - outage.since) / 1000) }, `store still failing (${what})`)
        }
      }
      retryIn(outage.backoffMs)
    },
    recovered () {
      if (outage === undefined) return
      log.info({ failedForSeconds: Math.round((Date.now() - outage.since) / 1000) }, 'store answers again: worker resumed')
      outage = undefined
    },
    get failingSince () { return outage?.since }
  }
}
