// The CLI as a real process, only where the process is the point: the real binary's exit code, and Ctrl-C.
// Everything else runs in-process (fixtures/in-process.ts); the other spawned tests are listed in test/README.md.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { startEnzoicFake } from '../fakes/enzoic.js'
import { startTestBridge, testEnv, tmpDir } from '../helper.js'
import { childCwd, ROOT, runCli, type CliResult } from '../fixtures/processes.js'
import { cli } from '../fixtures/in-process.js'
import { spawnCli } from './support.js'

/**
 * bin/breach-bridge.js in a copy of the package's layout without dist/ (src, node_modules and package.json
 * linked to the repository's), so it runs the sources through tsx even where a stale build exists.
 */
function binWithoutDist (t: import('node:test').TestContext): string {
  const root = tmpDir(t, 'bridge-bin-')
  mkdirSync(join(root, 'bin'))
  copyFileSync(join(ROOT, 'bin', 'breach-bridge.js'), join(root, 'bin', 'breach-bridge.js'))
  for (const name of ['src', 'node_modules', 'package.json']) symlinkSync(join(ROOT, name), join(root, name))
  return join(root, 'bin', 'breach-bridge.js')
}

async function runBin (bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const dir = childCwd()
  try {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir.cwd, env: { PATH: process.env.PATH, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const code = await new Promise<number | null>((resolve, reject) => { child.on('close', resolve); child.on('error', reject) })
    return { code, stdout, stderr }
  } finally {
    dir.release()
  }
}

test('the real binary: serve with its port taken is one line that says what to do, no stack trace, exit 3', async t => {
  const busy = createServer()
  await new Promise<void>(resolve => busy.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => busy.close(resolve)))
  const port = (busy.address() as { port: number }).port
  const dir = tmpDir(t)
  const r = await runBin(binWithoutDist(t), ['serve'], testEnv(dir, { PORT: String(port), BRIDGE_DATABASE: join(dir, 'serve.db'), FUSIONAUTH_URL: 'http://127.0.0.1:9', FUSIONAUTH_API_KEY: 'k' }))
  assert.equal(r.code, 3, r.stdout + r.stderr)
  assert.equal(r.stderr, `breach-bridge: cannot listen on 127.0.0.1:${port}: the port is already in use (another bridge running?). Stop that process, or set PORT (and HOST) to a free address\n`)
})

test('Ctrl-C in a command that does not take it itself: "interrupted", exit 130', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const bridge = await startTestBridge(t)
  const env = { BRIDGE_DATABASE: bridge.config.database, ...ez.env }
  assert.equal((await cli(['enzoic', 'webhooks', 'register', '--url', 'http://127.0.0.1:9/webhooks/enzoic', '--insecure-url'], env)).code, 0)
  const c = spawnCli(['enzoic', 'webhooks', 'test', '--wait', '60s', '--json'], env)
  await c.waitForStderr(/Waiting up to 60 s/)
  c.child.kill('SIGINT')
  const { code } = await c.exited
  assert.equal(code, 130, c.stderr())
  assert.match(c.stderr(), /breach-bridge: interrupted/)
})

test('an ./.env that cannot be read is said, never silent: a warning on stderr, and in serve\'s log', async t => {
  const cwd = tmpDir(t, 'bridge-dotenv-')
  mkdirSync(join(cwd, '.env')) // a folder: unreadable as a file for root too (EISDIR)
  const list = await runCli(['alerts', 'list'], { BRIDGE_DATABASE: join(cwd, 'none.db') }, undefined, { cwd })
  assert.equal(list.code, 2)
  assert.match(list.stderr, /^breach-bridge: warning: cannot read \.\/\.env \(EISDIR\): its settings are not applied\nbreach-bridge: no database at /)
  const serve = await runCli(['serve'], testEnv(cwd, { BRIDGE_DATABASE: '/proc/no-such-folder/bridge.db', FUSIONAUTH_URL: 'http://127.0.0.1:9', FUSIONAUTH_API_KEY: 'k' }), undefined, { cwd })
  assert.equal(serve.code, 2, serve.stderr)
  assert.match(serve.stderr, /^breach-bridge: warning: cannot read \.\/\.env \(EISDIR\)/)
  assert.ok(serve.stdout.split('\n').some(l => l.includes('"level":40') && l.includes('cannot read ./.env (EISDIR)')), serve.stdout)
})

test('output into a pipe whose reader has gone (`breach-bridge … | head`): exit 0, no stack trace', async () => {
  const c = spawnCli(['--help'], {})
  // The parent holds the only read end: closed before the child has started, its first write meets EPIPE.
  c.child.stdout!.destroy()
  const { code, signal } = await c.exited
  assert.equal(signal, null)
  assert.equal(c.stderr(), '')
  assert.equal(code, 0)
})
