/** Distinct reasons logged (and counted by name) per interval; addresses counted per interval. Beyond: `other`. */
const MAX_REASONS = 16
const MAX_ADDRESSES = 256
const TOP_ADDRESSES = 5

export interface RefusalLog {
  /** One refused request: logged at once when it is the first with its reason in the interval, else counted. */
  refused (reason: string, address: string | undefined, message: string): void
  /** Reports what is counted and not yet logged (at shutdown). */
  close (): void
}

const bump = (m: Map<string, number>, key: string, max: number): void => {
  const k = m.has(key) || m.size < max ? key : 'other'
  m.set(k, (m.get(k) ?? 0) + 1)
}

/**
 * Refusals of unauthenticated callers, summarised: a scanner or a misconfigured sender can send thousands a
 * minute, and a line or two for each would fill the disk and push real events out of journald's rate limit.
 * The first refusal of each reason in an interval is logged at once (what, and from where); the rest are
 * counted, and at the end of the interval one warning reports them all (`refused`, `byReason`, the busiest
 * `addresses`). Memory is bounded whatever arrives.
 */
export function createRefusalLog (logger: { warn (fields: object, message: string): void }, everyMs: number, summary: string): RefusalLog {
  let timer: NodeJS.Timeout | undefined
  let total = 0
  let unlogged = 0
  const logged = new Set<string>()
  const byReason = new Map<string, number>()
  const byAddress = new Map<string, number>()

  function report (): void {
    timer = undefined
    if (unlogged > 0) {
      const addresses = Object.fromEntries([...byAddress].sort((a, b) => b[1] - a[1]).slice(0, TOP_ADDRESSES))
      logger.warn({ refused: total, notLoggedOneByOne: unlogged, byReason: Object.fromEntries(byReason), addresses, seconds: everyMs / 1000 }, summary)
    }
    total = 0
    unlogged = 0
    logged.clear()
    byReason.clear()
    byAddress.clear()
  }

  return {
    refused (reason, address, message) {
      total++
      bump(byReason, reason, MAX_REASONS)
      if (address !== undefined) bump(byAddress, address, MAX_ADDRESSES)
      if (!logged.has(reason) && logged.size < MAX_REASONS) {
        logged.add(reason)
        logger.warn({ address, reason }, message)
      } else {
        unlogged++
      }
      if (timer === undefined) {
        timer = setTimeout(report, everyMs)
        timer.unref()
      }
    },
    close () {
      if (timer !== undefined) clearTimeout(timer)
      report()
    }
  }
}
