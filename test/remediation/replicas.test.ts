// Several `serve` replicas on one PostgreSQL database, as real processes (docs/design.md §9).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { startPostgres, type PgCluster } from '../fixtures/postgres.js'
import { spawnBridge, type BridgeProcess } from '../fixtures/processes.js'
import { cli } from '../fixtures/in-process.js'
import { startFusionAuthFake, type FusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, testEnv, tmpDir, waitFor } from '../helper.js'
import { openStore } from '../../src/store/index.js'
import type { Store } from '../../src/store/types.js'
import { classify } from '../../src/intake/alert.js'
import type { BreachAlert } from '../../src/alerts/types.js'

const EMAIL = (i: number): string => `replica-${i}@acme-corp.io`
const body = (i: number): Record<string, unknown> => ({ username: EMAIL(i), exposureID: 'exp-replicas', date: '2026-11-20T04:51:05Z' })

interface World { pgc: PgCluster, url: string, fa: FusionAuthFake, store: Store, env: NodeJS.ProcessEnv }

async function world (t: TestContext, users: number, env: Record<string, string> = {}): Promise<World | undefined> {
  const pgc = await startPostgres(t)
  if (pgc === undefined) return undefined
  const url = await pgc.createDatabase()
  const fa = await startFusionAuthFake({ latencyMs: 2 })
  t.after(() => fa.close())
  fa.addUsers(fa.tenants[0]!.id, users, i => ({ email: EMAIL(i), refreshTokens: 1 }))
  const store = await openStore(url, { role: 'serve' }) // the test's own view of the database (and the schema)
  t.after(() => store.close())
  return {
    pgc,
    url,
    fa,
    store,
    env: testEnv(tmpDir(t), {
      BRIDGE_DATABASE: url,
      FUSIONAUTH_URL: fa.url,
      FUSIONAUTH_API_KEY: fa.apiKey,
      FUSIONAUTH_TIMEOUT_MS: '5000',
      BRIDGE_LEASE_TTL: '2s',
      BRIDGE_RETRY_SCHEDULE: '100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms',
      ...env
    })
  }
}

async function replicas (t: TestContext, env: NodeJS.ProcessEnv, n: number): Promise<BridgeProcess[]> {
  // Started together: their schema migrations race for the advisory lock.
  const all = await Promise.all(Array.from({ length: n }, async () => spawnBridge(env)))
  t.after(async () => {
    for (const r of all) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM')
    await Promise.all(all.map(r => r.exited))
  })
  return all
}

const calls = (fa: FusionAuthFake, method: string, path: (j: { path: string, query: Record<string, string> }) => string | undefined): Map<string, number> => {
  const out = new Map<string, number>()
  for (const j of fa.journal) {
    if (j.method !== method || j.status !== 200) continue
    const key = path(j)
    if (key !== undefined) out.set(key, (out.get(key) ?? 0) + 1)
  }
  return out
}

