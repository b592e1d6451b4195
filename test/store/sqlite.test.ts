import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { tmpDir, waitFor } from '../helper.js'
import { createSqliteStore, type FileRecovery, type SqliteStoreOptions } from '../../src/store/sqlite/index.js'
import { chmodPrivate, SCHEMA_VERSION } from '../../src/store/sqlite/connection.js'
import MIGRATION_1 from '../../src/store/sqlite/migrations/0001-initial.js'
import type { Store } from '../../src/store/types.js'
import { alert, storeContract } from './contract.js'

function open (t: TestContext, file: string, options: Partial<SqliteStoreOptions> = {}): Store {
  const store = createSqliteStore({ file, pollMs: 50, ...options })
  t.after(() => store.close())
  return store
}

test('SQLite store: the contract', { concurrency: true }, async t => {
  await storeContract(t, {
    async fresh (st) {
      const file = join(tmpDir(st), 'bridge.db')
      return { open: async (options = {}) => open(st, file, options) }
    }
  })
})

test('SQLite store: the contract with inline commits (CLI commands)', { concurrency: true }, async t => {
  await storeContract(t, {
    async fresh (st) {
      const file = join(tmpDir(st), 'bridge.db')
      return { open: async (options = {}) => open(st, file, { ...options, writer: 'inline' }) }
    }
  })
})

test('creates its folder private and a WAL database at the current schema version, whatever the umask', async t => {
  const dir = tmpDir(t)
  const file = join(dir, 'nested', 'deeper', 'bridge.db')
  const umask = process.umask(0o000)
  let store: Store
  try {
    store = open(t, file)
    await store.alerts.insert(alert({ username: 'a@acme.io' }))
  } finally {
    process.umask(umask)
  }
  assert.ok(existsSync(file))
  const db = new Database(file, { readonly: true })
  t.after(() => db.close())
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(statSync(f).mode & 0o777, 0o600, `${f} is private`)
  assert.equal(statSync(join(dir, 'nested', 'deeper')).mode & 0o777, 0o700)
  assert.equal(statSync(join(dir, 'nested')).mode & 0o777, 0o700)
})

test('an existing database made world-readable is made private again', async t => {
  const file = join(tmpDir(t), 'b.db')
  const first = createSqliteStore({ file })
  await first.alerts.insert(alert({ username: 'a@acme.io' }))
  await first.close()
  const { chmodSync } = await import('node:fs')
  chmodSync(file, 0o644)
  open(t, file)
  assert.equal(statSync(file).mode & 0o777, 0o600)
})

test('a folder named as the database is refused and left as it was (never made mode 0600)', async t => {
  const dir = tmpDir(t)
  const { chmodSync, mkdirSync } = await import('node:fs')
  const folder = join(dir, 'not-a-file')
  mkdirSync(folder)
  chmodSync(folder, 0o755)
  assert.throws(() => createSqliteStore({ file: folder }))
  assert.equal(statSync(folder).mode & 0o777, 0o755)
})

test('a version-1 database is migrated in place: queued alerts stay due, leases and history kept', async t => {
  const file = join(tmpDir(t), 'old.db')
  const old = new Database(file)
  old.exec(MIGRATION_1)
  old.pragma('user_version = 1')
  const now = Date.now()
  const ins = old.prepare(`INSERT INTO alerts (id, idempotency_key, test, state, received_at, updated_at, email, had_password,
    next_attempt_at, lease_owner, lease_until, attempts) VALUES (?, ?, 0, ?, ?, ?, ?, 0, ?, ?, ?, ?)`)
  ins.run('q', 'k1', 'queued', now, now, 'q@acme.io', now - 1000, null, null, 0)
  ins.run('r', 'k2', 'retrying', now, now, 'r@acme.io', now + 3_600_000, null, null, 1)
  ins.run('p', 'k3', 'processing', now, now, 'p@acme.io', null, 'worker-1-aa', now - 1, 1)
  old.close()

  const store = open(t, file)
  assert.equal((await store.alerts.get('q'))!.nextAttemptAt, new Date(now - 1000).toISOString())
  assert.equal((await store.alerts.get('r'))!.nextAttemptAt, new Date(now + 3_600_000).toISOString())
  assert.equal((await store.alerts.get('p'))!.leaseOwner, 'worker-1-aa')
  const claimed = (await store.queue.claim('w', 10, 60_000)).map(c => c.alert.id).sort()
  assert.deepEqual(claimed, ['p', 'q'], 'the due one and the expired lease; not the one due in an hour')
})

