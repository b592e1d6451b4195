import type { Logger } from 'pino'
import type { ActionLogEntry } from '../../alerts/types.js'
import type { Metrics } from '../../observability/metrics.js'
import { FusionAuthError } from '../../fusionauth/index.js'
import { ActionFailedError, remediate, type RemediateDeps, type Remediation } from '../remediate.js'
import type { Carried } from '../journal.js'
import type { Completer, Transition } from './completer.js'
import type { Health } from './health/index.js'
import type { Job } from './job.js'
import { nextAttemptIn } from './retry.js'

/** What remediate() is given per alert by the worker; everything else in RemediateDeps is passed through untouched. */
type SuppliedPerAlert = 'lease' | 'leaseValid' | 'log' | 'onStep' | 'planned' | 'storeCall'

/** remediate()'s dependencies that are the same for every alert (today: config, gateway, store, exposureDetails). */
export type RemediationContext = Omit<RemediateDeps, SuppliedPerAlert>

export interface ExecutorOptions {
  remediation: RemediationContext
  /** BRIDGE_RETRY_SCHEDULE: the wait before each retry. */
  retrySchedule: readonly number[]
  /** 0..1 source for the retries' jitter (tests pin it). */
  random: () => number
  /** The worker's log: each alert logs through a child naming it and its attempt. */
  log: Logger
  metrics: Pick<Metrics, 'actions'>
  completer: Completer
  health: Pick<Health, 'pause' | 'fusionAuthFails' | 'fusionAuthAnswers'>
}

export interface Executor {
  /**
   * Runs one claimed alert and records what becomes of it; never rejects for a FusionAuth failure. Calls `free` once
   * its FusionAuth work is over and its transition handed to the store: the slot can serve the next alert while
   * the transition waits to share a commit (store/sqlite/group-commit.ts).
   */
  execute (job: Job, free?: () => void): Promise<void>
}

/** Runs remediate() for one alert and turns its result, or its failure, into the alert's next transition. */
export function createExecutor (options: ExecutorOptions): Executor {
  const { completer, health } = options

  async function execute (job: Job, free: () => void = () => undefined): Promise<void> {
    const { alert } = job
    const alog = options.log.child({ alertId: alert.id, attempt: alert.attempts })
    let r: Remediation
    try {
      r = await remediate(alert, {
        ...options.remediation,
        lease: () => job.lease,
        leaseValid: () => performance.now() < job.validUntil,
        planned: job.planned,
        log: alog,
        onStep: (action, state) => options.metrics.actions.inc({ action, result: state }),
        storeCall: completer.storeCall
      })
    } catch (err) {
      await handOver(completer.complete(job, afterFailure(job, err, alog), alog), free)
      return
    }
    health.fusionAuthAnswers() // it answered every call this alert made
    if (r.kind === 'lease-lost') {
      alog.warn('alert lease lost while it ran; its holder carries on (recorded steps are not repeated)')
      return
    }
    await handOver(completer.complete(job, afterResult(r), alog), free)
  }

  /**
   * A failed attempt: pause on a refused key, back off on FusionAuth failing, die on a definite refusal. The
   * attempt's unwritten step writes ride with it (a bug's are not known: the steps' markers make the next attempt
   * confirm what it cannot read back).
   */
  function afterFailure (job: Job, err: unknown, alog: Logger): Transition {
    const failure = err instanceof ActionFailedError ? err.failure : err instanceof FusionAuthError ? err : undefined
    const actions = err instanceof ActionFailedError ? err.actions : job.alert.actions
    const steps = err instanceof ActionFailedError ? err.steps : undefined
    if (failure === undefined) {
      // A bug, not FusionAuth: keep the alert, retry later, make it loud.
      alog.error({ err }, 'unexpected error while remediating; will retry')
      return retryOrGiveUp(job, (err as Error).message ?? String(err), actions)
    }
    if (failure.kind === 'auth') {
      // Burning retries on a revoked key would kill every alert; pause instead, attempt not counted.
      health.pause(failure)
      return { kind: 'released', steps }
    }
    if (failure.kind === 'retryable') {
      // A 429 is FusionAuth answering (busy), not FusionAuth down.
      if (failure.status !== 429) health.fusionAuthFails()
      return retryOrGiveUp(job, failure.message, actions, failure.retryAfterMs, steps)
    }
    // 400/404 on an action: repeating it will not help.
    return { kind: 'lookup-refused', reason: failure.message, actions, steps }
  }

  function retryOrGiveUp (job: Job, reason: string, actions: ActionLogEntry[], retryAfterMs?: number, steps?: Carried): Transition {
    const delayMs = nextAttemptIn(options.retrySchedule, job.alert.attempts, options.random, retryAfterMs)
    if (delayMs === undefined) return { kind: 'retries-exhausted', reason, actions, steps }
    return { kind: 'retrying', delayMs, reason, actions, steps }
  }

  return { execute }
}

/** complete() hands its transition to the store before its first await: the slot is free from then on. */
async function handOver (recording: Promise<unknown>, free: () => void): Promise<void> {
  free()
  await recording
}

/** What a completed remediate() call records (its lease-lost case records nothing). */
function afterResult (r: Exclude<Remediation, { kind: 'lease-lost' }>): Transition {
  switch (r.kind) {
    case 'waiting':
      return { kind: 'waiting', dueInMs: r.dueInMs, users: r.users, actions: r.actions, note: r.note, steps: r.steps }
    case 'dead':
      return { kind: 'step-refused', reason: r.reason, outcome: r.outcome, users: r.users, actions: r.actions, steps: r.steps }
    case 'finished':
      return { kind: 'finished', outcome: r.outcome, users: r.users, actions: r.actions, note: r.note, steps: r.steps }
  }
}
