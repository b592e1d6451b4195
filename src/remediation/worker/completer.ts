import type { Logger } from 'pino'
import type { ActionLogEntry, AlertRecord, Outcome, UserOutcome } from '../../alerts/types.js'
import { logEvent } from '../../observability/events.js'
import type { Metrics } from '../../observability/metrics.js'
import type { Lease, WorkQueue } from '../../store/types.js'
import type { Job } from './job.js'
import type { Carried } from '../journal.js'

/** The longest wait between two tries of a store call. */
const MAX_STORE_RETRY_MS = 30_000

/**
 * What becomes of an alert after an attempt: decided by the executor, recorded and announced here, with the
 * attempt's step writes not written yet (`steps`, recorded in the same transaction).
 */
export type Transition = (
  | { kind: 'finished', outcome: Outcome, users: UserOutcome[], actions: ActionLogEntry[], note?: string }
  /** Immediate steps done, grace steps due in `dueInMs`. */
  | { kind: 'waiting', dueInMs: number, users: UserOutcome[], actions: ActionLogEntry[], note: string }
  | { kind: 'retrying', delayMs: number, reason: string, actions: ActionLogEntry[] }
  /** Given back due now, the attempt not counted (the worker paused). */
  | { kind: 'released' }
  /** Dead: FusionAuth refused one of the steps for good. */
  | { kind: 'step-refused', reason: string, outcome: Outcome, users: UserOutcome[], actions: ActionLogEntry[] }
  /** Dead: FusionAuth refused the user lookup for good. */
  | { kind: 'lookup-refused', reason: string, actions: ActionLogEntry[] }
  /** Dead: the retry schedule is exhausted (`reason`: the last failure). */
  | { kind: 'retries-exhausted', reason: string, actions: ActionLogEntry[] }
) & { steps?: Carried }

export interface CompleterOptions {
  queue: Pick<WorkQueue, 'finish' | 'wait' | 'retry' | 'release' | 'kill'>
  log: Logger
  metrics: Pick<Metrics, 'alertsFinished' | 'alertCompletion'>
  /** A record is retried for at most this long: past it the lease has expired anyway. */
  leaseMs: number
  /** First wait after a failed store call (doubles up to 30 s). */
  storeRetryMs: number
  /** Told about each failed store call and each one that succeeds (the store back-off and readiness). */
  storeHealth: { failed (err: unknown, what: string): void, recovered (): void }
  /** True once the worker stops: a failing call is not retried then. */
  isStopping: () => boolean
  /** Told at once when an alert dies (the operator digest). */
  onDead: (alertId: string, reason: string) => void
}

