import type { Logger } from 'pino'
import type { AlertRecord, ExposureDetails } from '../alerts/types.js'
import type { Store } from '../store/types.js'
import { createEnzoicClient } from './client.js'

/** Enzoic allows caching exposure details for about 30 days. */
export const EXPOSURE_CACHE_MS = 30 * 86_400_000

/**
 * Exposure details for alerts that arrived without them: from the store's cache, else from Enzoic's
 * Exposure Details API (one short attempt, no retries — remediation never waits long for it). Any
 * failure yields undefined.
 */
export interface ExposureLookup {
  lookup (alert: AlertRecord): Promise<ExposureDetails | undefined>
  close (): Promise<void>
}

/** Where Enzoic's API is and the credentials to call it (ENZOIC_API_URL, ENZOIC_API_KEY, ENZOIC_API_SECRET). */
export interface EnzoicApiSettings { baseUrl: string, apiKey: string, apiSecret: string }

export function createExposureLookup (settings: EnzoicApiSettings, store: Store, logger: Logger, timeoutMs = 3000): ExposureLookup {
  const api = createEnzoicClient({ ...settings, timeoutMs, retries: 0 })
  const inFlight = new Map<string, Promise<ExposureDetails | undefined>>()
  async function lookup (alert: AlertRecord): Promise<ExposureDetails | undefined> {
    const id = alert.exposureId
    if (id === undefined) return undefined
    const cached = await store.exposures.get(id, EXPOSURE_CACHE_MS).catch(() => undefined)
    if (cached !== undefined) return cached
    // Alerts of one breach arrive together: one request serves them all.
    let p = inFlight.get(id)
    if (p === undefined) {
      p = api.exposureDetails(id).then(details => {
        if (details !== undefined) store.exposures.put(id, details).catch(() => undefined)
        return details
      }, err => {
        logger.warn({ err, exposureId: id }, 'exposure details unavailable; remediating without them')
        return undefined
      }).finally(() => inFlight.delete(id))
      inFlight.set(id, p)
    }
    return p
  }
  return { lookup, close: () => api.close() }
}
