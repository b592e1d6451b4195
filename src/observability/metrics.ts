import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** The product's prefix: every metric of the bridge's own starts with it (Node's process metrics keep their standard names). */
export const METRIC_PREFIX = 'enzoic_bridge_'

/**
 * Every metric the bridge exports, on one registry per app (no module-level singletons). Names follow
 * Prometheus conventions: the unit in the name (`_seconds`, `_alerts`), `_total` on counters. The
 * dashboard and alert rules in deploy/observability/ use these names; a test checks they all exist.
 */
export interface Metrics {
  registry: Registry
  /** enzoic_bridge_build_info: 1, labelled with version, Node version and store kind (set by buildApp). */
  buildInfo: Gauge<'version' | 'nodejs_version' | 'store'>
  webhookRequests: Counter<'status' | 'outcome'>
  webhookDuration: Histogram<'status'>
  /** Connections closed as they arrived, by reason (max-connections, per-address, not-allowed). */
  connectionsRefused: Counter<'reason'>
  commitBatchSize: Histogram
  commitDuration: Histogram
  /** SQLite: the writer's transactions (group commits, the worker's included), by whether they waited for the fsync. */
  storeTransactions: Counter<'synced'>
  alertsFinished: Counter<'outcome'>
  /** Remediation steps recorded, by action and result. */
  actions: Counter<'action' | 'result'>
  /** Stored alerts by state (set at each scrape). */
  queueDepth: Gauge<'state'>
  /** Age of the oldest alert waiting to be processed (queued or retrying), 0 when none (set at each scrape). */
  oldestQueuedAge: Gauge
  fusionAuthCalls: Histogram<'operation' | 'status'>
  /** Answers that were not FusionAuth's (retried, never believed). */
  fusionAuthForeign: Counter<'operation' | 'status'>
  fusionAuthEvents: Counter<'type' | 'outcome'>
  followed: Counter<'kind' | 'outcome'>
  /** Receipt to completion (done or dead), by outcome. */
  alertCompletion: Histogram<'outcome'>
  workerPaused: Gauge
  storeErrors: Counter
  /** 1 when /readyz would answer 200 (evaluated by /readyz and at each scrape). */
  ready: Gauge
}

let version: string | undefined
/**
 * The bridge's version from its package.json: the nearest one up from this module that is the bridge's
 * (src/, dist/ and the benchmarks' compiled copies all live below the project folder).
 */
export function bridgeVersion (): string {
  if (version !== undefined) return version
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'enzoic-fusionauth-bridge' && typeof pkg.version === 'string') return (version = pkg.version)
    } catch {}
    const up = dirname(dir)
    if (up === dir) break
    dir = up
  }
  return (version = 'unknown')
}

// Longer than 80 lines because it is one declaration per metric, in the order of the README's table — a reader
// scans one list; splitting it would only scatter the names.
export function createMetrics (options: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry()
  // Node's process metrics under their standard names (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, …),
  // so stock Node.js dashboards work unchanged.
  if (options.defaults !== false) collectDefaultMetrics({ register: registry })
  const registers = [registry]
  const name = (n: string): string => `${METRIC_PREFIX}${n}`
  return {
    registry,
    buildInfo: new Gauge({
      name: name('build_info'),
      help: 'Always 1; labels: the bridge version, the Node.js version and the store kind (sqlite, postgres)',
      labelNames: ['version', 'nodejs_version', 'store'],
      registers
    }),
    webhookRequests: new Counter({
      name: name('webhook_requests_total'),
      help: 'Webhook requests answered, by HTTP status and outcome (accepted, duplicate, test, ignored, unauthorized, forbidden, invalid, too-large, overloaded, unavailable, error)',
      labelNames: ['status', 'outcome'],
      registers
    }),
    webhookDuration: new Histogram({
      name: name('webhook_request_duration_seconds'),
      help: 'Webhook request duration, from arrival to answer (includes the durable commit), by HTTP status',
      labelNames: ['status'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers
    }),
    connectionsRefused: new Counter({
      name: name('connections_refused_total'),
      help: 'Connections closed as they arrived, before a byte was read, by reason: max-connections (BRIDGE_MAX_CONNECTIONS), per-address (BRIDGE_MAX_CONNECTIONS_PER_ADDRESS), not-allowed (ENZOIC_ALLOWED_IPS)',
      labelNames: ['reason'],
      registers
    }),
    commitBatchSize: new Histogram({
      name: name('store_commit_batch_alerts'),
      help: 'Alerts per group commit (one transaction, one fsync)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers
    }),
    commitDuration: new Histogram({
      name: name('store_commit_duration_seconds'),
      help: 'Duration of one group commit, fsync included',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers
    }),
    storeTransactions: new Counter({
      name: name('store_transactions_total'),
      help: 'SQLite: transactions of the store\'s writer (webhook inserts and the worker\'s bookkeeping), by whether the commit waited for the fsync',
      labelNames: ['synced'],
      registers
    }),
    alertsFinished: new Counter({
      name: name('alerts_finished_total'),
      help: 'Alerts this process finished (state done or dead), by outcome',
      labelNames: ['outcome'],
      registers
    }),
    actions: new Counter({
      name: name('remediation_steps_total'),
      help: 'Remediation steps this process recorded, by action and result (done, skipped, failed)',
      labelNames: ['action', 'result'],
      registers
    }),
    queueDepth: new Gauge({
      name: name('stored_alerts'),
      help: 'Alerts in the store, by state (queued, processing, retrying, waiting, done, dead); the whole store, as every replica sees it',
      labelNames: ['state'],
      registers
    }),
    oldestQueuedAge: new Gauge({
      name: name('oldest_queued_alert_age_seconds'),
      help: 'Time since the oldest alert still to be processed (queued or retrying) was received; 0 when none',
      registers
    }),
    fusionAuthCalls: new Histogram({
      name: name('fusionauth_request_duration_seconds'),
      help: 'FusionAuth API request duration by operation and HTTP status (0 = network error or time-out)',
      labelNames: ['operation', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    }),
    fusionAuthForeign: new Counter({
      name: name('fusionauth_foreign_answers_total'),
      help: 'Answers to FusionAuth calls that were not FusionAuth\'s (an HTML page from a proxy, portal or load balancer): never believed, retried; by operation and HTTP status',
      labelNames: ['operation', 'status'],
      registers
    }),
    fusionAuthEvents: new Counter({
      name: name('fusionauth_events_total'),
      help: 'FusionAuth events received at /webhooks/fusionauth (authenticated and well-formed), by type and outcome (stored, ignored)',
      labelNames: ['type', 'outcome'],
      registers
    }),
    followed: new Counter({
      name: name('fusionauth_events_followed_total'),
      help: 'Stored FusionAuth events acted on, by kind (password-changed, enrolment) and outcome (done, retrying, dropped)',
      labelNames: ['kind', 'outcome'],
      registers
    }),
    alertCompletion: new Histogram({
      name: name('alert_completion_seconds'),
      help: 'Time from an alert\'s receipt to its completion (done or dead), by outcome',
      labelNames: ['outcome'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600, 21600, 86400],
      registers
    }),
    workerPaused: new Gauge({
      name: name('worker_paused'),
      help: '1 while the worker is paused because FusionAuth refused the API key',
      registers
    }),
    storeErrors: new Counter({
      name: name('worker_store_errors_total'),
      help: 'Times the worker found the store failing (it backs off and resumes by itself)',
      registers
    }),
    ready: new Gauge({
      name: name('ready'),
      help: '1 when the bridge is ready (what GET /readyz answers: the store commits, FusionAuth accepts the API key), 0 otherwise',
      registers
    })
  }
}