test('a locked database: the whole batch is refused with StoreUnavailableError, nothing half-written; then it recovers', async t => {
  const file = join(tmpDir(t), 'b.db')
  const commits: number[] = []
  const store = open(t, file, { busyTimeoutMs: 100, onCommit: n => commits.push(n) })
  await store.ping()
  const other = new Database(file)
  t.after(() => other.close())
  other.exec('BEGIN IMMEDIATE')
  const results = await Promise.allSettled([
    store.alerts.insert(alert({ exposureID: 'l', username: 'l1@acme.io' })),
    store.alerts.insert(alert({ exposureID: 'l', username: 'l2@acme.io' }))
  ])
  for (const r of results) {
    assert.equal(r.status, 'rejected')
    assert.equal((r.reason as Error).name, 'StoreUnavailableError')
    assert.equal((r.reason as { code?: string }).code, 'BRIDGE_STORE_UNAVAILABLE')
    assert.match(String(((r.reason as Error).cause as Error).message), /locked|busy/i)
  }
  await assert.rejects(store.ping(), { name: 'StoreUnavailableError' })
  assert.deepEqual(commits, [])
  other.exec('ROLLBACK')
  const ok = await store.alerts.insert(alert({ exposureID: 'l', username: 'l1@acme.io' }))
  assert.equal(ok.duplicate, false)
  assert.equal((await store.alerts.list()).length, 1)
  await store.ping()
})

test('a command\'s write waits its turn behind another writer instead of failing (immediate transactions)', async t => {
  const file = join(tmpDir(t), 'b.db')
  const bridge = open(t, file)
  const { id } = await bridge.alerts.insert(alert({ exposureID: 'w', username: 'w@acme.io' }))
  const [c] = await bridge.queue.claim('w', 1, 60_000)
  await bridge.queue.kill(c!.lease, 'dead', [])
  const cli = open(t, file, { writer: 'inline', busyTimeoutMs: 5000 })
  // Another process holds the write lock for 400 ms (the bridge's writer, say).
  const holder = spawn(process.execPath, ['-e', `
    const d = new (require('better-sqlite3'))(${JSON.stringify(file)})
    d.exec('BEGIN IMMEDIATE'); console.log('locked')
    setTimeout(() => { d.exec('COMMIT'); d.close() }, 400)`], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { holder.kill() })
  await new Promise(resolve => holder.stdout.once('data', resolve))
  const started = Date.now()
  assert.deepEqual(await cli.queue.replay('dead'), [id])
  assert.ok(Date.now() - started >= 350, 'it waited for the lock')
})

test('a deleted database file: writes refuse until the store notices, then it re-creates the file from its own open copy (nothing lost)', async t => {
  const dir = tmpDir(t)
  const file = join(dir, 'b.db')
  const recoveries: FileRecovery[] = []
  const store = open(t, file, { pollMs: 300, onRecovered: r => recoveries.push(r) })
  const before = await store.alerts.insert(alert({ exposureID: 'x', username: 'before@acme.io' }))
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
  await assert.rejects(store.alerts.insert(alert({ exposureID: 'x', username: 'during@acme.io' })), (err: Error) => {
    assert.equal(err.name, 'StoreUnavailableError')
    assert.match((err.cause as Error).message, /removed or replaced/)
    return true
  })
  await assert.rejects(store.ping(), { name: 'StoreUnavailableError' })
  await waitFor(() => recoveries.length > 0, 'the store to recover')
  assert.deepEqual(recoveries, [{ what: 'recreated', file, savedTo: undefined }])
  await store.ping()
  const after = await store.alerts.insert(alert({ exposureID: 'x', username: 'after@acme.io' }))
  assert.equal(after.duplicate, false)
  // Another process (a command, sqlite3) sees both the alert acknowledged before and the one after, in the file.
  const db = new Database(file, { readonly: true })
  t.after(() => db.close())
  const ids = (db.prepare('SELECT id FROM alerts').all() as Array<{ id: string }>).map(r => r.id).sort()
  assert.deepEqual(ids, [before.id, after.id].sort())
  assert.equal(statSync(file).mode & 0o777, 0o600)
})

test('a replaced database file: the store takes it up, and saves what the replaced one held beside it', async t => {
  const dir = tmpDir(t)
  const file = join(dir, 'b.db')
  const recoveries: FileRecovery[] = []
  const store = open(t, file, { pollMs: 300, onRecovered: r => recoveries.push(r) })
  const before = await store.alerts.insert(alert({ exposureID: 'x', username: 'before@acme.io' }))
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
  new Database(file).close() // a restore of an old, empty backup
  await waitFor(() => recoveries.length > 0, 'the store to recover')
  assert.equal(recoveries[0]!.what, 'replaced')
  assert.equal(await store.alerts.get(before.id), undefined, 'the replacing file is the one used now')
  const saved = new Database(recoveries[0]!.savedTo!, { readonly: true })
  t.after(() => saved.close())
  assert.deepEqual((saved.prepare('SELECT id FROM alerts').all() as Array<{ id: string }>).map(r => r.id), [before.id], 'what was acknowledged is kept')
  assert.equal((await store.alerts.insert(alert({ exposureID: 'x', username: 'after@acme.io' }))).duplicate, false)
})

