import { Agent } from 'undici'
import type { Webhook } from 'standardwebhooks'
import type { Logger } from 'pino'
import { plainText } from '../alerts/text.js'
import { logEvent } from '../observability/events.js'
import { ownerIsGone } from '../process-owner.js'
import { OUTBOX_KEYS, type Store } from '../store/types.js'
import { deadMessage, digestMessage, pausedMessage, resumedMessage, type NotifyMessage } from './message.js'
import { postMessage, signerFor } from './send.js'

export interface DigestConfig {
  url: string
  intervalMs: number
  /** Standard Webhooks secret: `whsec_<base64>`, or any text (its bytes are the key). */
  secret?: string
}

export interface DigestOptions {
  store: Store
  notify: DigestConfig
  logger: Logger
  /** This process's owner id (outbox leases). */
  owner: string
  email: (e: string | undefined) => string | undefined
  /** How often to look for a due digest and for messages to deliver (ms). */
  tickMs?: number
  /** Per-request time-out for the receiver (ms). */
  timeoutMs?: number
  /** Waits after failed deliveries (tests shorten them). */
  backoffMs?: readonly number[]
}

export interface Digest {
  start (): void
  stop (): Promise<void>
  /** Builds the digest when one is due, then delivers what the outbox holds. */
  tick (): Promise<void>
  /** Messages that go out at once (also counted in the next digest). */
  dead (alertId: string, reason: string): void
  paused (reason: string): void
  /** After `paused`: the API key works again. */
  resumed (): void
}

const LAST = 'digest.window-end'
/** The outbox kinds this digest delivers (other kinds are other consumers'). */
export const DIGEST_KINDS: readonly string[] = ['digest', 'dead', 'paused', 'resumed']
/** Waits after failed deliveries: a receiver that is down delays messages, never loses them. */
const BACKOFF_MS = [10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000]

/** Adds the digest of the last window to the outbox when one is due (one replica wins each window). */
async function buildDue (options: DigestOptions): Promise<void> {
  const { store, notify } = options
  const last = await store.kv.get(LAST)
  const now = Date.now()
  if (last === undefined) {
    // The first window starts now: what finished before the digest was configured is not news.
    await store.kv.putIfAbsent(LAST, String(now))
    return
  }
  const from = Number(last)
  if (now - from < notify.intervalMs) return
  const summary = await store.alerts.summary(from, now, 5)
  const message = digestMessage(summary, { from: new Date(from).toISOString(), to: new Date(now).toISOString() }, { email: options.email })
  // One replica wins the window: the key is its start. Empty windows send nothing but still move on.
  const won = message === undefined ? true : await store.outbox.add(OUTBOX_KEYS.digest(from), 'digest', message)
  if (won) await store.kv.set(LAST, String(now))
}

interface Delivery extends DigestOptions { log: Logger, signer?: Webhook, dispatcher: Agent }

/** Delivers what the outbox holds, signed; a failure keeps the message and retries it later. */
async function deliver (options: Delivery): Promise<void> {
  const { store, notify, log, signer, dispatcher } = options
  for (const item of await store.outbox.claim(options.owner, 10, 120_000, DIGEST_KINDS)) {
    const { problem } = await postMessage(notify.url, item.key, item.payload, { signer, dispatcher, timeoutMs: options.timeoutMs })
    if (problem === undefined) {
      await store.outbox.sent(item.lease)
      logEvent(log, 'digest.sent', { key: item.key, kind: item.kind, alerts: (item.payload as { alerts?: unknown[] }).alerts?.length }, `${item.kind} delivered`)
    } else {
      const backoff = options.backoffMs ?? BACKOFF_MS
      const wait = backoff[Math.min(item.attempts - 1, backoff.length - 1)]!
      await store.outbox.retry(item.lease, wait, problem)
      logEvent(log, 'digest.failed', { key: item.key, kind: item.kind, attempts: item.attempts, reason: problem, retryInSeconds: wait / 1000 }, `${item.kind} not delivered; kept, retried later`)
    }
  }
}

/**
 * The operator digest (docs/design.md §10): at most one summary per BRIDGE_NOTIFY_INTERVAL of what finished
 * since the last one, plus a message at once when an alert dies or the worker pauses. Every message is an
 * outbox row first (any replica may build it; its key makes it one), then delivered at least once, signed
 * with the Standard Webhooks headers; the outbox key is the `webhook-id`, so a receiver can drop repeats.
 */
export function createDigest (options: DigestOptions): Digest {
  const { store, notify } = options
  const log = options.logger.child({ component: 'digest' })
  const signer = signerFor(notify.secret)
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  const dispatcher = new Agent({ connections: 2, keepAliveTimeout: 10_000, connect: { timeout: options.timeoutMs ?? 10_000 } })

  async function run (): Promise<void> {
    try {
      await buildDue(options)
      await deliver({ ...options, log, signer, dispatcher })
    } catch (err) {
      log.warn({ err }, 'operator digest: the store failed; the next tick tries again')
    }
  }

  /** Runs one after another: a tick asked for while one runs (a new urgent message) runs after it, never skipped. */
  function tick (): Promise<void> {
    running = (running ?? Promise.resolve()).then(run)
    return running
  }

  const urgent = (key: string, kind: string, message: NotifyMessage): void => {
    store.outbox.add(key, kind, message).then(() => tick(), err => log.warn({ err }, 'operator message not stored'))
  }

  return {
    start () {
      // A process of this host that died while delivering holds leases on messages: give them back now, not
      // when their lease runs out.
      store.outbox.leaseOwners().then(async owners => {
        for (const other of owners.filter(o => ownerIsGone(o, options.owner))) {
          const n = await store.outbox.releaseAll(other)
          if (n > 0) log.warn({ previousOwner: other, messages: n }, 'took back operator messages leased by a bridge process that died')
        }
      }).catch(err => log.warn({ err }, 'operator digest: could not look for messages of a process that died'))
      timer = setInterval(() => { tick().catch(() => undefined) }, options.tickMs ?? Math.min(30_000, Math.max(1000, notify.intervalMs / 4)))
      timer.unref()
      tick().catch(() => undefined)
    },
    async stop () {
      if (timer !== undefined) clearInterval(timer)
      await running
      await dispatcher.close()
    },
    tick,
    dead (alertId, reason) { urgent(OUTBOX_KEYS.dead(alertId, Date.now()), 'dead', deadMessage(alertId, plainText(reason, 300) ?? 'failed')) },
    paused (reason) {
      const since = new Date().toISOString()
      urgent(`paused:${options.owner}:${since}`, 'paused', pausedMessage(plainText(reason, 300) ?? 'paused', since))
    },
    resumed () {
      const at = new Date().toISOString()
      urgent(`resumed:${options.owner}:${at}`, 'resumed', resumedMessage(at))
    }
  }
}
