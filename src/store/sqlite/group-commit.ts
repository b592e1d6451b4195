import { StoreDataError, StoreUnavailableError } from '../types.js'
import type { Committer, CommitterEvents } from './committers.js'
import { inNoHurry, needsSync, type WriteName, type WriteOf, type WriteOp, type WriterReply, type WriteResult } from './operations.js'

/**
 * A batch of the worker's bookkeeping alone (no fsync: operations.ts) waits up to this long for a write that
 * needs the fsync — a step's marker, a webhook insert — and shares its transaction (issue 19: writer transactions
 * per alert).
 */
export const BOOKKEEPING_WAIT_MS = 1
/**
 * Bookkeeping that no caller waits on to go on with its work (`inNoHurry`: an attempt's transition once its slot is
 * free, a heartbeat, a claim made ahead of need) waits up to this long: under load the next marker comes within a
 * few milliseconds, and the transition, the claim and the marker share one transaction.
 */
export const NO_HURRY_WAIT_MS = 20

/** How long bookkeeping may wait for company (tests lengthen them to tell the two apart without timing anything). */
export interface BookkeepingWaits { bookkeepingMs: number, noHurryMs: number }
const WAITS: BookkeepingWaits = { bookkeepingMs: BOOKKEEPING_WAIT_MS, noHurryMs: NO_HURRY_WAIT_MS }

export interface GroupCommitOptions {
  /** The store's clock: each batch runs at one instant, taken as it is sent. */
  now: () => number
  /** Starts the committer (writer thread or inline) that reports to these events. */
  committer: (events: CommitterEvents) => Committer
  /** After each commit that stored alerts: how many, and how long it took (metrics). */
  onCommit?: (inserts: number, seconds: number) => void
  /** After a commit that left work due now. */
  onWake: () => void
  waits?: BookkeepingWaits
}

export interface GroupCommit {
  /** Joins the next batch; resolves with the write's result after that batch committed. */
  write<K extends WriteName> (op: WriteOf<K>): Promise<WriteResult<K>>
  /** Puts a write first in the next batch, whatever its outcome (the clock's shift of due times). */
  writeFirst (op: WriteOp): void
  /** After the next batch commits (an empty one if none is waiting), a TRUNCATE checkpoint: true when the WAL is empty. */
  checkpoint (): Promise<boolean>
  /** Refuses new writes, answers every write already accepted (commit or error), then closes the committer. */
  close (): Promise<void>
}

interface Pending {
  op: WriteOp
  resolve: (value: any) => void
  reject: (e: Error) => void
}

/**
 * Group commit: one batch in flight on the committer; the writes that arrive meanwhile (and before the
 * event loop's check phase) gather into the next one, which shares one transaction and one fsync. Each
 * caller is answered only after its batch committed.
 *
 * Longer than 80 lines because the pending batch, the one in flight and their settling share three variables that
 * must change together; split into functions that pass them around, the invariant would be harder to see.
 */
