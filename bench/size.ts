// npm run bench:size — what the database holds per 100,000 alerts, and what a purge frees (both backends).
//
// Seeds N realistic alerts (the ingest benchmark's shape: exposure details, custom data, ~0.8 kB of JSON),
// processes them as the worker records them (claimed, two steps each, finished with users and actions),
// then purges every finished alert's personal data (tombstones stay). Prints the size after each phase.
// Tunables: BENCH_SIZE_ALERTS (100000).
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import Database from 'better-sqlite3'
import pg from 'pg'
import { startPostgres } from '../test/fixtures/postgres.js'
import { classify } from '../src/intake/alert.js'
import type { BreachAlert } from '../src/alerts/types.js'
import { openStore } from '../src/store/index.js'
import type { Store } from '../src/store/types.js'

const N = Number(process.env.BENCH_SIZE_ALERTS ?? 100_000)
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)

function alert (i: number): BreachAlert {
  const c = classify({
    date: '2017-01-17T04:51:05.1915231Z',
    exposureID: `size-exposure-${i % 50}`,
    username: `user-${i}@size.acme.io`,
    passwordType: 0,
    customData: `crm-${i}`,
    exposureDetails: { title: 'Mega Forum breach', date: '2017-01-01T00:00:00Z', entries: 1200000, category: 'Forum', sourceURLs: ['https://example.invalid/dump'], exposedData: ['Emails', 'Passwords', 'Usernames', 'IP addresses'], dateAdded: '2017-01-15T00:00:00Z' },
    region: 'eu-west'
  })
  return (c as { alert: BreachAlert }).alert
}

async function fill (store: Store): Promise<void> {
  for (let i = 0; i < N; i += 5000) await Promise.all(Array.from({ length: Math.min(5000, N - i) }, (_, k) => store.alerts.insert(alert(i + k), { sourceIp: '203.0.113.7' })))
  for (;;) {
    const claimed = await store.queue.claim('size', 500, 600_000)
    if (claimed.length === 0) break
    await Promise.all(claimed.map(async c => {
      const user = { userId: '5d9c4a40-0000-4000-8000-0000000000' + String(c.alert.id).slice(-2), tenantId: '5d9c4a40-0000-4000-8000-000000000001', email: c.alert.email }
      const steps = (await store.steps.plan(c.lease, ['deactivate', 'revoke-sessions'].map(action => ({ ...user, action, phase: 'immediate' as const, dueInMs: 0 }))))!
      for (const s of steps) await store.steps.update(c.lease, s.id, { state: 'done', httpStatus: 200, undo: s.action === 'deactivate' ? { wasActive: true } : undefined })
      await store.queue.finish(c.lease, { outcome: 'actioned', users: [{ ...user, outcome: 'actioned' }], actions: [] })
    }))
  }
}

const rows: string[][] = []
const dir = mkdtempSync(join(tmpdir(), 'bench-size-'))
try {
  // SQLite
  const file = join(dir, 'bridge.db')
  const sqliteSize = (): number => ['', '-wal'].reduce((n, s) => { try { return n + statSync(file + s).size } catch { return n } }, 0)
  let store = await openStore(file, { role: 'serve' })
  await fill(store)
  await store.close()
  const checkpoint = (): void => { const db = new Database(file); db.pragma('wal_checkpoint(TRUNCATE)'); db.close() }
  checkpoint()
  const full = sqliteSize()
  store = await openStore(file, { role: 'serve' })
  const { purged } = await store.alerts.purge({ olderThanMs: 0 })
  await store.close()
  checkpoint()
  const afterPurge = sqliteSize()
  const db = new Database(file)
  const free = db.pragma('freelist_count', { simple: true }) as number * (db.pragma('page_size', { simple: true }) as number)
  db.exec('VACUUM')
  db.close()
  rows.push(['SQLite', mb(full), mb(afterPurge), mb(free), mb(sqliteSize()), String(purged)])

  // PostgreSQL
  const cleanups: Array<() => unknown> = []
  const pgc = await startPostgres({ name: 'bench:size', after: (fn: () => unknown) => { cleanups.push(fn) }, skip: () => undefined } as unknown as TestContext)
  if (pgc !== undefined) {
    try {
      const url = await pgc.createDatabase()
      const size = async (): Promise<number> => {
        const c = new pg.Client({ connectionString: url })
        await c.connect()
        await c.query('CHECKPOINT')
        const r = await c.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')
        await c.end()
        return Number(r.rows[0]!.n)
      }
      const pstore = await openStore(url, { role: 'serve' })
      const empty = await size()
      await fill(pstore)
      const pfull = await size() - empty
      const p = await pstore.alerts.purge({ olderThanMs: 0 })
      await pstore.close()
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      await c.query('VACUUM')
      const pAfterVacuum = await size() - empty
      await c.query('VACUUM FULL')
      await c.end()
      rows.push(['PostgreSQL', mb(pfull), mb(pAfterVacuum), '(reused after VACUUM)', mb(await size() - empty), String(p.purged)])
    } finally {
      for (const fn of cleanups.reverse()) await fn()
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

console.log(`bench:size — ${N} alerts, each processed (2 steps) then purged`)
console.log(['backend', 'full MB', 'after purge MB', 'freed for reuse MB', 'after VACUUM (FULL) MB', 'purged'].join(' | '))
for (const r of rows) console.log(r.join(' | '))
