// Durability on SQLite, counted where it happens: the fsync calls the process makes. A webhook insert is answered
// only after its batch commits, so that commit must reach the disk (an fsync of the WAL); the worker's bookkeeping
// alone commits without one (the trade docs/performance.md describes). A process kill cannot tell the two apart —
// the commit is in the kernel's page cache either way — so the process is run under strace, which counts them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { childCwd, ROOT, TSX_IMPORT } from '../fixtures/processes.js'

const strace = (() => {
  try { execFileSync('strace', ['-V'], { stdio: 'ignore' }); return true } catch { return false }
})()

const INSERTS = 6
const CLAIMS = 6

/** The child: opens a store, stores alerts one batch at a time, then claims them one batch at a time, marking each phase. */
function driver (): string {
  const src = (p: string): string => JSON.stringify(pathToFileURL(join(ROOT, 'src', p)).href)
  return `import { openStore } from ${src('store/index.ts')}
import { classify } from ${src('intake/alert.ts')}
const store = await openStore(process.argv[2], { role: 'serve' })
const mark = (phase) => process.stderr.write('PHASE:' + phase + '\\n')
mark('inserts')
for (let i = 0; i < ${INSERTS}; i++) {
  const c = classify({ exposureID: 'exp-fsync', username: 'user-' + i + '@acme-corp.io' })
  await store.alerts.insert(c.alert)
}
mark('bookkeeping')
for (let i = 0; i < ${CLAIMS}; i++) if ((await store.queue.claim('test-host/1/fsync', 1, 60000)).length !== 1) throw new Error('nothing claimed')
mark('end')
await store.close()
`
}

/** fsync-family calls between the PHASE markers, as strace logged them (every thread, in order). */
function syncsByPhase (log: string): Record<string, number> {
  const counts: Record<string, number> = {}
  let phase = 'open'
  for (const line of log.split('\n')) {
    const m = /write\(2, "PHASE:(\w+)/.exec(line)
    if (m !== null) phase = m[1]!
    // A call another thread interrupted is logged twice: \`fsync(5 <unfinished ...>\`, then \`<... fsync resumed>\`.
    else if (/\b(fsync|fdatasync)\(/.test(line)) counts[phase] = (counts[phase] ?? 0) + 1
  }
  return counts
}

test('SQLite: every batch that acknowledges alerts is fsync\'d before the answer; the worker\'s bookkeeping alone is not', { skip: !strace && process.env.CI !== 'true' ? 'SKIPPED: strace (Debian package strace) is not installed' : false }, t => {
  assert.ok(strace, 'the strace command is installed (.ci/run installs it)')
  const { cwd, release } = childCwd()
  t.after(release)
  const script = join(cwd, 'driver.mts')
  writeFileSync(script, driver())
  const traced = join(cwd, 'strace.log')
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=fsync,fdatasync,write', '-e', 'signal=none', '-o', traced,
    process.execPath, ...TSX_IMPORT, script, join(cwd, 'bridge.db')], { cwd, encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.error, undefined, String(r.error))
  assert.equal(r.status, 0, r.stderr)
  const counts = syncsByPhase(readFileSync(traced, 'utf8'))
  t.diagnostic(`fsync calls by phase: ${JSON.stringify(counts)}`)
  assert.ok((counts.inserts ?? 0) >= INSERTS, `one fsync per insert batch at least: ${JSON.stringify(counts)}`)
  assert.equal(counts.bookkeeping ?? 0, 0, `claims alone commit without an fsync: ${JSON.stringify(counts)}`)
})