test('three replicas: one alert posted to two at once is one row; 1,000 alerts drain although one replica is killed', async t => {
  // Enough alerts that the kill lands mid-drain with every replica busy, and that a fifth of them are in flight
  // or queued on the killed one; twice as many took twice the time and showed nothing more.
  const N = 1000
  const w = await world(t, N)
  if (w === undefined) return
  const { fa, store } = w
  const [a, b, c] = await replicas(t, w.env, 3) as [BridgeProcess, BridgeProcess, BridgeProcess]

  // The same alert to two replicas at the same instant: one row, both answers carry its id.
  for (let i = 0; i < 5; i++) {
    const same = { username: `twice-${i}@acme-corp.io`, exposureID: 'exp-twice' }
    const [r1, r2] = await Promise.all([postAlert(a.url, same), postAlert(b.url, same)])
    assert.equal(r1.status, 200)
    assert.equal(r2.status, 200)
    assert.equal(r1.body.alertId, r2.body.alertId)
    assert.deepEqual([r1.body.status, r2.body.status].sort(), ['accepted', 'duplicate'])
  }
  await waitFor(async () => (await store.alerts.countByState()).done === 5, 'the five to finish')
  fa.clearJournal()

  // 1,000 alerts spread over the replicas, as Enzoic would send them: a refused or cut request is sent
  // again to another replica. One replica is killed with SIGKILL while the others drain.
  const live = [a, b, c]
  const acked = new Map<string, number>()
  let next = 0
  let killedAt = -1
  const sender = async (): Promise<void> => {
    for (;;) {
      const i = next++
      if (i >= N) return
      for (let attempt = 0; ; attempt++) {
        const target = live[(i + attempt) % live.length]!
        try {
          const r = await postAlert(target.url, body(i))
          if (r.status === 200) { acked.set(r.body.alertId as string, i); break }
        } catch {}
        if (attempt > 20) throw new Error(`alert ${i} never acknowledged`)
      }
    }
  }
  const killer = (async () => {
    await waitFor(async () => (await store.alerts.countByState()).done >= 200, '200 alerts done', 60_000, 25)
    killedAt = (await store.alerts.countByState()).done
    a.child.kill('SIGKILL')
    live.splice(live.indexOf(a), 1)
  })()
  await Promise.all([...Array.from({ length: 16 }, sender), killer])
  assert.equal(await a.exited, null, 'killed, not exited')
  assert.ok(killedAt < N, 'killed mid-drain')

  await waitFor(async () => (await store.alerts.countByState()).done === N + 5, `all ${N} alerts done`, 90_000, 100)
  const counts = await store.alerts.countByState()
  assert.deepEqual(counts, { queued: 0, processing: 0, retrying: 0, waiting: 0, done: N + 5, dead: 0 })
  assert.equal(acked.size, N)

  // Every acknowledged alert was remediated.
  const killedOwner = `/${a.child.pid}/`
  const deletes = calls(fa, 'DELETE', j => /^\/api\/user\/[^/]+$/.test(j.path) ? j.path.slice('/api/user/'.length) : undefined)
  const revokes = calls(fa, 'DELETE', j => j.path === '/api/jwt/refresh' ? j.query.userId : undefined)
  let resumed = 0
  for (const id of acked.keys()) {
    const rec = (await store.alerts.get(id))!
    assert.equal(rec.outcome, 'actioned', `${id}: ${rec.lastError}`)
    const user = rec.users[0]!
    assert.equal(fa.user(user.userId)!.active, false)
    assert.equal(fa.user(user.userId)!.refreshTokens.length, 0)
    // No call is ever sent twice for a user: one an attempt never got to record (the killed replica's) is
    // checked in FusionAuth by the next holder before it would repeat it (the step's in-flight marker).
    assert.ok((deletes.get(user.userId) ?? 0) <= 1, `${user.userId} deactivated twice`)
    assert.ok((revokes.get(user.userId) ?? 0) <= 1, `${user.userId}'s sessions revoked twice`)
    if (rec.attempts === 1) {
      assert.equal(deletes.get(user.userId), 1)
      assert.equal(revokes.get(user.userId), 1)
    } else {
      // Attempted again: because the killed replica held it, or because an attempt failed and was retried
      // (a FusionAuth time-out on a loaded machine). Either way an earlier attempt recorded no step it sent.
      const history = await store.alerts.events(id)
      const byKilled = history.some(e => e.note?.startsWith('attempt ') === true && e.note.includes(killedOwner))
      const retried = history.some(e => e.state === 'retrying')
      if (byKilled) resumed++
      assert.ok(byKilled || retried, `${id} was attempted ${rec.attempts} times with neither the killed replica nor a retry: ${JSON.stringify(history)}`)
    }
  }
  t.diagnostic(`killed after ${killedAt} alerts were done; ${resumed} alerts taken over from the killed replica`)
  // The survivors are healthy.
  for (const r of [b, c]) assert.equal((await fetch(`${r.url}/readyz`)).status, 200)
})

