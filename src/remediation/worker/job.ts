import type { AlertRecord } from '../../alerts/types.js'
import type { Lease } from '../../store/types.js'

/** One claimed alert while this process works on it: made by the producer, run by the executor, recorded by the completer. */
export interface Job {
  readonly alert: AlertRecord
  /** Its steps were planned by an earlier attempt (false: nothing to read back). */
  readonly planned: boolean
  /** Replaced when our own expired lease comes back to us in a claim (a clock jump): the newest token wins. */
  lease: Lease
}
