// A database path that cannot work is one line naming the database and the real cause (exit 2): never a stack
// trace, never "has the bridge run yet?" for a permission problem, never "cannot listen" for a file's EACCES.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cli } from '../fixtures/in-process.js'
import { runCli } from '../fixtures/processes.js'
import { testEnv, tmpDir } from '../helper.js'
import { spawnCli } from './support.js'

const SERVE = { FUSIONAUTH_URL: 'http://127.0.0.1:9', FUSIONAUTH_API_KEY: 'k' }
const oneLine = (stderr: string): void => {
  assert.equal(stderr.trimEnd().split('\n').length, 1, `one line:\n${stderr}`)
  assert.ok(!/\n\s+at /.test(stderr), `no stack trace:\n${stderr}`)
}

// A real process: the point is that it ends (it used to hang for ever, silent, in a recursive mkdir under /proc).
test('serve with BRIDGE_DATABASE=/proc/no-such-folder/bridge.db exits 2 with one line naming the database', async t => {
  const c = spawnCli(['serve'], testEnv(tmpDir(t), { ...SERVE, BRIDGE_DATABASE: '/proc/no-such-folder/bridge.db' }))
  const timer = setTimeout(() => c.child.kill('SIGKILL'), 30_000)
  const { code } = await c.exited
  clearTimeout(timer)
  assert.equal(code, 2, `exit ${code} (null: killed after 30 s, still running):\n${c.stderr()}`)
  assert.equal(c.stderr(), 'breach-bridge: cannot start: the database /proc/no-such-folder/bridge.db (BRIDGE_DATABASE): cannot create the folder ' +
    '/proc/no-such-folder (ENOENT): a folder of the path cannot be created there: check the path\n')
  assert.equal(c.stdout(), '')
})

test('serve, check and alerts list with a folder, a file that is not a database, an impossible folder: the real cause, exit 2', async t => {
  const dir = tmpDir(t)
  const folder = join(dir, 'data')
  mkdirSync(folder)
  const text = join(dir, 'notes.txt')
  writeFileSync(text, 'not a database\n')
  const cases: Array<[string, RegExp]> = [
    [folder, new RegExp(`the database ${folder} \\(BRIDGE_DATABASE\\) is a folder, not a file: set BRIDGE_DATABASE to a file inside it, e\\.g\\. ${folder}/bridge\\.db`)],
    [text, new RegExp(`the database ${text} \\(BRIDGE_DATABASE\\) is not a SQLite database`)],
    [join(text, 'bridge.db'), /\(ENOTDIR\): a part of the path is a file, not a folder/]
  ]
  for (const [path, cause] of cases) {
    for (const args of [['alerts', 'list'], ['serve']]) {
      const r = await cli(args, testEnv(dir, { ...SERVE, BRIDGE_DATABASE: path }))
      assert.equal(r.code, 2, `${args.join(' ')} ${path}: ${r.stderr}`)
      assert.match(r.stderr, cause)
      assert.ok(!/cannot listen|has the bridge run yet/.test(r.stderr), r.stderr)
      oneLine(r.stderr)
    }
    const check = await cli(['check'], testEnv(dir, { BRIDGE_DATABASE: path }))
    assert.match(check.stdout, new RegExp(`FAIL +database +.*${cause.source}`))
  }
  // Not the database, and not the port either: a TLS file serve reads at start.
  const tls = await cli(['serve'], testEnv(dir, { ...SERVE, ENZOIC_CLIENT_CERT: 'direct', TLS_CERT_FILE: join(dir, 'no-cert.pem'), TLS_KEY_FILE: text, ENZOIC_CLIENT_CA_FILE: text }))
  assert.equal(tls.code, 2, tls.stderr)
  assert.equal(tls.stderr, `breach-bridge: cannot start: cannot read ${join(dir, 'no-cert.pem')} (ENOENT): check the file and its permissions\n`)
  const missing = await cli(['alerts', 'list'], { BRIDGE_DATABASE: '/proc/no-such-folder/bridge.db' })
  assert.equal(missing.code, 2)
  assert.equal(missing.stderr, 'breach-bridge: no database at /proc/no-such-folder/bridge.db (BRIDGE_DATABASE) — its folder /proc/no-such-folder does not exist either: ' +
    'has the bridge run yet? Point BRIDGE_DATABASE at the running bridge\'s database\n')
})

test('a database this user may not reach is a permission problem (EACCES), not "has the bridge run yet?"; serve does not blame the port', async t => {
  const base = mkdtempSync(join(tmpdir(), 'bridge-eacces-'))
  const dir = join(base, 'private')
  t.after(() => { chmodSync(dir, 0o700); rmSync(base, { recursive: true, force: true }) })
  mkdirSync(dir, { mode: 0o700 })
  chmodSync(base, 0o755)
  const db = join(dir, 'bridge.db')
  const env = { ...SERVE, BRIDGE_DATABASE: db }
  assert.equal((await cli(['migrate'], env)).code, 0)
  chmodSync(dir, 0o000)
  // As root nothing is refused: the commands run as another user (an operator who is not the service's user).
  const root = process.getuid?.() === 0
  const run = async (args: string[]): Promise<{ code: number | null, stderr: string }> =>
    root ? await runCli(args, testEnv(base, env), undefined, { user: { uid: 65534, gid: 65534 } }) : await cli(args, testEnv(base, env))
  for (const args of [['alerts', 'list'], ['serve']]) {
    const r = await run(args)
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, new RegExp(`the database ${db} \\(BRIDGE_DATABASE\\): (cannot reach the folder ${dir}|cannot open it) \\(EACCES\\): permission denied: run as the user the bridge runs as`))
    assert.ok(!/cannot listen|has the bridge run yet/.test(r.stderr), r.stderr)
    oneLine(r.stderr)
  }
})
