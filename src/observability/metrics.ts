import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Every metric the bridge exports, on one registry per app (no module-level singletons). */
export interface Metrics {
  registry: Registry
  webhookRequests: Counter<'status' | 'outcome'>
  webhookDuration: Histogram<'status'>
  commitBatchSize: Histogram
  commitDuration: Histogram
  alertsFinished: Counter<'outcome'>
  actions: Counter<'action' | 'result'>
  queueDepth: Gauge<'state'>
  fusionAuthCalls: Histogram<'operation' | 'status'>
  alertAge: Histogram<'outcome'>
  workerPaused: Gauge
  storeErrors: Counter
}

export function createMetrics (options: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry()
  if (options.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'bridge_' })
  const registers = [registry]
  return {
    registry,
    webhookRequests: new Counter({
      name: 'bridge_webhook_requests_total',
      help: 'Webhook requests by HTTP status and outcome (accepted, duplicate, test, ignored, unauthorized, forbidden, invalid, too-large, overloaded, unavailable)',
      labelNames: ['status', 'outcome'],
      registers
    }),
    webhookDuration: new Histogram({
      name: 'bridge_webhook_duration_seconds',
      help: 'Webhook request latency, from arrival to answer (includes the durable commit)',
      labelNames: ['status'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers
    }),
    commitBatchSize: new Histogram({
      name: 'bridge_store_commit_batch_size',
      help: 'Alerts per group commit (one transaction, one fsync)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers
    }),
    commitDuration: new Histogram({
      name: 'bridge_store_commit_duration_seconds',
      help: 'Duration of one group commit including fsync',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers
    }),
    alertsFinished: new Counter({
      name: 'bridge_alerts_finished_total',
      help: 'Alerts that reached done or dead, by outcome',
      labelNames: ['outcome'],
      registers
    }),
    actions: new Counter({
      name: 'bridge_actions_total',
      help: 'Remediation steps recorded, by action and result (done, skipped, failed)',
      labelNames: ['action', 'result'],
      registers
    }),
    queueDepth: new Gauge({
      name: 'bridge_alerts',
      help: 'Stored alerts by state',
      labelNames: ['state'],
      registers
    }),
    fusionAuthCalls: new Histogram({
      name: 'bridge_fusionauth_call_duration_seconds',
      help: 'FusionAuth API call latency by operation and HTTP status (0 = network error or time-out)',
      labelNames: ['operation', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    }),
    alertAge: new Histogram({
      name: 'bridge_alert_age_seconds',
      help: 'Time from receipt to completion, by outcome',
      labelNames: ['outcome'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600, 21600, 86400],
      registers
    }),
    workerPaused: new Gauge({
      name: 'bridge_worker_paused',
      help: '1 while the worker is paused because FusionAuth refused the API key',
      registers
    }),
    storeErrors: new Counter({
      name: 'bridge_worker_store_errors_total',
      help: 'Times the worker found the store failing (it backs off and resumes by itself)',
      registers
    })
  }
}
