import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startEnzoicFake } from '../fakes/enzoic.js'
import { tmpDir } from '../helper.js'
import { ROOT, runCli } from '../fixtures/processes.js'
import { cli } from '../fixtures/in-process.js'

const URL = 'https://bridge.example.com/webhooks/enzoic'

test('--write-env refuses a symbolic link (even a dangling one); its target is untouched and nothing is registered', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const dir = tmpDir(t)
  const target = join(dir, 'authorized_keys')
  writeFileSync(target, 'ORIGINAL CONTENT\n', { mode: 0o644 })
  const link = join(dir, 'bridge.env')
  symlinkSync(target, link)
  const dangling = join(dir, 'dangling.env')
  symlinkSync(join(dir, 'not-there-yet'), dangling)

  for (const file of [link, dangling]) {
    const r = await cli(['enzoic', 'webhooks', 'register', '--url', URL, '--write-env', file], ez.env)
    assert.equal(r.code, 2, r.stdout + r.stderr)
    assert.match(r.stderr, /is a symbolic link: refusing to write a secret through it/)
    assert.ok(lstatSync(file).isSymbolicLink())
  }
  assert.equal(readFileSync(target, 'utf8'), 'ORIGINAL CONTENT\n')
  assert.equal(statSync(target).mode & 0o777, 0o644, 'the target\'s mode is not changed either')
  assert.throws(() => statSync(join(dir, 'not-there-yet')), { code: 'ENOENT' }, 'nothing created through the dangling link')
  assert.equal(ez.webhooks.length, 0, 'nothing registered: the file is checked first')
})

test('--write-env makes an existing 0644 file 0600 before the secret is written (shown by a write that fails)', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const dir = tmpDir(t)
  const file = join(dir, 'bridge.env')
  // A real process: only a child can run under a file-size limit (ulimit -f), which makes the append fail.
  // Exactly at the file-size limit the CLI runs under (1 KiB): reading and opening work, appending fails (EFBIG).
  // The file's mode after the run tells whether it was tightened before that write or only after it.
  const existing = `LOG_LEVEL=info\n${'#'.repeat(1024 - 'LOG_LEVEL=info\n'.length - 1)}\n`
  assert.equal(existing.length, 1024)
  writeFileSync(file, existing, { mode: 0o644 })
  assert.equal(statSync(file).mode & 0o777, 0o644)

  const r = await runCli(['enzoic', 'webhooks', 'register', '--url', URL, '--write-env', file], ez.env, undefined, { fileLimitBlocks: 1 })
  assert.equal(readFileSync(file, 'utf8'), existing, 'no partial secret in the file')
  assert.equal(statSync(file).mode & 0o777, 0o600, 'mode 0600 before the secret was to be written')
  assert.equal(r.code, 1, r.stdout + r.stderr)
  assert.match(r.stderr, /cannot write .*bridge\.env \(EFBIG\): the webhook was deleted again, nothing changed/)
  assert.equal(ez.webhooks.length, 0, 'a webhook whose secret could not be stored is taken back')
  assert.ok(!(r.stdout + r.stderr).includes('ENZOIC_WEBHOOK_CREDENTIALS='), 'the secret is not printed instead')

  // Without the limit: written, 0600, and the rest of the file kept.
  const ok = await cli(['enzoic', 'webhooks', 'register', '--url', URL, '--write-env', file], ez.env)
  assert.equal(ok.code, 0, ok.stderr)
  const hook = ez.webhooks[0]!
  assert.equal(statSync(file).mode & 0o777, 0o600)
  const text = readFileSync(file, 'utf8')
  assert.ok(text.startsWith(existing))
  assert.match(text, new RegExp(`^ENZOIC_WEBHOOK_CREDENTIALS=${hook.key}:${hook.secret}$`, 'm'))
  assert.ok(!ok.stdout.includes(hook.secret))
})

test('--write-env creates a missing file 0600; a failed registration leaves no empty file behind', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const dir = tmpDir(t)
  const file = join(dir, 'new.env')
  ez.fail(500, { times: 1 })
  const failed = await cli(['enzoic', 'webhooks', 'register', '--url', URL, '--write-env', file], ez.env)
  assert.equal(failed.code, 3, failed.stderr)
  assert.throws(() => statSync(file), { code: 'ENOENT' })
  const ok = await cli(['enzoic', 'webhooks', 'register', '--url', URL, '--write-env', file], ez.env)
  assert.equal(ok.code, 0, ok.stderr)
  assert.equal(statSync(file).mode & 0o777, 0o600)
})

test('--write-env fills in an empty ENZOIC_WEBHOOK_CREDENTIALS= line (a copy of .env.example) where it stands, instead of adding a second', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const dir = tmpDir(t)
  const file = join(dir, '.env')
  copyFileSync(join(ROOT, '.env.example'), file)
  const before = readFileSync(file, 'utf8')
  assert.match(before, /^ENZOIC_WEBHOOK_CREDENTIALS=$/m)

  const r = await cli(['enzoic', 'webhooks', 'register', '--url', URL, '--write-env', file], ez.env)
  assert.equal(r.code, 0, r.stderr)
  const hook = ez.webhooks[0]!
  const after = readFileSync(file, 'utf8')
  assert.deepEqual(after.match(/^\s*ENZOIC_WEBHOOK_CREDENTIALS\s*=.*$/gm), [`ENZOIC_WEBHOOK_CREDENTIALS=${hook.key}:${hook.secret}`], 'one assignment')
  const expected = before.replace(/^ENZOIC_WEBHOOK_CREDENTIALS=$/m, `# Enzoic webhook credentials, ${after.match(/credentials, (\S+)\n/)![1]}\nENZOIC_WEBHOOK_CREDENTIALS=${hook.key}:${hook.secret}`)
  assert.equal(after, expected, 'filled in where it stood; every other line kept')
  assert.equal(statSync(file).mode & 0o777, 0o600)
  assert.deepEqual(readdirSync(dir), ['.env'], 'no temporary file left')

  // A second register rotates: the pair now set stays in front, on an appended line.
  const again = await cli(['enzoic', 'webhooks', 'register', '--url', URL, '--write-env', file], ez.env)
  assert.equal(again.code, 0, again.stderr)
  const second = ez.webhooks[1]!
  assert.match(readFileSync(file, 'utf8'), new RegExp(`^ENZOIC_WEBHOOK_CREDENTIALS=${hook.key}:${hook.secret},${second.key}:${second.secret}$`, 'm'))
})

test('--write-env: filling in the empty line fails whole under a file-size limit, the file as it was and the webhook deleted again', async t => {
  const ez = await startEnzoicFake()
  t.after(() => ez.close())
  const dir = tmpDir(t)
  const file = join(dir, 'bridge.env')
  const existing = `ENZOIC_WEBHOOK_CREDENTIALS=\n${'#'.repeat(1024 - 'ENZOIC_WEBHOOK_CREDENTIALS=\n'.length - 1)}\n`
  writeFileSync(file, existing, { mode: 0o600 })
  // A real process: only a child can run under a file-size limit (ulimit -f).
  const r = await runCli(['enzoic', 'webhooks', 'register', '--url', URL, '--write-env', file], ez.env, undefined, { fileLimitBlocks: 1 })
  assert.equal(r.code, 1, r.stdout + r.stderr)
  assert.match(r.stderr, /\(EFBIG\): the webhook was deleted again, nothing changed/)
  assert.equal(readFileSync(file, 'utf8'), existing)
  assert.deepEqual(readdirSync(dir), ['bridge.env'], 'no temporary file left')
  assert.equal(ez.webhooks.length, 0)
})
