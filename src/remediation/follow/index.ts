import type { Logger } from 'pino'
import { OUTBOX_KINDS, type EnrolmentChange, type PasswordChanged } from '../../alerts/fusionauth-events.js'
import type { EnzoicApi } from '../../enzoic/client.js'
import type { FusionAuthGateway } from '../../fusionauth/index.js'
import { logEvent } from '../../observability/events.js'
import type { Metrics } from '../../observability/metrics.js'
import { ownerIsGone } from '../../process-owner.js'
import type { OutboxItem, Store } from '../../store/types.js'
import { CaseBusy, closeCases } from './cases.js'
import { followEnrolment } from './enrolment.js'

/**
 * The follower (docs/design.md §13): acts on the FusionAuth events the receiver stored, after FusionAuth has its
 * answer — a password change closes that user's cases, a user change makes Enzoic's enrolment follow. Each event
 * is an outbox message: claimed under a lease, done at least once, kept and retried (with back-off) while the store,
 * FusionAuth or Enzoic fails, so an outage delays and never loses one. Every replica runs one.
 */
export interface Follower {
  start (): void
  stop (): Promise<void>
  /** Something was stored: look now (the receiver calls it; other replicas' events are found by the poll). */
  wake (): void
  /** One pass (tests drive it). */
  tick (): Promise<void>
}

export interface FollowerOptions {
  store: Store
  gateway: FusionAuthGateway
  /** Enzoic's API (undefined: enrolment events are not stored, so none arrive). */
  enzoic?: EnzoicApi
  logger: Logger
  metrics: Metrics
  owner: string
  /** How often to look for events stored by other replicas (ms). */
  pollMs?: number
  backoffMs?: readonly number[]
}

const BATCH = 20
const LEASE_MS = 120_000
const BACKOFF_MS = [2_000, 10_000, 30_000, 60_000, 300_000, 900_000]
/** A case held by a worker right now is tried again soon, without counting as a failure. */
const BUSY_RETRY_MS = 1_000
const KINDS = [OUTBOX_KINDS.passwordChanged, OUTBOX_KINDS.enrolment]

export function createFollower (options: FollowerOptions): Follower {
  const { store, logger: log, metrics, owner } = options
  const backoff = options.backoffMs ?? BACKOFF_MS
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const state = { again: false, stopped: false }

  async function handle (item: OutboxItem): Promise<void> {
    const kind = item.kind === OUTBOX_KINDS.enrolment ? 'enrolment' : 'password-changed'
    try {
      if (item.kind === OUTBOX_KINDS.enrolment) {
        const change = item.payload as EnrolmentChange
        if (options.enzoic === undefined) throw new Error('Enzoic\'s API is not configured here')
        const r = await followEnrolment(change, { gateway: options.gateway, enzoic: options.enzoic })
        logEvent(log, 'enrolment.followed', { eventId: change.eventId, type: change.type, ...r }, 'Enzoic monitoring follows FusionAuth')
      } else {
        await closeCases(item.payload as PasswordChanged, store, log)
      }
      await store.outbox.sent(item.lease)
      metrics.followed.inc({ kind, outcome: 'done' })
    } catch (err) {
      const busy = err instanceof CaseBusy
      const wait = busy ? BUSY_RETRY_MS : backoff[Math.min(item.attempts - 1, backoff.length - 1)]!
      const reason = (err as Error).message
      await store.outbox.retry(item.lease, wait, reason).catch(() => undefined)
      if (busy) return
      metrics.followed.inc({ kind, outcome: 'retrying' })
      const payload = item.payload as { eventId?: string, type?: string }
      if (kind === 'enrolment') logEvent(log, 'enrolment.failed', { eventId: payload.eventId, type: payload.type, reason, retryInSeconds: wait / 1000 }, 'enrolment change not applied yet: kept and retried')
      else log.warn({ eventId: payload.eventId, reason, retryInSeconds: wait / 1000 }, 'a password change could not close its cases yet: kept and retried')
    }
  }

  /** Claims and handles due events, in the order they were stored, until none is due. */
  async function pass (): Promise<void> {
    for (;;) {
      const items = await store.outbox.claim(owner, BATCH, LEASE_MS, KINDS)
      for (const item of items) await handle(item)
      if (items.length < BATCH || state.stopped) return
    }
  }

  function tick (): Promise<void> {
    if (running !== undefined) {
      state.again = true
      return running
    }
    running = (async () => {
      do {
        state.again = false
        await pass().catch(err => log.warn({ err }, 'FusionAuth events: the store failed; the next pass tries again'))
      } while (state.again && !state.stopped)
    })().finally(() => { running = undefined })
    return running
  }

  return {
    start () {
      // Events leased by a process of this host that died are taken back now, not when their lease runs out.
      store.outbox.leaseOwners().then(async owners => {
        for (const other of owners.filter(o => ownerIsGone(o, owner))) await store.outbox.releaseAll(other)
      }).catch(() => undefined).finally(() => { tick().catch(() => undefined) })
      const poll = (): void => {
        timer = setTimeout(() => { tick().catch(() => undefined).finally(() => { if (!state.stopped) poll() }) }, options.pollMs ?? 5_000)
        timer.unref()
      }
      poll()
    },
    async stop () {
      state.stopped = true
      clearTimeout(timer)
      await running
    },
    wake () {
      if (!state.stopped) tick().catch(() => undefined)
    },
    tick
  }
}
