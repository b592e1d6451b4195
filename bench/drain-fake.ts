// The FusionAuth fake for bench/drain.ts: one tenant, one user per alert email, a fixed latency per call.
// Runs as its own process (the default: its CPU does not compete with the bridge's event loop) or inside
// the worker's process (`--fake-in-process`). Calls are counted from the fake's journal, which is
// emptied every 500 ms so it does not grow with the run.
import { pathToFileURL } from 'node:url'
import { startFusionAuthFake, type JournalEntry } from '../test/fakes/fusionauth.js'
import { jobOf, send, serveRequests } from './drain-proc.js'

/** The address of the i-th alert and of the i-th FusionAuth user. */
export const drainEmail = (i: number): string => `drain-${String(i).padStart(6, '0')}@bench.acme.io`
/** Look-ups the worker's idle-latency probe makes: not part of any alert. */
export const PROBE_PREFIX = 'probe-'

export interface DrainFakeJob { users: number, latencyMs: number }

export interface DrainFakeStats {
  /** Calls answered, by operation (`lookup`, `deactivate`, `revoke`, `get user`, `other …`); probes apart. */
  byOp: Record<string, number>
  alertCalls: number
  probeCalls: number
  statuses: Record<string, number>
  /** Largest journal length seen before it was emptied. */
  journalMax: number
  activeUsers: number
  inactiveUsers: number
}

export interface DrainFake {
  url: string
  apiKey: string
  tenantId: string
  stats (): DrainFakeStats
  close (): Promise<void>
}

function operation (e: JournalEntry): string {
  if (e.method === 'GET' && e.path === '/api/user' && e.query.email !== undefined) return e.query.email.startsWith(PROBE_PREFIX) ? 'probe' : 'lookup'
  if (e.method === 'DELETE' && e.path.startsWith('/api/user/')) return 'deactivate'
  if (e.method === 'DELETE' && e.path === '/api/jwt/refresh') return 'revoke'
  // The bridge's key probe asks for a user that does not exist (404 means the key works).
  if (e.method === 'GET' && e.path.startsWith('/api/user/')) return 'get user'
  return `other ${e.method} ${e.path}`
}

export async function startDrainFake (job: DrainFakeJob): Promise<DrainFake> {
  const fake = await startFusionAuthFake({ tenants: 1 })
  const tenantId = fake.tenants[0]!.id
  fake.addUsers(tenantId, job.users, i => ({ email: drainEmail(i) }))
  fake.setLatency(job.latencyMs)

  const byOp: Record<string, number> = {}
  const statuses: Record<string, number> = {}
  let journalMax = 0
  /** Counts answered entries and drops them; in-flight ones (status 0) stay until they are answered. */
  const drain = (): void => {
    const journal = fake.journal
    journalMax = Math.max(journalMax, journal.length)
    const keep: JournalEntry[] = []
    for (const e of journal) {
      if (e.status === 0) { keep.push(e); continue }
      const op = operation(e)
      byOp[op] = (byOp[op] ?? 0) + 1
      if (op !== 'probe') statuses[e.status] = (statuses[e.status] ?? 0) + 1
    }
    journal.length = 0
    journal.push(...keep)
  }
  const timer = setInterval(drain, 500)
  timer.unref()

  return {
    url: fake.url,
    apiKey: fake.apiKey,
    tenantId,
    stats () {
      drain()
      let active = 0
      for (const u of fake.users()) if (u.active) active++
      const probeCalls = byOp.probe ?? 0
      const alertCalls = Object.entries(byOp).reduce((n, [op, c]) => op === 'probe' ? n : n + c, 0)
      return { byOp: { ...byOp }, alertCalls, probeCalls, statuses: { ...statuses }, journalMax, activeUsers: active, inactiveUsers: job.users - active }
    },
    async close () {
      clearInterval(timer)
      await fake.close()
    }
  }
}

// As a child process: start, say where, answer `stats`, stop on `close`.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const fake = await startDrainFake(jobOf<DrainFakeJob>())
  serveRequests({
    stats: () => ({ stats: fake.stats() }),
    close: async () => {
      await fake.close()
      return { exit: true }
    }
  })
  send({ type: 'ready', url: fake.url, apiKey: fake.apiKey })
}
