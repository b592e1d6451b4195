// The fakes of bench/sync.ts, in their own process: FusionAuth with N users spread over T tenants and
// Enzoic, both answering every call after a fixed latency. Answers `stats` (calls counted from the
// journals) and `verify` (what Enzoic ended up monitoring, checked against the FusionAuth users).
import { createHash } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { startEnzoicFake } from '../test/fakes/enzoic.js'
import { startFusionAuthFake } from '../test/fakes/fusionauth.js'
import { jobOf, send, serveRequests } from './drain-proc.js'

export interface SyncFakesJob { users: number, tenants: number, latencyMs: number }

export interface SyncFakesReady {
  type: 'ready'
  fusionAuth: { url: string, apiKey: string }
  enzoic: { url: string, apiKey: string, apiSecret: string }
  tenants: string[]
  setupSeconds: number
}

export interface SyncCallStats {
  /** FusionAuth: `tenant.list`, `user.search`, …; Enzoic: `monitor.add`, … (answered calls, any status). */
  fusionAuth: Record<string, number>
  enzoic: Record<string, number>
  statuses: Record<string, number>
  sequentialCalls: number
  /** CPU time the fakes' process spent since it was ready (setting up the users excluded). */
  cpuSeconds: number
}

export interface SyncVerification {
  /** Active users with an email in FusionAuth: what should be monitored. */
  expected: number
  monitored: number
  /** Monitored with the right hash and `fusionauth:<tenant>:<user>`. */
  matched: number
  wrongCustomData: number
  missing: number
  unexpected: number
  sample?: { usernameHash: string, customData?: string }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const job = jobOf<SyncFakesJob>()
  const t0 = performance.now()
  const fa = await startFusionAuthFake({ tenants: job.tenants })
  const perTenant = Math.floor(job.users / job.tenants)
  fa.tenants.forEach((t, i) => fa.addUsers(t.id, i === fa.tenants.length - 1 ? job.users - perTenant * i : perTenant))
  const enzoic = await startEnzoicFake()
  fa.setLatency(job.latencyMs)
  enzoic.setLatency(job.latencyMs)
  const cpuAtReady = process.cpuUsage()

  serveRequests({
    stats (): { stats: SyncCallStats } {
      const fusionAuth: Record<string, number> = {}
      const statuses: Record<string, number> = {}
      for (const e of fa.journal) {
        const op = e.method === 'GET' && e.path === '/api/tenant' ? 'tenant.list' : e.path === '/api/user/search' ? 'user.search' : `${e.method} ${e.path}`
        fusionAuth[op] = (fusionAuth[op] ?? 0) + 1
        statuses[`fusionauth ${e.status}`] = (statuses[`fusionauth ${e.status}`] ?? 0) + 1
      }
      const enz: Record<string, number> = {}
      for (const e of enzoic.journal) {
        const op = e.method === 'POST' && e.path === '/breach-monitoring-for-users' ? 'monitor.add' : `${e.method} ${e.path}`
        enz[op] = (enz[op] ?? 0) + 1
        statuses[`enzoic ${e.status}`] = (statuses[`enzoic ${e.status}`] ?? 0) + 1
      }
      const cpu = process.cpuUsage(cpuAtReady)
      const sequentialCalls = fa.journal.length + enzoic.journal.length
      return { stats: { fusionAuth, enzoic: enz, statuses, sequentialCalls, cpuSeconds: (cpu.user + cpu.system) / 1e6 } }
    },
    verify (): { verification: SyncVerification } {
      let expected = 0
      let matched = 0
      let wrongCustomData = 0
      let missing = 0
      for (const u of fa.users()) {
        if (!u.active || u.email === '') continue
        expected++
        const hash = createHash('sha256').update(u.email.trim().toLowerCase(), 'utf8').digest('hex')
        const m = enzoic.monitored.get(hash)
        if (m === undefined) missing++
        else if (m.customData === `fusionauth:${u.tenantId}:${u.id}`) matched++
        else wrongCustomData++
      }
      const first = enzoic.monitored.values().next().value
      return {
        verification: {
          expected,
          monitored: enzoic.monitored.size,
          matched,
          wrongCustomData,
          missing,
          unexpected: enzoic.monitored.size - matched - wrongCustomData,
          sample: first === undefined ? undefined : { usernameHash: first.usernameHash, customData: first.customData }
        }
      }
    },
    async close () {
      await Promise.all([fa.close(), enzoic.close()])
      return { exit: true }
    }
  })
  const ready: SyncFakesReady = {
    type: 'ready',
    fusionAuth: { url: fa.url, apiKey: fa.apiKey },
    enzoic: { url: enzoic.url, apiKey: enzoic.apiKey, apiSecret: enzoic.apiSecret },
    tenants: fa.tenants.map(t => t.id),
    setupSeconds: (performance.now() - t0) / 1000
  }
  send(ready)
}