test('PostgreSQL restarted during a burst: 503 while it is down, nothing acknowledged is lost, the replicas recover by themselves', async t => {
  const N = 400
  const w = await world(t, N)
  if (w === undefined) return
  const { pgc, store, fa } = w
  const [a, b] = await replicas(t, w.env, 2) as [BridgeProcess, BridgeProcess]
  const acked = new Set<string>()
  const refused: number[] = []
  let i = 0
  let restarted = false
  const sender = async (): Promise<void> => {
    while (i < N) {
      const n = i++
      for (;;) {
        try {
          const r = await postAlert((n % 2 === 0 ? a : b).url, body(n))
          if (r.status === 200) { acked.add(r.body.alertId as string); break }
          assert.equal(r.status, 503, JSON.stringify(r.body))
          assert.ok(r.headers.get('retry-after') !== null)
          refused.push(n)
        } catch (err) {
          const who = n % 2 === 0 ? a : b
          assert.fail(`the bridge stopped answering: ${(err as Error).message} (exit ${who.child.exitCode}); last log lines:\n${who.logs.slice(-8).join('\n')}`)
        }
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    }
  }
  const restart = (async () => {
    await waitFor(() => acked.size >= 100, '100 acknowledged', 30_000, 10)
    await pgc.stop('immediate')
    await waitFor(() => refused.length >= 5, 'refusals while PostgreSQL is down', 30_000, 10)
    const ready = await fetch(`${a.url}/readyz`)
    assert.equal(ready.status, 503, 'readiness fails while the store cannot commit')
    await pgc.start()
    restarted = true
  })()
  await Promise.all([...Array.from({ length: 8 }, sender), restart])
  assert.ok(restarted)
  assert.ok(refused.length >= 5)
  await pgc.start()
  await waitFor(async () => (await store.alerts.countByState().catch(() => undefined))?.done === N, `all ${N} done`, 60_000, 100)
  for (const id of acked) assert.equal((await store.alerts.get(id))?.outcome, 'actioned', id)
  assert.equal(acked.size, N)
  assert.equal(fa.users().filter(u => u.active).length, 0)
  // Through the restart (the worker's lost bookkeeping, its retries) no user's sessions were revoked twice.
  const revokes = calls(fa, 'DELETE', j => j.path === '/api/jwt/refresh' ? j.query.userId : undefined)
  assert.deepEqual([...revokes.values()].filter(n => n > 1), [], 'a revocation sent twice')
  for (const r of [a, b]) await waitFor(async () => (await fetch(`${r.url}/readyz`)).status === 200, 'readiness back', 15_000, 100)
})

test('the LISTEN connection killed: a replica still hears new work at once; `alerts replay` from the CLI wakes it too', async t => {
  const w = await world(t, 3)
  if (w === undefined) return
  const { pgc, store, fa, url } = w
  const [r] = await replicas(t, w.env, 1) as [BridgeProcess]
  const db = new URL(url).pathname.slice(1)
  await waitFor(async () => ((await pgc.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${db}' AND query LIKE 'LISTEN%'`)) as Array<{ n: number }>)[0]!.n === 1, 'the replica to listen')
  await pgc.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db}' AND query LIKE 'LISTEN%'`)
  await waitFor(async () => ((await pgc.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${db}' AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`)) as Array<{ n: number }>)[0]!.n === 1, 'the replica to listen again')

  // Work committed by another process (not through this replica's HTTP intake): only NOTIFY can tell it
  // before its backstop poll (15 s).
  const c = classify(body(0))
  assert.equal(c.kind, 'alert')
  const started = Date.now()
  const { id } = await store.alerts.insert((c as { alert: BreachAlert }).alert)
  const done = await waitFor(async () => { const a = await store.alerts.get(id); return a?.state === 'done' ? a : undefined }, 'the alert to be processed', 10_000)
  assert.equal(done.outcome, 'actioned')
  assert.ok(Date.now() - started < 5000, `woken by NOTIFY (${Date.now() - started} ms), not by the poll`)

  // A dead alert replayed by the CLI from "another host" (this test's process, same URL) wakes the replica.
  fa.fail(400, { match: (m, p) => m === 'DELETE' && p.startsWith('/api/user/') })
  const second = await postAlert(r.url, body(1))
  const dead = await waitFor(async () => { const a = await store.alerts.get(second.body.alertId as string); return a?.state === 'dead' ? a : undefined }, 'the alert to die')
  assert.match(dead.lastError ?? '', /400/)
  fa.clearFaults()
  const replay = await cli(['alerts', 'replay', dead.id], { BRIDGE_DATABASE: url })
  assert.equal(replay.code, 0, replay.stderr)
  const replayed = Date.now()
  await waitFor(async () => (await store.alerts.get(dead.id))?.outcome === 'actioned', 'the replayed alert to be processed', 10_000)
  assert.ok(Date.now() - replayed < 5000, 'woken by the replay\'s NOTIFY')
  r.child.kill('SIGTERM')
  assert.equal(await r.exited, 0)
  assert.deepEqual(await store.queue.leaseOwners(), [], 'a clean shutdown leaves no lease')
})
