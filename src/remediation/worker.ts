import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { ExposureDetails } from '../intake/alert.js'
import type { Metrics } from '../observability/metrics.js'
import type { AlertRecord, AlertStore, Finish } from '../store/types.js'
import { FusionAuthError, type FusionAuthGateway } from './fusionauth.js'
import { ActionFailedError, remediate } from './remediate.js'

export interface WorkerOptions {
  config: Config
  store: AlertStore
  gateway: FusionAuthGateway
  logger: Logger
  metrics: Metrics
  now?: () => number
  /** 0..1 source for jitter (tests pin it). */
  random?: () => number
  /** How long a claimed alert stays leased; an expired lease (crash) returns it to the queue. */
  leaseMs?: number
  /** While paused on 401/403: how often to probe the key, and how often to say so in the log. */
  probeIntervalMs?: number
  pausedLogIntervalMs?: number
  /** How often to look for work committed by another process (e.g. `alerts replay`). */
  idleCheckMs?: number
  /** Readiness caches FusionAuth's answer this long. */
  readinessCacheMs?: number
  exposureDetails?: (alert: AlertRecord) => Promise<ExposureDetails | undefined>
}

export interface Worker {
  start (): void
  /** Stops claiming, waits for in-flight alerts (bounded by the FusionAuth time-out), releases leases. */
  stop (): Promise<void>
  readonly paused: boolean
  readonly inFlight: number
  /** Rejects while paused, or when FusionAuth does not answer with a valid key. */
  readiness (): Promise<void>
  /** Look for due work now. */
  kick (): void
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Wait before attempt n+1 (n ≥ 1 attempts made): the schedule's n-th step ±20 %. */
export function retryDelay (schedule: readonly number[], attemptsMade: number, random: () => number): number | undefined {
  const step = schedule[attemptsMade - 1]
  if (step === undefined) return undefined
  return Math.round(step * (0.8 + 0.4 * random()))
}

/**
 * At-least-once processing of stored alerts. Claims due alerts with a lease, runs up to
 * FUSIONAUTH_CONCURRENCY at once, wakes on inserts and on the next retry time (no busy polling).
 */
export function createWorker (options: WorkerOptions): Worker {
  const { config, store, gateway, logger, metrics } = options
  const now = options.now ?? Date.now
  const random = options.random ?? Math.random
  const owner = `worker-${process.pid}-${randomUUID().slice(0, 8)}`
  // Each alert makes a handful of calls, each bounded by the time-out; the lease outlasts them comfortably.
  const leaseMs = options.leaseMs ?? Math.max(120_000, config.fusionAuthTimeoutMs * 20)
  const probeIntervalMs = options.probeIntervalMs ?? 30_000
  const pausedLogIntervalMs = options.pausedLogIntervalMs ?? 60_000
  const log = logger.child({ component: 'worker' })

  const inFlight = new Map<string, Promise<void>>()
  let running = false
  let paused = false
  let wakeTimer: NodeJS.Timeout | undefined
  let wakeAt = Infinity
  let idleTimer: NodeJS.Timeout | undefined
  let probeTimer: NodeJS.Timeout | undefined
  let lastPausedLog = 0
  let readyCache: { at: number, error?: Error } | undefined

  function schedule (): void {
    const due = store.nextDueAt()
    if (due === undefined) return
    // Never sleep past a minute: a clock change or a lost wake-up costs at most that.
    const at = Math.min(due, now() + 60_000)
    if (wakeTimer !== undefined && at >= wakeAt) return
    if (wakeTimer !== undefined) clearTimeout(wakeTimer)
    wakeAt = at
    wakeTimer = setTimeout(() => { wakeTimer = undefined; wakeAt = Infinity; pump() }, Math.max(0, at - now()))
    wakeTimer.unref()
  }

  function pump (): void {
    if (!running || paused) return
    const free = config.fusionAuthConcurrency - inFlight.size
    if (free > 0) {
      let claimed: AlertRecord[]
      try {
        claimed = store.claim(owner, free, leaseMs)
      } catch (err) {
        log.error({ err }, 'cannot claim alerts from the store; retrying in 5 s')
        setTimeout(pump, 5000).unref()
        return
      }
      for (const alert of claimed) {
        // Our own lease expired while we still work on it: leave it with us, don't run it twice here.
        if (inFlight.has(alert.id)) continue
        const p = processAlert(alert).finally(() => {
          inFlight.delete(alert.id)
          pump()
        })
        inFlight.set(alert.id, p)
      }
    }
    schedule()
  }

  async function processAlert (alert: AlertRecord): Promise<void> {
    const alog = log.child({ alertId: alert.id, attempt: alert.attempts })
    let result: Finish
    try {
      result = await remediate(alert, { config, gateway, now, exposureDetails: options.exposureDetails })
    } catch (err) {
      handleFailure(alert, err, alog)
      return
    }
    for (const e of result.actions.slice(alert.actions.length)) metrics.actions.inc({ action: e.action, result: e.status })
    if (!store.finish(alert.id, owner, result)) {
      alog.warn('alert lease lost before it finished; another attempt will repeat it (actions are idempotent)')
      return
    }
    finished(alert, result.outcome, alog, { users: result.users, actions: result.actions.slice(alert.actions.length).map(a => `${a.action}:${a.status}`) })
  }

  function finished (alert: AlertRecord, outcome: string, alog: Logger, extra: Record<string, unknown>): void {
    const ageSeconds = (now() - Date.parse(alert.receivedAt)) / 1000
    metrics.alertsFinished.inc({ outcome })
    metrics.alertAge.observe({ outcome }, ageSeconds)
    alog.info({ outcome, email: alert.email, exposureId: alert.exposureId, attempts: alert.attempts, ageSeconds, ...extra }, 'alert finished')
  }

  function handleFailure (alert: AlertRecord, err: unknown, alog: Logger): void {
    const failure = err instanceof ActionFailedError ? err.failure : err instanceof FusionAuthError ? err : undefined
    const actions = err instanceof ActionFailedError ? err.actions : alert.actions
    for (const e of actions.slice(alert.actions.length)) metrics.actions.inc({ action: e.action, result: e.status })
    if (failure === undefined) {
      // A bug, not FusionAuth: keep the alert, retry later, make it loud.
      alog.error({ err }, 'unexpected error while remediating; will retry')
      retryOrKill(alert, (err as Error).message ?? String(err), actions, alog)
      return
    }
    if (failure.kind === 'auth') {
      // Burning retries on a revoked key would kill every alert; pause instead, attempt not counted.
      store.release(alert.id, owner, true)
      pause(failure)
      return
    }
    if (failure.kind === 'retryable') {
      retryOrKill(alert, failure.message, actions, alog)
      return
    }
    // 400/404 on an action: repeating it will not help.
    if (store.kill(alert.id, owner, failure.message, actions)) {
      alog.error({ err: failure }, 'alert dead: FusionAuth rejected an action')
      finished(alert, 'failed', alog, { reason: failure.message })
    }
  }

  function retryOrKill (alert: AlertRecord, reason: string, actions: AlertRecord['actions'], alog: Logger): void {
    const wait = retryDelay(config.retrySchedule, alert.attempts, random)
    if (wait === undefined) {
      if (store.kill(alert.id, owner, `retry schedule exhausted after ${alert.attempts} attempts: ${reason}`, actions)) {
        alog.error({ reason, attempts: alert.attempts }, 'alert dead: retry schedule exhausted')
        finished(alert, 'failed', alog, { reason })
      }
      return
    }
    if (store.retry(alert.id, owner, now() + wait, reason, actions)) {
      alog.warn({ reason, retryInSeconds: Math.round(wait / 1000) }, 'FusionAuth call failed, will retry')
    }
    schedule()
  }

  function pause (failure: FusionAuthError): void {
    if (!paused) {
      paused = true
      metrics.workerPaused.set(1)
      lastPausedLog = now()
      log.error({ err: failure }, 'FusionAuth refused the API key: worker paused, alerts stay queued; probing every %d s', Math.round(probeIntervalMs / 1000))
      probeTimer = setInterval(() => { probe().catch(() => undefined) }, probeIntervalMs)
      probeTimer.unref()
    }
    readyCache = { at: now(), error: new Error('paused: FusionAuth refused the API key') }
  }

  async function probe (): Promise<void> {
    try {
      await gateway.probe()
    } catch (err) {
      if (now() - lastPausedLog >= pausedLogIntervalMs) {
        lastPausedLog = now()
        log.error({ err }, 'still paused: FusionAuth refuses the API key')
      }
      return
    }
    paused = false
    metrics.workerPaused.set(0)
    readyCache = undefined
    if (probeTimer !== undefined) clearInterval(probeTimer)
    probeTimer = undefined
    log.info('FusionAuth accepts the API key again: worker resumed')
    pump()
  }

  /** Leases held by a bridge process that no longer exists (crash, kill -9) are freed at once, not at expiry. */
  function releaseOrphanedLeases (): void {
    for (const other of store.leaseOwners()) {
      const pid = Number(/^worker-(\d+)-/.exec(other)?.[1])
      if (other === owner || !Number.isInteger(pid) || isAlive(pid)) continue
      const n = store.releaseAll(other, false)
      if (n > 0) log.warn({ previousOwner: other, alerts: n }, 'took back alerts leased by a bridge process that died')
    }
  }

  return {
    start () {
      if (running) return
      running = true
      releaseOrphanedLeases()
      store.onInsert(() => pump())
      idleTimer = setInterval(() => { if (store.changedElsewhere()) pump() }, options.idleCheckMs ?? 2000)
      idleTimer.unref()
      log.info({ owner, concurrency: config.fusionAuthConcurrency, actions: config.actions.map(a => a.label), dryRun: config.dryRun }, 'worker started')
      pump()
    },
    async stop () {
      running = false
      for (const t of [wakeTimer, idleTimer]) if (t !== undefined) clearTimeout(t)
      if (probeTimer !== undefined) clearInterval(probeTimer)
      await Promise.allSettled(inFlight.values())
      const released = store.releaseAll(owner)
      if (released > 0) log.info({ released }, 'leases released')
    },
    get paused () { return paused },
    get inFlight () { return inFlight.size },
    async readiness () {
      if (paused) throw new Error('paused: FusionAuth refused the API key')
      const fresh = readyCache !== undefined && now() - readyCache.at < (options.readinessCacheMs ?? 5000)
      if (!fresh) {
        try {
          await gateway.probe()
          readyCache = { at: now() }
        } catch (err) {
          const e = err as FusionAuthError
          readyCache = { at: now(), error: new Error(e.kind === 'auth' ? 'FusionAuth refused the API key' : `FusionAuth unreachable: ${e.message}`) }
        }
      }
      if (readyCache?.error !== undefined) throw readyCache.error
    },
    kick () { pump() }
  }
}
