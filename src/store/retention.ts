import type { Logger } from 'pino'
import type { Store } from './types.js'

export interface RetentionOptions {
  store: Store
  /** BRIDGE_RETENTION: finished alerts keep their personal data this long. */
  retentionMs: number
  logger: Logger
  /** How often the task runs (every replica runs it: purges skip what another one holds). */
  everyMs?: number
  /** Before the first run, so a starting process answers webhooks first. */
  firstAfterMs?: number
}

/**
 * The retention task (docs/design.md §11): removes the personal data of alerts finished more than
 * BRIDGE_RETENTION ago, leaving tombstones, so a late re-delivery stays a duplicate. Errors are logged and
 * the next run tries again.
 */
export function startRetention (options: RetentionOptions): { stop (): void, runOnce (): Promise<number> } {
  const log = options.logger.child({ component: 'retention' })
  let running: Promise<number> | undefined
  async function runOnce (): Promise<number> {
    running ??= options.store.alerts.purge({ olderThanMs: options.retentionMs }).then(({ purged, walTruncated }) => {
      if (purged > 0) log.info({ purged, retentionDays: Math.round(options.retentionMs / 86_400_000) }, 'personal data of finished alerts removed (tombstones kept)')
      if (walTruncated === false) log.warn({ purged }, 'the SQLite WAL could not be emptied (another process held an older snapshot): earlier versions of purged rows stay in it until the next run')
      return purged
    }, err => {
      log.warn({ err }, 'retention purge failed; the next run tries again')
      return 0
    }).finally(() => { running = undefined })
    return running
  }
  const first = setTimeout(() => { runOnce().catch(() => undefined) }, options.firstAfterMs ?? 60_000)
  const every = setInterval(() => { runOnce().catch(() => undefined) }, options.everyMs ?? 3_600_000)
  first.unref()
  every.unref()
  return {
    stop () { clearTimeout(first); clearInterval(every) },
    runOnce
  }
}
