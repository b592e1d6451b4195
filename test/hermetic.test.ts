import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decryptPayload } from '../src/intake/decrypt.js'
import { processContext } from '../src/cli/context.js'
import { runCli } from './fixtures/processes.js'
import { cli } from './fixtures/in-process.js'
import { startTestBridge, tmpDir } from './helper.js'

/** A `.env` as a user might leave it in a clone (the Quick start has them create one), but wrong for any test. */
const PAYLOAD_KEY = Buffer.alloc(16, 7)
const HOSTILE_ENV = [
  'ENZOIC_WEBHOOK_CREDENTIALS=x:y',
  'BRIDGE_DATABASE=/nonexistent/x.db',
  'ENZOIC_API_KEY=k',
  'ENZOIC_API_SECRET=s',
  'FUSIONAUTH_URL=http://127.0.0.1:9',
  'FUSIONAUTH_API_KEY=z',
  'BRIDGE_ACTIONS=comment',
  'LOG_LEVEL=silent',
  'PORT=1',
  `ENZOIC_PAYLOAD_KEY=hex:${PAYLOAD_KEY.toString('hex')}`,
  'ENZOIC_PAYLOAD_CIPHER=gcm',
  ''
].join('\n')

// Real processes: the point is what a child started beside a .env reads.
test('a .env in the repository or in the test\'s working directory changes nothing a child process does', async t => {
  const hostile = tmpDir(t, 'bridge-hostile-')
  writeFileSync(join(hostile, '.env'), HOSTILE_ENV)
  const bridge = await startTestBridge(t) // an empty database for `alerts list`
  const env = { BRIDGE_DATABASE: bridge.config.database }

  // Control: the CLI really reads ./.env, so a child started beside this file would see it. Without this,
  // the checks below could pass because the probes do not notice a .env at all.
  const seen = await runCli(['payload', 'encrypt'], {}, '{"probe":1}', { cwd: hostile })
  assert.equal(seen.code, 0, seen.stderr)
  assert.equal(decryptPayload(Buffer.from(seen.stdout.trim()), PAYLOAD_KEY, 'gcm').toString(), '{"probe":1}', 'key and cipher came from ./.env')
  const broken = await runCli(['alerts', 'list'], env, undefined, { cwd: hostile })
  assert.notEqual(broken.code, 0, 'BRIDGE_ACTIONS=comment from ./.env needs FUSIONAUTH_ACTOR_USER_ID')

  // The test process itself runs beside the hostile .env (as `npm test` runs in a clone that has one)…
  const previous = process.cwd()
  process.chdir(hostile)
  t.after(() => process.chdir(previous))

  // …and the fixture's children are unaffected: no key, no cipher, no actions come from it.
  const encrypt = await runCli(['payload', 'encrypt'], {}, '{"probe":1}')
  assert.equal(encrypt.code, 2, encrypt.stdout)
  assert.match(encrypt.stderr, /no key: pass --key-file FILE[^\n]*ENZOIC_PAYLOAD_KEY/)
  const list = await runCli(['alerts', 'list'], env)
  assert.equal(list.code, 0, list.stderr)
  assert.equal(list.stderr, '')

  // Nor do they run in the repository, where a user's .env lives: a path relative to the child's working
  // directory does not find the repository's package.json (in the repository it would, and would be read as a
  // key of the wrong size).
  const where = await runCli(['alerts', 'list'], { ...env, ENZOIC_PAYLOAD_KEY_FILE: 'package.json' })
  assert.equal(where.code, 2)
  assert.match(where.stderr, /ENZOIC_PAYLOAD_KEY_FILE: cannot read the file \(ENOENT\)/)
})

test('an in-process run sees only the environment the test passes: not this process\'s, not a .env in the working directory', async t => {
  const hostile = tmpDir(t, 'bridge-hostile-')
  writeFileSync(join(hostile, '.env'), HOSTILE_ENV)
  const bridge = await startTestBridge(t)
  const env = { BRIDGE_DATABASE: bridge.config.database }
  const previous = process.cwd()
  process.chdir(hostile)
  t.after(() => process.chdir(previous))

  // Control: the real entry's context does read ./.env here (into its own env, not into process.env).
  const real = await processContext()
  assert.equal(real.env.ENZOIC_PAYLOAD_CIPHER, 'gcm', 'processContext reads ./.env')
  assert.equal(real.env.BRIDGE_ACTIONS, 'comment')
  assert.equal(process.env.ENZOIC_PAYLOAD_CIPHER, undefined, 'and leaves process.env as it was')

  // The test process's own environment holds bridge variables too (as a developer's shell might).
  const polluted = { ENZOIC_PAYLOAD_KEY: `hex:${PAYLOAD_KEY.toString('hex')}`, BRIDGE_ACTIONS: 'comment', BRIDGE_DATABASE: '/nonexistent/x.db' }
  const saved = Object.fromEntries(Object.keys(polluted).map(k => [k, process.env[k]]))
  Object.assign(process.env, polluted)
  t.after(() => { for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v } })

  const encrypt = await cli(['payload', 'encrypt'], {}, { stdin: '{"probe":1}' })
  assert.equal(encrypt.code, 2, encrypt.stdout)
  assert.match(encrypt.stderr, /no key: pass --key-file FILE[^\n]*ENZOIC_PAYLOAD_KEY/)
  const list = await cli(['alerts', 'list'], env)
  assert.equal(list.code, 0, list.stderr)
  assert.equal(list.stderr, '')
  assert.equal(list.stdout, 'No alerts yet.\n')
  const check = await cli(['check', '--json'], env)
  assert.match(check.stdout, /ENZOIC_WEBHOOK_CREDENTIALS: required/, 'check ran on the env given')
  assert.ok(!check.stdout.includes('required by the comment action'), 'BRIDGE_ACTIONS came from neither')
})
