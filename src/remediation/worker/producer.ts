import type { Logger } from 'pino'
import type { ChangeFeed, Claimed, Lease, WorkQueue } from '../../store/types.js'
import { leaseEnd, type Job } from './job.js'

/** Never sleep past this: a lost wake-up costs at most that. */
const MAX_IDLE_MS = 60_000
/** Work due now that we could not claim is being claimed by another replica: look again after this rather than spin. */
const MIN_RECHECK_MS = 100

export interface ProducerOptions {
  /** This process's lease owner name. */
  owner: string
  /** At most this many alerts run at once (FUSIONAUTH_CONCURRENCY). */
  concurrency: number
  /**
   * Alerts claimed ahead of a free slot (default none): a claim then takes at least this many at once — a store
   * round trip shared by several alerts — and a slot that frees starts the next alert at once, without waiting
   * for a claim. They are this process's under its lease (the heartbeat keeps them) until they run.
   */
  prefetch?: number
  /** How long a claim lasts without renewal. */
  leaseMs: number
  queue: Pick<WorkQueue, 'claim' | 'nextDueIn'>
  changes: ChangeFeed
  log: Logger
  /**
   * Runs one claimed alert. Its slot (one of `concurrency`) is free again when it calls `free` — once the attempt's
   * transition is handed to the store — or when the promise settles; the alert stays held (its lease renewed)
   * until the promise settles.
   */
  execute: (job: Job, free: () => void) => Promise<void>
  /** True while nothing may be claimed (FusionAuth refused the API key). */
  isPaused: () => boolean
  onStoreError: (err: unknown, what: string) => void
  onStoreAnswers: () => void
}

export interface Producer {
  /** From now on claims may run (on `pump`, a wake-up, a change). */
  start (): void
  /** Claims whenever the store's change feed says there may be new due work. */
  listen (): void
  /** Look for due work now (coalesced: a call while claiming claims once more afterwards). */
  pump (): void
  /** Look for due work in `inMs` (an earlier wake-up wins). */
  wake (inMs: number): void
  /** Claims nothing more; in-flight alerts go on. */
  stop (): void
  /** The leases of the alerts this process works on (what the heartbeat renews). */
  held (): Lease[]
  /** The heartbeat extended these alerts' leases with a renewal sent at `sentAt` (performance.now()). */
  renewed (alertIds: readonly string[], sentAt: number): void
  /** A claim is being made: its alerts are leased to us but not known yet. */
  readonly claiming: boolean
  /** Resolves when every in-flight alert has settled, or after `limitMs`, whichever is first. */
  drain (limitMs: number): Promise<void>
  readonly stopping: boolean
  readonly inFlight: number
}

/**
 * The claim loop: claims due alerts under a lease, up to the concurrency bound, hands each to `execute`,
 * and sleeps until the store's change feed, the next due time or a finished alert says to look again
 * (no busy polling).
 *
 * Longer than 80 lines because the jobs, the timer and the pumping flags are one state machine that its few inner
 * functions share; passed around as parameters, the rule "one claim loop at a time" would be harder to see.
 */
