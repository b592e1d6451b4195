import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { ActionLogEntry, AlertRecord, ExposureDetails, UserOutcome } from '../alerts/types.js'
import type { Metrics } from '../observability/metrics.js'
import type { Claimed, Lease, Store } from '../store/types.js'
import { FusionAuthError, type FusionAuthGateway } from '../fusionauth/index.js'
import { ActionFailedError, remediate, type Remediation } from './remediate.js'
import { logEvent } from '../observability/events.js'

const briefUser = (u: UserOutcome): Record<string, unknown> => ({ userId: u.userId, tenantId: u.tenantId, outcome: u.outcome })

export interface WorkerOptions {
  config: Config
  store: Store
  gateway: FusionAuthGateway
  logger: Logger
  metrics: Metrics
  /** 0..1 source for jitter (tests pin it). */
  random?: () => number
  /** How long a claim lasts without renewal; a holder that dies loses its alerts after this. */
  leaseMs?: number
  /** While paused on 401/403: how often to probe the key, and how often to say so in the log. */
  probeIntervalMs?: number
  pausedLogIntervalMs?: number
  /** Readiness caches FusionAuth's answer this long. */
  readinessCacheMs?: number
  /** First wait after a store error (doubles up to 30 s). */
  storeRetryMs?: number
  /** While FusionAuth is failing (network errors, 5xx): how often to check whether it answers again. */
  recoveryProbeMs?: number
  exposureDetails?: (alert: AlertRecord) => Promise<ExposureDetails | undefined>
  /** Told at once when an alert dies or the worker pauses (the operator digest). */
  notify?: { dead (alertId: string, reason: string): void, paused (reason: string): void }
}

export interface Worker {
  /** Unique per process and host: `host/pid/random`. */
  readonly owner: string
  start (): Promise<void>
  /** Stops claiming, waits for in-flight alerts (bounded by the FusionAuth time-out), releases leases. */
  stop (): Promise<void>
  readonly paused: boolean
  readonly inFlight: number
  /** Rejects while paused, while the store fails, or when FusionAuth does not answer with a valid key. */
  readiness (): Promise<void>
  /** Look for due work now. */
  kick (): void
}

