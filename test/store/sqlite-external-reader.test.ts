import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { postAlert, testEnv, tmpDir } from '../helper.js'
import { spawnBridge } from '../fixtures/processes.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { openStore } from '../../src/store/index.js'

/** The POSIX locks /proc/locks lists for a process on a file (matched by inode: the device's naming varies by file system). */
function locksOf (pid: number, file: string): string[] {
  const ino = String(statSync(file).ino)
  return readFileSync('/proc/locks', 'utf8').split('\n').filter(l => {
    const f = l.trim().split(/\s+/)
    // "1: POSIX  ADVISORY  READ 1234 08:01:5678 128 128"
    return f[1] === 'POSIX' && f[4] === String(pid) && f[5]?.split(':')[2] === ino
  })
}

const sqlite3 = (() => {
  try { execFileSync('sqlite3', ['-version'], { stdio: 'ignore' }); return true } catch { return false }
})()

// Regression: opening and closing the database file with `fs` in a process that holds SQLite's POSIX locks
// drops them all, so an operator's read-only `sqlite3` query thought it was the last connection and unlinked the
// WAL under the running bridge: later alerts were acknowledged into an unlinked file and lost on a crash.
test('an operator\'s sqlite3 read beside a running bridge loses no acknowledged alert, through a SIGKILL', { skip: !sqlite3 && process.env.CI !== 'true' ? 'SKIPPED: sqlite3 (Debian package sqlite3) is not installed' : false }, async t => {
  assert.ok(sqlite3, 'the sqlite3 command is installed (.ci/run installs it)')
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const dir = tmpDir(t)
  const file = join(dir, 'bridge.db')
  const bridge = await spawnBridge(testEnv(dir, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey }))
  t.after(() => { bridge.child.kill('SIGKILL') })
  const pid = bridge.child.pid!

  const acked: string[] = []
  const send = async (n: number, tag: string): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const r = await postAlert(bridge.url, { exposureID: `${tag}-${i}`, username: `${tag}-${i}@nobody-here.io` })
      assert.equal(r.status, 200)
      acked.push(r.body.alertId as string)
    }
  }
  await send(10, 'before')
  const held = locksOf(pid, file)
  assert.ok(held.length > 0, 'the bridge holds a POSIX lock on its database file')

  // What the README tells operators to do.
  const count = execFileSync('sqlite3', [file, 'SELECT count(*) FROM alerts'], { encoding: 'utf8' }).trim()
  assert.equal(count, '10')
  assert.ok(existsSync(`${file}-wal`), 'the WAL is still there after the external read')
  assert.ok(locksOf(pid, file).length > 0, 'the bridge still holds its lock after the external read')

  // The `bb` helper's commands (another process, through the store) are as harmless.
  const cli = await openStore(file, { role: 'command' })
  assert.equal((await cli.alerts.list()).length, 10)
  await cli.close()
  assert.ok(existsSync(`${file}-wal`) && locksOf(pid, file).length > 0, 'a command reading the store leaves the WAL and the lock')

  await send(20, 'after')
  // Another process sees the new alerts: they went into the live WAL, not an unlinked one.
  const seen = execFileSync('sqlite3', [file, 'SELECT count(*) FROM alerts'], { encoding: 'utf8' }).trim()
  assert.equal(seen, '30')

  bridge.child.kill('SIGKILL')
  await bridge.exited
  const db = new Database(file, { readonly: true })
  const ids = new Set((db.prepare('SELECT id FROM alerts').all() as Array<{ id: string }>).map(r => r.id))
  db.close()
  assert.deepEqual(acked.filter(id => !ids.has(id)), [], 'every acknowledged alert survives the SIGKILL')
})
