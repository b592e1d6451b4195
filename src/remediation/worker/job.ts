import type { AlertRecord } from '../../alerts/types.js'
import type { Lease } from '../../store/types.js'

/** One claimed alert while this process works on it: made by the producer, run by the executor, recorded by the completer. */
export interface Job {
  readonly alert: AlertRecord
  /** Its steps were planned by an earlier attempt (false: nothing to read back). */
  readonly planned: boolean
  /** Replaced when our own expired lease comes back to us in a claim (a clock jump): the newest token wins. */
  lease: Lease
  /**
   * Until when (performance.now(), a monotonic clock that keeps counting while the process is stopped) this
   * process may act under the lease: from the moment the claim or the last renewal that extended it was sent,
   * the lease's length less a margin. Past it no FusionAuth call is started.
   */
  validUntil: number
}

/** The share of a lease kept as margin: a call is not started in the last tenth of a lease this process cannot be sure of. */
export const LEASE_MARGIN = 0.1

export const leaseEnd = (sentAt: number, leaseMs: number): number => sentAt + leaseMs * (1 - LEASE_MARGIN)
