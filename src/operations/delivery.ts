/**
 * `enzoic webhooks test --wait`: watching the bridge's store for the notification Enzoic was asked to send.
 *
 * An arrival is any of:
 * - a new alert (the newest id changed);
 * - a re-delivery of an alert already stored: the bridge answers `duplicate` and counts the delivery on
 *   the first row (`deliveries` grows) — Enzoic's test notification may well carry the same exposure and
 *   username as an earlier one;
 * - a notification the bridge acknowledged without storing it (another Enzoic product): intake records
 *   the last one under KV.lastIgnored;
 * - a call the bridge refused for its Basic credentials (401): intake records the last one under KV.lastRefused.
 */
import type { AlertRecord } from '../alerts/types.js'
import { KV, type Store } from '../store/types.js'

/** How many recent alerts (of each kind) are watched for re-deliveries. */
const WATCHED = 200

export interface DeliveryMark {
  newest?: string
  ignored?: string
  refused?: string
  /** id → deliveries, for the recent test alerts and the recent alerts of any kind. */
  deliveries: Map<string, number>
}

export type Arrival =
  | { kind: 'new', alert: AlertRecord, afterMs: number }
  | { kind: 'redelivery', alert: AlertRecord, afterMs: number }
  | { kind: 'ignored', reason: string, afterMs: number }
  | { kind: 'refused', address?: string, afterMs: number }

async function watched (store: Store): Promise<AlertRecord[]> {
  const [tests, recent] = await Promise.all([store.alerts.list({ outcome: 'test', limit: WATCHED }), store.alerts.list({ limit: WATCHED })])
  const byId = new Map<string, AlertRecord>()
  for (const a of [...recent, ...tests]) byId.set(a.id, a)
  return [...byId.values()]
}

export async function markDeliveries (store: Store): Promise<DeliveryMark> {
  const newest = (await store.alerts.list({ limit: 1 }))[0]?.id
  const deliveries = new Map((await watched(store)).map(a => [a.id, a.deliveries]))
  return { newest, ignored: await store.kv.get(KV.lastIgnored), refused: await store.kv.get(KV.lastRefused), deliveries }
}

/** Polls until something arrives after `mark`, or `deadline` (epoch ms) passes (undefined), or `signal` aborts. */
export async function waitForArrival (
  store: Store, mark: DeliveryMark, deadline: number, opts: { signal?: AbortSignal, everyMs?: number } = {}
): Promise<Arrival | undefined> {
  const started = Date.now()
  while (Date.now() < deadline && opts.signal?.aborted !== true) {
    const afterMs = Date.now() - started
    const newest = (await store.alerts.list({ limit: 1 }))[0]
    if (newest !== undefined && newest.id !== mark.newest) return { kind: 'new', alert: newest, afterMs }
    for (const a of await watched(store)) {
      const before = mark.deliveries.get(a.id)
      if (before !== undefined && a.deliveries > before) return { kind: 'redelivery', alert: a, afterMs }
    }
    const ignored = await store.kv.get(KV.lastIgnored)
    if (ignored !== undefined && ignored !== mark.ignored) {
      let reason = 'not a breach alert'
      try { reason = String((JSON.parse(ignored) as { reason?: unknown }).reason ?? reason) } catch {}
      return { kind: 'ignored', reason, afterMs }
    }
    const refused = await store.kv.get(KV.lastRefused)
    if (refused !== undefined && refused !== mark.refused) {
      let address: string | undefined
      try { address = (JSON.parse(refused) as { address?: string }).address } catch {}
      return { kind: 'refused', address, afterMs }
    }
    await new Promise(resolve => setTimeout(resolve, opts.everyMs ?? 250))
  }
  return undefined
}
