// Load generator for bench/ingest.ts, run as its own process so it does not share a CPU's event loop with
// the server under test. Reads a job from argv[2] (JSON) and prints one JSON result line.
import autocannon, { type Options, type Result } from 'autocannon'

export interface LoadJob {
  url: string
  authorization?: string
  connections: number
  /** Seconds of warm-up (results discarded) before the measured run. */
  warmupSeconds: number
  /** Measured run: a duration in seconds, or an exact number of requests. */
  durationSeconds?: number
  amount?: number
  /** Distinguishes the bodies of this run from every other run's (idempotency keys must not repeat). */
  runId: string
}

export interface LoadResult {
  requests: number
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  seconds: number
  requestsPerSecond: number
  latencyMs: { mean: number, p50: number, p90: number, p99: number, p999: number, max: number }
}

let sequence = 0

/** A realistic Enzoic breach alert (~0.8 kB) whose exposureID and username are unique per request. */
function body (runId: string): string {
  const n = ++sequence
  return JSON.stringify({
    date: '2017-01-17T04:51:05.1915231Z',
    exposureID: `bench-${runId}-${n}`,
    username: `user-${n}@bench-${runId}.acme.io`,
    plaintextPassword: 'not-a-real-password',
    passwordType: 0,
    customData: `crm-${n}`,
    exposureDetails: {
      title: 'Acme Corp breach',
      date: '2016-12-01T00:00:00.0000000Z',
      entries: 1200000,
      domainsAffected: 18000,
      category: 'Retail',
      sourceURLs: ['https://example.net/forum/thread/12345'],
      source: 'Hacking forum',
      passwordTypes: [0, 1],
      exposedData: ['Emails', 'Passwords', 'Usernames', 'IP addresses'],
      dateAdded: '2017-01-16T22:11:00.1234567Z'
    }
  })
}

function summarise (r: Result): LoadResult {
  const ok = r['2xx']
  return {
    requests: r.requests.total,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    seconds: r.duration,
    requestsPerSecond: ok / r.duration,
    latencyMs: { mean: r.latency.average, p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, p999: r.latency.p99_9, max: r.latency.max }
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as LoadJob
const base = {
  url: `${job.url}/webhooks/enzoic`,
  method: 'POST',
  connections: job.connections,
  headers: { 'content-type': 'application/json', ...(job.authorization === undefined ? {} : { authorization: job.authorization }) },
  timeout: 30
}
// setupRequest runs before every request: each one gets its own body (and a correct Content-Length).
const distinct = (runId: string): Options['requests'] => [{ setupRequest: (req) => ({ ...req, body: body(runId) }) }]
if (job.warmupSeconds > 0) await autocannon({ ...base, requests: distinct(`${job.runId}w`), duration: job.warmupSeconds })
const result = await autocannon({
  ...base,
  requests: distinct(job.runId),
  ...(job.amount !== undefined ? { amount: job.amount } : { duration: job.durationSeconds ?? 10 })
})
process.stdout.write(JSON.stringify(summarise(result)) + '\n')