/** Wait before attempt n+1 (n ≥ 1 attempts made): the schedule's n-th step ±20 %. */
export function retryDelay (schedule: readonly number[], attemptsMade: number, random: () => number): number | undefined {
  const step = schedule[attemptsMade - 1]
  if (step === undefined) return undefined
  return Math.round(step * (0.8 + 0.4 * random()))
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

interface Job {
  alert: AlertRecord
  planned: boolean
  /** Replaced when our own expired lease comes back to us in a claim (a clock jump): the newest token wins. */
  lease: Lease
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/**
 * At-least-once processing of stored alerts. Claims due alerts under a fenced lease, renews the leases it
 * holds, runs up to FUSIONAUTH_CONCURRENCY at once, and wakes on the store's change feed and on the next
 * due time (no busy polling). Store errors never end the process: it backs off, fails readiness, resumes.
 */
export function createWorker (options: WorkerOptions): Worker {
  const { config, store, gateway, logger, metrics } = options
  const random = options.random ?? Math.random
  const host = hostname()
  const owner = `${host}/${process.pid}/${randomUUID().slice(0, 8)}`
  const leaseMs = options.leaseMs ?? config.leaseMs
  const probeIntervalMs = options.probeIntervalMs ?? 30_000
  const pausedLogIntervalMs = options.pausedLogIntervalMs ?? 60_000
  const storeRetryMs = options.storeRetryMs ?? 1000
  const recoveryProbeMs = options.recoveryProbeMs ?? 5000
  const log = logger.child({ component: 'worker' })

  const jobs = new Map<string, Job>()
  const running = new Set<Promise<void>>()
  let started = false
  let stopping = false
  let paused = false
  let pumping = false
  let again = false
  let wakeTimer: NodeJS.Timeout | undefined
  let wakeAt = Infinity
  let heartbeat: NodeJS.Timeout | undefined
  let probeTimer: NodeJS.Timeout | undefined
  let unsubscribe: (() => void) | undefined
  let lastPausedLog = 0
  let readyCache: { at: number, error?: Error } | undefined
  /** Set while FusionAuth fails (not while it only rate-limits): alerts wait for retries meanwhile. */
  let fusionAuthDown: { since: number, timer: NodeJS.Timeout } | undefined
  /** Set while the store fails: readiness says so, the pump waits for the back-off. */
  let storeError: { since: number, backoffMs: number, lastLog: number } | undefined

  function wake (inMs: number): void {
    const at = Date.now() + Math.max(0, inMs)
    if (wakeTimer !== undefined && at >= wakeAt) return
    if (wakeTimer !== undefined) clearTimeout(wakeTimer)
    wakeAt = at
    wakeTimer = setTimeout(() => { wakeTimer = undefined; wakeAt = Infinity; pump() }, Math.max(0, inMs))
    wakeTimer.unref()
  }

  function storeFailed (err: unknown, what: string): void {
    const t = Date.now()
    if (storeError === undefined) {
      storeError = { since: t, backoffMs: storeRetryMs, lastLog: t }
      metrics.storeErrors.inc()
      log.error({ err }, `store error while ${what}: worker backs off and retries; readiness fails meanwhile`)
    } else {
      storeError.backoffMs = Math.min(storeError.backoffMs * 2, 30_000)
      if (t - storeError.lastLog >= 60_000) {
        storeError.lastLog = t
        log.error({ err, failingForSeconds: Math.round((t - storeError.since) / 1000) }, `store still failing (${what})`)
      }
    }
    wake(storeError.backoffMs)
  }

  function storeRecovered (): void {
    if (storeError === undefined) return
    log.info({ failedForSeconds: Math.round((Date.now() - storeError.since) / 1000) }, 'store answers again: worker resumed')
    storeError = undefined
  }

  function pump (): void {
    if (!started || stopping || paused) return
    if (pumping) { again = true; return }
    pumping = true
    again = false
    claimDue()
      .catch(err => storeFailed(err, 'claiming alerts'))
      .finally(() => {
        pumping = false
        if (again) pump()
      })
  }

  async function claimDue (): Promise<void> {
    for (;;) {
      const free = config.fusionAuthConcurrency - jobs.size
      if (free <= 0) return // a finishing alert pumps again
      const claimed = await store.queue.claim(owner, free, leaseMs)
      storeRecovered()
      for (const c of claimed) begin(c)
      if (claimed.length < free || stopping || paused) break
    }
    if (stopping) return
    const dueIn = await store.queue.nextDueIn()
    // Never sleep past a minute: a lost wake-up costs at most that. Work due now that we could not claim is
    // being claimed by another replica: look again shortly rather than spin.
    if (dueIn !== undefined) wake(Math.min(Math.max(dueIn, 100), 60_000))
  }

  function begin ({ alert, lease, planned }: Claimed): void {
    const mine = jobs.get(alert.id)
    if (mine !== undefined) {
      // Our own lease ran out while we still work on it (e.g. the clock jumped) and we claimed it again:
      // carry on under the new token rather than run it twice.
      mine.lease = lease
      return
    }
    const job: Job = { alert, lease, planned }
    jobs.set(alert.id, job)
    const p = processAlert(job)
      .catch(err => log.error({ err, alertId: alert.id }, 'unexpected error in the worker'))
      .finally(() => {
        jobs.delete(alert.id)
        running.delete(p)
        pump()
      })
    running.add(p)
  }

  /**
   * A store call made while FusionAuth work is done or under way: retried while the store fails (losing the
   * record would repeat the work), for at most a lease's worth of time — after that the lease has expired
   * anyway and the next holder repeats what was not recorded.
   */
  async function storeCall<T> (what: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + leaseMs
    let wait = storeRetryMs
    for (;;) {
      try {
        const v = await fn()
        storeRecovered()
        return v
      } catch (err) {
        storeFailed(err, what)
        if (Date.now() + wait > deadline || stopping) throw err
        await sleep(wait)
        wait = Math.min(wait * 2, 30_000)
      }
    }
  }

  /** Records the alert's next state under its lease; false when the lease was lost or the store never came back. */
  async function persist (what: string, fn: (lease: Lease) => Promise<boolean>, job: Job): Promise<boolean> {
    let ok: boolean
    try {
      ok = await storeCall(`recording an alert as ${what}`, () => fn(job.lease))
    } catch (err) {
      log.error({ err, alertId: job.alert.id }, `could not record the alert as ${what}; it will run again when its lease expires`)
      return false
    }
    if (!ok) log.warn({ alertId: job.alert.id }, `lease lost before the alert could be ${what}; its new holder carries on`)
    return ok
  }

  async function processAlert (job: Job): Promise<void> {
    const { alert } = job
    const alog = log.child({ alertId: alert.id, attempt: alert.attempts })
    let r: Remediation
    try {
      r = await remediate(alert, {
        settings: { policies: config.policies, tenantIds: config.tenantIds, actorUserId: config.actorUserId },
        gateway,
        store,
        lease: () => job.lease,
        planned: job.planned,
        log: alog,
        exposureDetails: options.exposureDetails,
        onStep: (action, state) => metrics.actions.inc({ action, result: state }),
        storeCall
      })
    } catch (err) {
      await handleFailure(job, err, alog)
      return
    }
    fusionAuthAnswers() // it answered every call this alert made
    switch (r.kind) {
      case 'lease-lost':
        alog.warn('alert lease lost while it ran; its holder carries on (recorded steps are not repeated)')
        return
      case 'waiting':
        if (await persist('waiting', l => store.queue.wait(l, r.dueInMs, r.users, r.actions, r.note), job)) {
          logEvent(alog, 'alert.waiting', { dueAt: new Date(Date.now() + r.dueInMs).toISOString(), users: r.users.map(briefUser) }, r.note)
        }
        return
      case 'dead':
        if (await persist('dead', l => store.queue.kill(l, r.reason, r.actions, { outcome: r.outcome, users: r.users }), job)) {
          logEvent(alog, 'alert.dead', { reason: r.reason, outcome: r.outcome }, 'alert dead: FusionAuth refused a step (alerts replay retries it)')
          options.notify?.dead(alert.id, r.reason)
          finished(alert, r.outcome, alog, { users: r.users.map(briefUser) })
        }
        return
      case 'finished':
        if (await persist('finished', l => store.queue.finish(l, { outcome: r.outcome, users: r.users, actions: r.actions, note: r.note }), job)) {
          finished(alert, r.outcome, alog, { users: r.users.map(briefUser) })
        }
    }
  }

  function finished (alert: AlertRecord, outcome: string, alog: Logger, extra: Record<string, unknown>): void {
    const ageSeconds = (Date.now() - Date.parse(alert.receivedAt)) / 1000
    metrics.alertsFinished.inc({ outcome })
    metrics.alertCompletion.observe({ outcome }, ageSeconds)
    logEvent(alog, 'alert.finished', { outcome, email: alert.email, exposureId: alert.exposureId, attempts: alert.attempts, ageSeconds, ...extra }, 'alert finished')
  }

  async function handleFailure (job: Job, err: unknown, alog: Logger): Promise<void> {
    const { alert } = job
    const failure = err instanceof ActionFailedError ? err.failure : err instanceof FusionAuthError ? err : undefined
    const actions = err instanceof ActionFailedError ? err.actions : alert.actions
    if (failure === undefined) {
      // A bug, not FusionAuth: keep the alert, retry later, make it loud.
      alog.error({ err }, 'unexpected error while remediating; will retry')
      await retryOrKill(job, (err as Error).message ?? String(err), actions, alog)
      return
    }
    if (failure.kind === 'auth') {
      // Burning retries on a revoked key would kill every alert; pause instead, attempt not counted.
      pause(failure)
      await persist('released', l => store.queue.release(l, true), job)
      return
    }
    if (failure.kind === 'retryable') {
      if (failure.status !== 429) fusionAuthFails()
      await retryOrKill(job, failure.message, actions, alog, failure.retryAfterMs)
      return
    }
    // 400/404 on an action: repeating it will not help.
    if (await persist('dead', l => store.queue.kill(l, failure.message, actions), job)) {
      logEvent(alog, 'alert.dead', { reason: failure.message, outcome: 'failed' }, 'alert dead: FusionAuth refused the lookup')
      options.notify?.dead(alert.id, failure.message)
      finished(alert, 'failed', alog, { reason: failure.message })
    }
  }

  async function retryOrKill (job: Job, reason: string, actions: ActionLogEntry[], alog: Logger, retryAfterMs?: number): Promise<void> {
    const { alert } = job
    const step = retryDelay(config.retrySchedule, alert.attempts, random)
    // FusionAuth's Retry-After (429, 503) is a floor: never come back sooner than it asked, at most in an hour.
    const wait = step === undefined || retryAfterMs === undefined ? step : Math.max(step, Math.min(retryAfterMs, 3_600_000))
    if (wait === undefined) {
      if (await persist('dead', l => store.queue.kill(l, `retry schedule exhausted after ${alert.attempts} attempts: ${reason}`, actions), job)) {
        logEvent(alog, 'alert.dead', { reason, attempts: alert.attempts, outcome: 'failed' }, 'alert dead: retry schedule exhausted')
        options.notify?.dead(alert.id, `retry schedule exhausted: ${reason}`)
        finished(alert, 'failed', alog, { reason })
      }
      return
    }
    if (await persist('retrying', l => store.queue.retry(l, wait, reason, actions), job)) {
      logEvent(alog, 'alert.retrying', { reason, retryInSeconds: Math.round(wait / 1000) }, 'FusionAuth call failed, will retry')
    }
  }

  /**
   * FusionAuth failing (network, time-out, 5xx): alerts back off along the schedule. Meanwhile a light probe
   * looks for its return, so alerts do not sit out a long back-off step once it answers again.
   */
  function fusionAuthFails (): void {
    if (fusionAuthDown !== undefined) return
    const timer = setInterval(() => {
      gateway.probe().then(fusionAuthAnswers, () => undefined)
    }, recoveryProbeMs)
    timer.unref()
    fusionAuthDown = { since: Date.now(), timer }
  }

  /** FusionAuth answers again: every alert waiting for a retry is due now, not at the end of its back-off. */
  function fusionAuthAnswers (): void {
    if (fusionAuthDown === undefined) return
    const { since, timer } = fusionAuthDown
    clearInterval(timer)
    fusionAuthDown = undefined
    store.queue.expedite().then(n => {
      log.info({ alerts: n, downForSeconds: Math.round((Date.now() - since) / 1000) }, 'FusionAuth answers again: alerts waiting for a retry are due now')
    }, err => storeFailed(err, 'bringing retries forward'))
  }

  function pause (failure: FusionAuthError): void {
    if (!paused) {
      paused = true
      metrics.workerPaused.set(1)
      lastPausedLog = Date.now()
      options.notify?.paused(failure.message)
      logEvent(log, 'worker.paused', { reason: failure.message }, `FusionAuth refused the API key: worker paused, alerts stay queued; probing every ${Math.round(probeIntervalMs / 1000)} s`)
      probeTimer = setInterval(() => { probe().catch(() => undefined) }, probeIntervalMs)
      probeTimer.unref()
    }
    readyCache = { at: Date.now(), error: new Error('paused: FusionAuth refused the API key') }
  }

  async function probe (): Promise<void> {
    try {
      await gateway.probe()
    } catch (err) {
      if (Date.now() - lastPausedLog >= pausedLogIntervalMs) {
        lastPausedLog = Date.now()
        // The expected case (FusionAuth still refusing, or not answering) is its reason, without a stack.
        log.error(err instanceof FusionAuthError ? { reason: err.message, httpStatus: err.status } : { err }, 'still paused: FusionAuth refuses the API key')
      }
      return
    }
    paused = false
    metrics.workerPaused.set(0)
    readyCache = undefined
    if (probeTimer !== undefined) clearInterval(probeTimer)
    probeTimer = undefined
    logEvent(log, 'worker.resumed', {}, 'FusionAuth accepts the API key again: worker resumed')
    pump()
  }

  /**
   * Leases held by an earlier bridge process on this host that no longer runs are freed at once, not at
   * expiry: one with our own pid (a restart in a container, PID 1 again) is certainly gone, another pid is
   * checked. Leases held on other hosts are never judged from here: they expire by the database's clock.
   */
  async function releaseOrphanedLeases (): Promise<void> {
    for (const other of await store.queue.leaseOwners()) {
      const [otherHost, pidText] = other.split('/')
      const pid = Number(pidText)
      if (other === owner || otherHost !== host || !Number.isInteger(pid)) continue
      if (pid !== process.pid && isAlive(pid)) continue
      const n = await store.queue.releaseAll(other, `released: lease holder ${other} is gone`, false)
      if (n > 0) log.warn({ previousOwner: other, alerts: n }, 'took back alerts leased by a bridge process that died')
    }
  }

  return {
    owner,
    async start () {
      if (started) return
      started = true
      try {
        await releaseOrphanedLeases()
      } catch (err) {
        storeFailed(err, 'looking for orphaned leases')
      }
      unsubscribe = store.changes.subscribe(() => pump())
      heartbeat = setInterval(() => {
        if (jobs.size === 0) return
        store.queue.renew(owner, leaseMs).catch(err => storeFailed(err, 'renewing leases'))
      }, Math.max(50, Math.floor(leaseMs / 3)))
      heartbeat.unref()
      log.info({ owner, concurrency: config.fusionAuthConcurrency, leaseSeconds: leaseMs / 1000, actions: config.actions.map(a => a.label), dryRun: config.dryRun }, 'worker started')
      pump()
    },
    async stop () {
      stopping = true
      unsubscribe?.()
      for (const t of [wakeTimer, heartbeat, probeTimer, fusionAuthDown?.timer]) if (t !== undefined) clearTimeout(t)
      // In-flight calls end within their time-out; past that the leases are given back regardless (the
      // shutdown grace is derived from the same time-out) and the next holder repeats the idempotent work.
      const limit = new Promise<void>(resolve => setTimeout(resolve, config.fusionAuthTimeoutMs + 2000).unref())
      await Promise.race([Promise.allSettled([...running]), limit])
      try {
        const released = await store.queue.releaseAll(owner, 'released at shutdown', true)
        if (released > 0) log.info({ released }, 'leases released')
      } catch (err) {
        log.warn({ err }, 'could not release leases at shutdown: they expire by themselves')
      }
    },
    get paused () { return paused },
    get inFlight () { return jobs.size },
    async readiness () {
      if (paused) throw new Error('paused: FusionAuth refused the API key')
      if (storeError !== undefined) throw new Error(`worker: store failing for ${Math.round((Date.now() - storeError.since) / 1000)} s`)
      const fresh = readyCache !== undefined && Date.now() - readyCache.at < (options.readinessCacheMs ?? 5000)
      if (!fresh) {
        try {
          await gateway.probe()
          readyCache = { at: Date.now() }
          fusionAuthAnswers()
        } catch (err) {
          const e = err as FusionAuthError
          readyCache = { at: Date.now(), error: new Error(e.kind === 'auth' ? 'FusionAuth refused the API key' : `FusionAuth unreachable: ${e.message}`) }
        }
      }
      if (readyCache?.error !== undefined) throw readyCache.error
    },
    kick () { pump() }
  }
}
