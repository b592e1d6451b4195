/**
 * `queue.takeover` when its update changed no row: `busy` when the alert exists (a worker holds it under a
 * live lease — or it was purged, and nothing may take it over), undefined when there is no such alert.
 */
export function refusedTakeover (alertExists: boolean): 'busy' | undefined {
  return alertExists ? 'busy' : undefined
}
