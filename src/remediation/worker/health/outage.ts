import type { Logger } from 'pino'
import type { WorkQueue } from '../../../store/types.js'
import type { FusionAuthGateway } from '../../../fusionauth/index.js'

export interface OutageWatchOptions {
  gateway: Pick<FusionAuthGateway, 'probe'>
  queue: Pick<WorkQueue, 'expedite'>
  log: Logger
  /** While FusionAuth is failing: how often to check whether it answers again. */
  recoveryProbeMs: number
  onStoreError: (err: unknown, what: string) => void
}

export interface OutageWatch {
  /** A call failed in a way that says FusionAuth is down (network, time-out, 5xx; not a 429). */
  fails (): void
  /** FusionAuth answered a call: ends the outage, if any. */
  answers (): void
  /** Stops the recovery probe (shutdown). */
  stop (): void
}

/**
 * FusionAuth failing: alerts back off along the retry schedule. Meanwhile a light probe looks for its
 * return, so alerts do not sit out a long back-off step once it answers again.
 */
export function createOutageWatch ({ gateway, queue, log, recoveryProbeMs, onStoreError }: OutageWatchOptions): OutageWatch {
  let down: { since: number, timer: NodeJS.Timeout } | undefined

  function answers (): void {
    if (down === undefined) return
    const { since, timer } = down
    clearInterval(timer)
    down = undefined
    // Every alert waiting for a retry is due now, not at the end of its back-off.
    queue.expedite().then(n => {
      log.info({ alerts: n, downForSeconds: Math.round((Date.now() - since) / 1000) }, 'FusionAuth answers again: alerts waiting for a retry are due now')
    }, err => onStoreError(err, 'bringing retries forward'))
  }

  return {
    fails () {
      if (down !== undefined) return
      let probing = false // one probe at a time (key-pause.ts says why)
      const timer = setInterval(() => {
        if (probing) return
        probing = true
        gateway.probe().then(answers, () => undefined).finally(() => { probing = false })
      }, recoveryProbeMs)
      timer.unref()
      down = { since: Date.now(), timer }
    },
    answers,
    stop () {
      if (down !== undefined) clearInterval(down.timer)
    }
  }
}
