// The measured process of bench/sync.ts: `monitor sync` (syncMonitoring with the real FusionAuth gateway
// and Enzoic client over HTTP, the real store) against the fakes, as the CLI runs it.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createEnzoicClient } from '../src/enzoic/client.js'
import { syncMonitoring, type SyncSummary } from '../src/enzoic/sync.js'
import { createFusionAuthGateway } from '../src/fusionauth/index.js'
import { openStore } from '../src/store/index.js'
import { jobOf, loopMonitor, mb, send } from './drain-proc.js'
import type { SyncFakesReady } from './sync-fakes.js'

export interface SyncRunJob {
  database: string
  fakes: Pick<SyncFakesReady, 'fusionAuth' | 'enzoic'>
  /** Force a full GC after each Enzoic batch and record what is still live (needs --expose-gc). */
  gcEachBatch?: boolean
}

export interface SyncRunResult {
  type: 'result'
  seconds: number
  summary: SyncSummary
  batches: number[]
  /** With gcEachBatch: heap still live right after each batch was sent (the batch itself still referenced). */
  retainedAfterBatchMb: number[]
  cpuSeconds: number
  loop: ReturnType<ReturnType<typeof loopMonitor>['stop']>
  maxRssBytes: number
  heapUsedBytes: number
}

process.on('disconnect', () => process.exit(1))
const job = jobOf<SyncRunJob>()
mkdirSync(dirname(job.database), { recursive: true })
// As `breach-bridge enzoic monitor sync` builds them (src/cli/enzoic.ts), with the default time-outs.
const gateway = createFusionAuthGateway({ url: job.fakes.fusionAuth.url, apiKey: job.fakes.fusionAuth.apiKey, timeoutMs: 10_000 })
const enzoic = createEnzoicClient({ baseUrl: job.fakes.enzoic.url, apiKey: job.fakes.enzoic.apiKey, apiSecret: job.fakes.enzoic.apiSecret })
const store = await openStore(job.database, { role: 'command' })

const batches: number[] = []
const retainedAfterBatchMb: number[] = []
const gc = (globalThis as { gc?: () => void }).gc
const onBatch = (b: { size: number }): void => {
  batches.push(b.size)
  if (job.gcEachBatch === true && gc !== undefined) {
    gc()
    retainedAfterBatchMb.push(mb(process.memoryUsage().heapUsed))
  }
}
const loop = loopMonitor()
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const summary = await syncMonitoring({ gateway, enzoic, store, onBatch })
const seconds = (performance.now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
const loopStats = loop.stop()
await Promise.allSettled([gateway.close(), enzoic.close(), store.close()])

const result: SyncRunResult = {
  type: 'result',
  seconds,
  summary,
  batches,
  retainedAfterBatchMb,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  loop: loopStats,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
  heapUsedBytes: process.memoryUsage().heapUsed
}
send(result)
process.disconnect()