export function createProducer (options: ProducerOptions): Producer {
  const { owner, queue, leaseMs } = options
  const prefetch = options.prefetch ?? 0
  /** Every alert started and not settled yet: running (`active` of them hold a slot) or having its transition recorded. */
  const jobs = new Map<string, Job>()
  let active = 0
  /** Claimed ahead (`prefetch`), not running yet, oldest first. */
  const ready: Job[] = []
  const running = new Set<Promise<void>>()
  const timer = createWakeTimer(() => pump())
  let started = false
  let stopping = false
  let pumping = false
  let again = false
  let unsubscribe: (() => void) | undefined

  function pump (): void {
    if (!started || stopping || options.isPaused()) return
    if (pumping) { again = true; return }
    pumping = true
    again = false
    claimDue()
      .catch(err => options.onStoreError(err, 'claiming alerts'))
      .finally(() => {
        pumping = false
        if (again) pump()
      })
  }

  async function claimDue (): Promise<void> {
    for (;;) {
      startReady()
      // Claimed when a slot would otherwise wait, or when a batch of at least `prefetch` is missing from twice
      // `prefetch` ahead: the claim is made while `prefetch` alerts still wait to run, so it may take its time.
      const want = options.concurrency + 2 * prefetch - active - ready.length
      const idleSlot = active < options.concurrency && ready.length === 0
      if (want <= 0 || (!idleSlot && want < prefetch)) return // a finishing alert pumps again
      const sentAt = performance.now()
      const claimed = await queue.claim(owner, want, leaseMs, !idleSlot)
      options.onStoreAnswers()
      for (const c of claimed) accept(c, leaseEnd(sentAt, leaseMs))
      startReady()
      if (claimed.length < want || stopping || options.isPaused()) break
    }
    if (stopping) return
    const dueIn = await queue.nextDueIn()
    if (dueIn !== undefined) timer.wake(Math.min(Math.max(dueIn, MIN_RECHECK_MS), MAX_IDLE_MS))
  }

  function accept ({ alert, lease, planned }: Claimed, validUntil: number): void {
    const mine = jobs.get(alert.id) ?? ready.find(j => j.alert.id === alert.id)
    if (mine !== undefined) {
      // Our own lease ran out while we still work on it (e.g. the clock jumped) and we claimed it again:
      // carry on under the new token rather than run it twice.
      mine.lease = lease
      mine.validUntil = validUntil
      return
    }
    ready.push({ alert, lease, planned, validUntil })
  }

  /**
   * Runs claimed alerts while slots are free, with at most twice `concurrency` alerts in flight — running, or waiting
   * for their transition to be recorded: a failing store, whose calls are retried for up to a lease, does not let
   * finished alerts pile up, and with one slot the next alert runs while the last one's transition waits.
   */
  function startReady (): void {
    if (stopping) return
    while (ready.length > 0 && active < options.concurrency && jobs.size < 2 * options.concurrency) begin(ready.shift()!)
  }

  function begin (job: Job): void {
    const { alert } = job
    jobs.set(alert.id, job)
    active++
    let holding = true
    /** Gives the slot back (once), then looks for the next alert: called by the executor, and when the alert settles. */
    const free = (): void => {
      if (holding) { holding = false; active-- }
      startReady()
      pump()
    }
    const p = options.execute(job, free)
      .catch(err => options.log.error({ err, alertId: alert.id }, 'unexpected error in the worker'))
      .finally(() => {
        jobs.delete(alert.id)
        running.delete(p)
        free()
      })
    running.add(p)
  }

  return {
    start () { started = true },
    listen () { unsubscribe = options.changes.subscribe(() => pump()) },
    pump,
    wake: timer.wake,
    stop () {
      stopping = true
      unsubscribe?.()
      timer.cancel()
    },
    async drain (limitMs) {
      const limit = new Promise<void>(resolve => setTimeout(resolve, limitMs).unref())
      await Promise.race([Promise.allSettled([...running]), limit])
    },
    held: () => [...jobs.values(), ...ready].map(j => j.lease),
    renewed (alertIds, sentAt) {
      for (const id of alertIds) {
        const job = jobs.get(id) ?? ready.find(j => j.alert.id === id)
        if (job !== undefined) job.validUntil = Math.max(job.validUntil, leaseEnd(sentAt, leaseMs))
      }
    },
    get claiming () { return pumping },
    get stopping () { return stopping },
    get inFlight () { return jobs.size }
  }
}

/** One timer for "look for work at": an earlier wake-up replaces a later one, a later one is ignored. */
function createWakeTimer (onWake: () => void): { wake (inMs: number): void, cancel (): void } {
  let timer: NodeJS.Timeout | undefined
  let wakeAt = Infinity
  return {
    wake (inMs) {
      const at = Date.now() + Math.max(0, inMs)
      if (timer !== undefined && at >= wakeAt) return
      if (timer !== undefined) clearTimeout(timer)
      wakeAt = at
      timer = setTimeout(() => { timer = undefined; wakeAt = Infinity; onWake() }, Math.max(0, inMs))
      timer.unref()
    },
    cancel () {
      if (timer !== undefined) clearTimeout(timer)
    }
  }
}