export interface Completer {
  /**
   * A store call made while FusionAuth work is done or under way: retried while the store fails (losing the
   * record would repeat the work), for at most a lease's worth of time — after that the lease has expired
   * anyway and the next holder repeats what was not recorded.
   */
  storeCall<T> (what: string, fn: () => Promise<T>): Promise<T>
  /** Records the transition under the job's lease, then logs and counts it; false when it could not be recorded. */
  complete (job: Job, transition: Transition, alog: Logger): Promise<boolean>
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const briefUser = (u: UserOutcome): Record<string, unknown> => ({ userId: u.userId, tenantId: u.tenantId, outcome: u.outcome })

export function createCompleter (options: CompleterOptions): Completer {
  const { queue, log, storeHealth } = options
  const announce = createAnnouncer(options)

  async function storeCall<T> (what: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + options.leaseMs
    let wait = options.storeRetryMs
    for (;;) {
      try {
        const v = await fn()
        storeHealth.recovered()
        return v
      } catch (err) {
        storeHealth.failed(err, what)
        if (Date.now() + wait > deadline || options.isStopping()) throw err
        await sleep(wait)
        wait = Math.min(wait * 2, MAX_STORE_RETRY_MS)
      }
    }
  }

  async function complete (job: Job, transition: Transition, alog: Logger): Promise<boolean> {
    const { state, record } = recordOf(queue, transition, job.alert)
    let ok: boolean
    try {
      ok = await storeCall(`recording an alert as ${state}`, () => record(job.lease))
    } catch (err) {
      log.error({ err, alertId: job.alert.id }, `could not record the alert as ${state}; it will run again when its lease expires`)
      return false
    }
    if (!ok) {
      log.warn({ alertId: job.alert.id }, `lease lost before the alert could be ${state}; its new holder carries on`)
      return false
    }
    transition.steps?.written()
    announce(job.alert, transition, alog)
    return true
  }

  return { storeCall, complete }
}

/** Says what became of an alert once it is recorded: its event, the digest's notice of a dead alert, the finished line and metrics. */
function createAnnouncer ({ metrics, onDead }: Pick<CompleterOptions, 'metrics' | 'onDead'>): (alert: AlertRecord, t: Transition, alog: Logger) => void {
  function finished (alert: AlertRecord, outcome: string, alog: Logger, extra: Record<string, unknown>): void {
    const ageSeconds = (Date.now() - Date.parse(alert.receivedAt)) / 1000
    metrics.alertsFinished.inc({ outcome })
    metrics.alertCompletion.observe({ outcome }, ageSeconds)
    logEvent(alog, 'alert.finished', { outcome, email: alert.email, exposureId: alert.exposureId, attempts: alert.attempts, ageSeconds, ...extra }, 'alert finished')
  }

  return (alert, t, alog) => {
    switch (t.kind) {
      case 'finished':
        finished(alert, t.outcome, alog, { users: t.users.map(briefUser) })
        return
      case 'waiting':
        logEvent(alog, 'alert.waiting', { dueAt: new Date(Date.now() + t.dueInMs).toISOString(), users: t.users.map(briefUser) }, t.note)
        return
      case 'retrying':
        logEvent(alog, 'alert.retrying', { reason: t.reason, retryInSeconds: Math.round(t.delayMs / 1000) }, 'FusionAuth call failed, will retry')
        return
      case 'released':
        return
      case 'step-refused':
        logEvent(alog, 'alert.dead', { reason: t.reason, outcome: t.outcome }, 'alert dead: FusionAuth refused a step (alerts replay retries it)')
        onDead(alert.id, t.reason)
        finished(alert, t.outcome, alog, { users: t.users.map(briefUser) })
        return
      case 'lookup-refused':
        logEvent(alog, 'alert.dead', { reason: t.reason, outcome: 'failed' }, 'alert dead: FusionAuth refused the lookup')
        onDead(alert.id, t.reason)
        finished(alert, 'failed', alog, { reason: t.reason })
        return
      case 'retries-exhausted':
        logEvent(alog, 'alert.dead', { reason: t.reason, attempts: alert.attempts, outcome: 'failed' }, 'alert dead: retry schedule exhausted')
        onDead(alert.id, `retry schedule exhausted: ${t.reason}`)
        finished(alert, 'failed', alog, { reason: t.reason })
    }
  }
}

/** The state a transition leads to (for log lines) and the store call that records it under a lease. */
function recordOf (queue: CompleterOptions['queue'], t: Transition, alert: AlertRecord): { state: string, record: (lease: Lease) => Promise<boolean> } {
  const steps = t.steps?.writes
  switch (t.kind) {
    case 'finished':
      return { state: 'finished', record: l => queue.finish(l, { outcome: t.outcome, users: t.users, actions: t.actions, note: t.note }, steps) }
    case 'waiting':
      return { state: 'waiting', record: l => queue.wait(l, t.dueInMs, t.users, t.actions, t.note, steps) }
    case 'retrying':
      return { state: 'retrying', record: l => queue.retry(l, t.delayMs, t.reason, t.actions, steps) }
    case 'released':
      return { state: 'released', record: l => queue.release(l, true, steps) }
    case 'step-refused':
      return { state: 'dead', record: l => queue.kill(l, t.reason, t.actions, { outcome: t.outcome, users: t.users }, steps) }
    case 'lookup-refused':
      return { state: 'dead', record: l => queue.kill(l, t.reason, t.actions, undefined, steps) }
    case 'retries-exhausted':
      return { state: 'dead', record: l => queue.kill(l, `retry schedule exhausted after ${alert.attempts} attempts: ${t.reason}`, t.actions, undefined, steps) }
  }
}
