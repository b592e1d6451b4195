import type { Logger } from 'pino'
import type { Lease, WorkQueue } from '../../store/types.js'
import { ownerIsGone } from '../../process-owner.js'

/** The heartbeat never beats faster than this, whatever the lease. */
const MIN_HEARTBEAT_MS = 50

export interface RescuerOptions {
  /** This process's lease owner name: `host/pid/random`. */
  owner: string
  leaseMs: number
  queue: Pick<WorkQueue, 'leaseOwners' | 'releaseAll' | 'renew'>
  log: Logger
  /** The leases of the alerts this process works on (what the heartbeat renews). */
  held: () => Lease[]
  /** A claim is under way (its alerts are ours but not known yet: not released as strays). */
  claiming: () => boolean
  /** The renewal sent at `sentAt` (performance.now()) extended these alerts' leases. */
  renewed: (alertIds: string[], sentAt: number) => void
  onStoreError: (err: unknown, what: string) => void
}

export interface Rescuer {
  /** Frees the leases of bridge processes on this host that are gone; store errors go to onStoreError. */
  releaseOrphanedLeases (): Promise<void>
  /** Renews this process's leases every third of a lease while it holds any. */
  startHeartbeat (): void
  stopHeartbeat (): void
  /** Gives back this process's leases at shutdown, the attempts not counted. Never rejects. */
  releaseAtShutdown (): Promise<void>
}

/** Leases over their whole life: taken back from dead processes at start, kept alive while working, given back at the end. */
export function createRescuer (options: RescuerOptions): Rescuer {
  const { owner, leaseMs, queue, log } = options
  let heartbeat: NodeJS.Timeout | undefined

  /**
   * Leases held by an earlier bridge process on this host that no longer runs are freed at once, not at
   * expiry: one with our own pid (a restart in a container, PID 1 again) is certainly gone, another pid is
   * checked. Leases held on other hosts are never judged from here: they expire by the database's clock.
   */
  async function releaseOrphaned (): Promise<void> {
    for (const other of await queue.leaseOwners()) {
      if (!ownerIsGone(other, owner)) continue
      const n = await queue.releaseAll(other, `released: lease holder ${other} is gone`, false)
      if (n > 0) log.warn({ previousOwner: other, alerts: n }, 'took back alerts leased by a bridge process that died')
    }
  }

  return {
    async releaseOrphanedLeases () {
      try {
        await releaseOrphaned()
      } catch (err) {
        options.onStoreError(err, 'looking for orphaned leases')
      }
    },
    startHeartbeat () {
      heartbeat = setInterval(() => {
        // Only the leases this process holds (alert and token): a claim that committed after this process gave
        // up waiting for it is given back, never kept alive by a renewal of "everything of this owner".
        const held = options.held()
        const claiming = options.claiming()
        if (held.length === 0 && claiming) return
        const sentAt = performance.now()
        queue.renew(owner, leaseMs, held, !claiming).then(ids => options.renewed(ids, sentAt), err => options.onStoreError(err, 'renewing leases'))
      }, Math.max(MIN_HEARTBEAT_MS, Math.floor(leaseMs / 3)))
      heartbeat.unref()
    },
    stopHeartbeat () {
      if (heartbeat !== undefined) clearInterval(heartbeat)
    },
    async releaseAtShutdown () {
      try {
        const released = await queue.releaseAll(owner, 'released at shutdown', true)
        if (released > 0) log.info({ released }, 'leases released')
      } catch (err) {
        log.warn({ err }, 'could not release leases at shutdown: they expire by themselves')
      }
    }
  }
}