test('a database from a newer bridge is refused with a clear error', t => {
  const file = join(tmpDir(t), 'b.db')
  const db = new Database(file)
  db.pragma('user_version = 99')
  db.close()
  assert.throws(() => createSqliteStore({ file }), /schema version 99 is newer than this bridge's/)
})

test('a writer clock that moves time: due times follow the store clock', async t => {
  const clock = { now: 1_700_000_000_000 }
  const store = open(t, join(tmpDir(t), 'b.db'), { now: () => clock.now })
  const { id } = await store.alerts.insert(alert({ exposureID: 'c', username: 'c@acme.io' }))
  const [c] = await store.queue.claim('w', 1, 60_000)
  assert.equal(await store.queue.retry(c!.lease, 5000, 'x', []), true)
  assert.equal(await store.queue.nextDueIn(), 5000)
  assert.deepEqual(await store.queue.claim('w', 1, 60_000), [])
  clock.now += 5000
  assert.deepEqual((await store.queue.claim('w', 1, 60_000)).map(x => x.alert.id), [id])
})

test('wall-clock jumps move due times and leases with them: no hour-long wait after a step back, no stolen lease after a step forward', async t => {
  const clock = { wall: 1_700_000_000_000, mono: 1000 }
  const tick = (ms: number): void => { clock.wall += ms; clock.mono += ms }
  const store = open(t, join(tmpDir(t), 'b.db'), { clock: { wall: () => clock.wall, mono: () => clock.mono } })
  const back = await store.alerts.insert(alert({ exposureID: 'j1', username: 'back@acme.io' }))
  await store.alerts.insert(alert({ exposureID: 'j2', username: 'ahead@acme.io' }))
  const [b, a] = await store.queue.claim('w1', 2, 30_000)
  assert.equal(b!.alert.id, back.id)
  assert.equal(await store.queue.retry(b!.lease, 5000, 'FusionAuth 503', []), true)

  clock.wall -= 3_600_000 // NTP steps the clock an hour back
  tick(5000)
  await store.ping() // any write applies the shift; reads after it see it
  assert.deepEqual((await store.queue.claim('w2', 1, 30_000)).map(c => c.alert.id), [back.id], 'due 5 s later, not an hour and 5 s')

  clock.wall += 86_400_000 // and a day forward
  tick(1000)
  await store.ping()
  assert.deepEqual(await store.queue.claim('w2', 5, 30_000), [], 'w1\'s lease (30 s, 6 s old) is still live')
  assert.equal(await store.queue.finish(a!.lease, { outcome: 'no-user', users: [], actions: [] }), true)
})

test('chmod on the database never follows a symbolic link: a linked database, a planted -wal link, chmodPrivate itself', async t => {
  const dir = tmpDir(t)
  // The database path is a symlink to a file the operator keeps elsewhere: its mode is theirs.
  const real = join(dir, 'real.db')
  const first = createSqliteStore({ file: real })
  await first.alerts.insert(alert({ username: 'a@acme.io' }))
  await first.close()
  chmodSync(real, 0o640)
  const link = join(dir, 'link.db')
  symlinkSync(real, link)
  // Someone planted links where the -wal and -shm of the link's name would be, to a file of theirs.
  const victim = join(dir, 'victim.txt')
  writeFileSync(victim, 'not the bridge\'s', { mode: 0o644 })
  chmodSync(victim, 0o644)
  for (const suffix of ['-wal', '-shm']) symlinkSync(victim, `${link}${suffix}`)
  const store = open(t, link)
  assert.equal((await store.alerts.list()).length, 1)
  assert.equal(statSync(real).mode & 0o777, 0o640, 'the link\'s target keeps its mode')
  assert.equal(statSync(victim).mode & 0o777, 0o644, 'a planted link\'s target is never changed')

  assert.equal(chmodPrivate(link, 0o600), false)
  assert.equal(chmodPrivate(join(dir, 'dangling'), 0o600), false)
  symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling-link'))
  assert.equal(chmodPrivate(join(dir, 'dangling-link'), 0o600), false)
  assert.equal(existsSync(join(dir, 'nowhere')), false, 'nothing created through a link')
  assert.equal(chmodPrivate(victim, 0o600), true)
  assert.equal(statSync(victim).mode & 0o777, 0o600)
})