export function createGroupCommit (options: GroupCommitOptions): GroupCommit {
  let pending: Pending[] = []
  let inFlight: Pending[] | undefined
  /** Who waits for a checkpoint after the next batch, and after the batch in flight. */
  let checkpoints: Array<Omit<Pending, 'op'>> = []
  let checkpointsInFlight: Array<Omit<Pending, 'op'>> = []
  let scheduled = false
  /** The pending batch goes by then at the latest (performance.now()): the earliest its writes may wait until. */
  let sendBy = Infinity
  let timer: NodeJS.Timeout | undefined
  let timerAt = Infinity
  let seq = 0
  let closed = false
  let drained: (() => void) | undefined

  const committer = options.committer({ settle, fail, inFlight: () => inFlight !== undefined })
  const waits = options.waits ?? WAITS
  /** How long a write may wait in the pending batch for company (0: it goes on the next turn). */
  const holdFor = (op: WriteOp): number => needsSync(op) ? 0 : inNoHurry(op) ? waits.noHurryMs : waits.bookkeepingMs

  function send (due = false): void {
    scheduled = false
    if (inFlight !== undefined || (pending.length === 0 && checkpoints.length === 0)) { checkDrained(); return }
    // Waits for company while every write in it may (no checkpoint owed, not closing) and its time has not come.
    const wait = !closed && checkpoints.length === 0 && !due && performance.now() < sendBy && pending.every(p => holdFor(p.op) > 0)
    if (wait) { arm(); return }
    if (timer !== undefined) { clearTimeout(timer); timer = undefined; timerAt = Infinity }
    sendBy = Infinity
    const at = options.now() // before the batch is taken: a clock jump it notices joins this batch, first
    inFlight = pending
    pending = []
    checkpointsInFlight = checkpoints
    checkpoints = []
    committer.send({ seq: ++seq, at, ops: inFlight.map(p => p.op), checkpoint: checkpointsInFlight.length > 0 || undefined })
  }

  /** A write joined the pending batch: it goes on the next turn, or waits with it for company until `sendBy`. */
  function hold (op: WriteOp): void {
    const wait = holdFor(op)
    if (wait === 0) { schedule(); return }
    sendBy = Math.min(sendBy, performance.now() + wait)
    arm()
  }

  /** A timer for `sendBy` (none while a batch is in flight: its settling looks again). */
  function arm (): void {
    if (inFlight !== undefined || timerAt <= sendBy) return
    if (timer !== undefined) clearTimeout(timer)
    timerAt = sendBy
    timer = setTimeout(() => { timer = undefined; timerAt = Infinity; send(true) }, Math.max(0, sendBy - performance.now()))
  }

  function schedule (): void {
    if (scheduled) return
    scheduled = true
    // Everything that arrives before the event loop's check phase joins this batch.
    setImmediate(send)
  }

  function settle (reply: WriterReply): void {
    const batch = inFlight
    inFlight = undefined
    if (batch === undefined || reply.seq !== seq) return
    const waiting = checkpointsInFlight
    checkpointsInFlight = []
    if ('error' in reply) {
      const e = new StoreUnavailableError(new Error(reply.error))
      for (const p of [...batch, ...waiting]) p.reject(e)
    } else {
      for (const w of waiting) w.resolve(reply.truncated === true)
      const outcome = reply.outcome
      if (outcome.inserts > 0) options.onCommit?.(outcome.inserts, reply.seconds)
      batch.forEach((p, i) => {
        const res = outcome.results[i]!
        if (res.ok) p.resolve(res.value)
        else p.reject(res.data === true ? new StoreDataError(res.error) : new StoreUnavailableError(new Error(res.error)))
      })
      if (outcome.wake) options.onWake()
    }
    send()
  }

  function fail (err: Error): void {
    const e = new StoreUnavailableError(err)
    for (const p of [...(inFlight ?? []), ...pending, ...checkpointsInFlight, ...checkpoints]) p.reject(e)
    inFlight = undefined
    pending = []
    checkpointsInFlight = []
    checkpoints = []
    checkDrained()
  }

  function checkDrained (): void {
    if (drained !== undefined && inFlight === undefined && pending.length === 0 && checkpoints.length === 0) drained()
  }

  return {
    write<K extends WriteName> (op: WriteOf<K>): Promise<WriteResult<K>> {
      if (closed) return Promise.reject(new StoreUnavailableError(new Error('store closed')))
      return new Promise<WriteResult<K>>((resolve, reject) => {
        pending.push({ op: op as WriteOp, resolve, reject })
        hold(op as WriteOp)
      })
    },
    checkpoint () {
      if (closed) return Promise.reject(new StoreUnavailableError(new Error('store closed')))
      return new Promise<boolean>((resolve, reject) => {
        checkpoints.push({ resolve, reject })
        schedule()
      })
    },
    writeFirst (op) {
      pending.unshift({ op, resolve: () => undefined, reject: () => undefined })
      schedule()
    },
    async close () {
      closed = true
      if (inFlight !== undefined || pending.length > 0 || checkpoints.length > 0) {
        await new Promise<void>(resolve => { drained = resolve; if (!scheduled) send() })
      }
      await committer.close()
    }
  }
}
