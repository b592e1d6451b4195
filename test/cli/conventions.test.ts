import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { createProgram } from '../../src/cli.js'
import { startEnzoicFake } from '../fakes/enzoic.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { freePort, postAlert, startTestBridge, testEnv, tmpDir } from '../helper.js'
import { cli, testContext } from '../fixtures/in-process.js'

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

test('--version prints package.json\'s version; --help and -h exit 0', async () => {
  const v = await cli(['--version'], {})
  assert.equal(v.code, 0, v.stderr)
  assert.equal(v.stdout, `${PACKAGE_VERSION}\n`)
  assert.equal((await cli(['-V'], {})).stdout, `${PACKAGE_VERSION}\n`)
  const help = await cli(['--help'], {})
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: breach-bridge/)
  assert.equal((await cli(['alerts', 'list', '-h'], {})).code, 0)
})

/** Every command, by its words: `['alerts', 'list']`, … (the tree of the real program). */
function commandPaths (cmd: Command, path: string[] = []): string[][] {
  const here = path.length > 0 ? [path] : []
  return [...here, ...cmd.commands.filter(c => c.name() !== 'help').flatMap(c => commandPaths(c, [...path, c.name()]))]
}

test('every command\'s --help has examples and names the environment variables it reads', async () => {
  const paths = commandPaths(createProgram(testContext({}).ctx))
  assert.ok(paths.length >= 18, `found ${paths.length} commands`)
  const results = await Promise.all(paths.map(async p => ({ p, r: await cli([...p, '--help'], {}) })))
  for (const { p, r } of results) {
    const what = p.join(' ')
    assert.equal(r.code, 0, `${what}: ${r.stderr}`)
    assert.match(r.stdout, /^Examples:\n {2}\$ \S/m, `${what}: no examples`)
    assert.match(r.stdout, /^Environment:\n {2}\S/m, `${what}: no environment section`)
    assert.match(r.stdout, /Exit codes: 0 ok, 1 failure/, what)
  }
  const byPath = new Map(results.map(({ p, r }) => [p.join(' '), r.stdout]))
  assert.match(byPath.get('alerts list')!, /BRIDGE_DATABASE/)
  assert.match(byPath.get('enzoic monitor sync')!, /ENZOIC_API_KEY[\s\S]*FUSIONAUTH_URL[\s\S]*BRIDGE_DATABASE/)
  assert.match(byPath.get('payload encrypt')!, /ENZOIC_PAYLOAD_KEY[\s\S]*ENZOIC_PAYLOAD_CIPHER/)
  assert.match(byPath.get('serve')!, /HOST, PORT/)
  const top = await cli(['--help'], {})
  assert.equal(top.stdout.match(/docs\/cli\.md, "Environment"/g)?.length, 1, `the top-level --help names the environment once:\n${top.stdout}`)
})

test('exit codes: 0 ok, 1 failure, 2 usage or configuration, 3 unavailable, 130 interrupted', async t => {
  const dir = tmpDir(t)
  const bridge = await startTestBridge(t, {}, dir)
  const db = { BRIDGE_DATABASE: bridge.config.database }

  await t.test('0: success', async () => {
    const r = await cli(['alerts', 'list'], db)
    assert.equal(r.code, 0, r.stderr)
  })

  await t.test('1: the command ran and the answer is no', async () => {
    const r = await cli(['alerts', 'show', 'abcd1234'], db)
    assert.equal(r.code, 1)
    assert.equal(r.stderr, 'breach-bridge: no alert abcd1234\n')
  })

  await t.test('2: usage errors, commander\'s own included, and configuration errors, in every command', async () => {
    const usage: Array<[string[], RegExp]> = [
      [['alerts', 'list', '--bogus'], /unknown option '--bogus'/],
      [['alerts', 'list', '--limit', 'x'], /--limit <n>.*must be a positive whole number/],
      [['alerts', 'list', '--state', 'nope'], /Allowed choices/],
      [['alerts', 'list', '--json', '--csv'], /cannot be used with/],
      [['alerts', 'list', '--since', 'yesterday'], /give a date .* or a duration/],
      [['alerts', 'purge'], /required option '--older-than <duration>' not specified/],
      [['alerts', 'show'], /missing required argument 'id'/],
      [['nonsense'], /unknown command 'nonsense'/],
      [[], /Usage: breach-bridge/],
      [['completion', 'fish'], /Allowed choices are bash, zsh/]
    ]
    const usageRuns = await Promise.all(usage.map(async ([args]) => await cli(args, db)))
    for (const [i, [args, message]] of usage.entries()) {
      const r = usageRuns[i]!
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, message, args.join(' '))
      assert.equal(r.stdout, '', args.join(' '))
    }
    const config: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['serve'], { ...db, ENZOIC_WEBHOOK_CREDENTIALS: 'k:s' }, /FUSIONAUTH_URL: required/],
      [['alerts', 'list'], { ...db, BRIDGE_ACTIONS: 'explode' }, /BRIDGE_ACTIONS: entry 1 is not a known action/],
      [['migrate'], { BRIDGE_DATABASE: 'mysql://x/y' }, /BRIDGE_DATABASE: must be a file path/],
      [['enzoic', 'webhooks', 'list'], db, /ENZOIC_API_KEY: required/],
      [['enzoic', 'monitor', 'sync'], db, /FUSIONAUTH_URL: required/],
      [['alerts', 'list'], { BRIDGE_DATABASE: join(dir, 'typo.db') }, /no database at .*typo\.db \(BRIDGE_DATABASE\)/]
    ]
    const configRuns = await Promise.all(config.map(async ([args, env]) => await cli(args, env)))
    for (const [i, [args, , message]] of config.entries()) {
      const r = configRuns[i]!
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, message, args.join(' '))
      assert.ok(!/\n\s+at /.test(r.stderr), `${args.join(' ')}: a stack trace`)
    }
  })

  await t.test('3: a dependency is unavailable — Enzoic unreachable names the URL and ENZOIC_API_URL', async () => {
    const closed = await freePort()
    const r = await cli(['enzoic', 'webhooks', 'list'], { ...db, ENZOIC_API_URL: `http://u:enz-pw-42@127.0.0.1:${closed}/v1`, ENZOIC_API_KEY: 'k', ENZOIC_API_SECRET: 's' })
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stderr, new RegExp(`^breach-bridge: GET /webhooks: cannot reach Enzoic at http://127\\.0\\.0\\.1:${closed}/v1 \\(ECONNREFUSED\\): check ENZOIC_API_URL`, 'm'))
    assert.ok(!r.stderr.includes('enz-pw-42'), 'the URL\'s password is never printed')
  })

  await t.test('3: PostgreSQL unreachable, without its password', async () => {
    const closed = await freePort()
    const r = await cli(['alerts', 'list'], { BRIDGE_DATABASE: `postgres://bridge:pg-Secret-77@127.0.0.1:${closed}/bridge` })
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stderr, /^breach-bridge: .*postgres:\/\/bridge:\*\*\*@127\.0\.0\.1:\d+\/bridge.*: check BRIDGE_DATABASE and that the database server runs\n$/)
    const migrate = await cli(['migrate'], { BRIDGE_DATABASE: `postgres://bridge:pg-Secret-77@127.0.0.1:${closed}/bridge` })
    assert.equal(migrate.code, 3, migrate.stderr)
    assert.match(migrate.stderr, /^breach-bridge: cannot reach the database postgres:\/\/bridge:\*\*\*@127\.0\.0\.1:\d+\/bridge: .*check BRIDGE_DATABASE/)
    assert.ok(!(migrate.stdout + migrate.stderr).includes('pg-Secret-77'))
    assert.ok(!(r.stdout + r.stderr).includes('pg-Secret-77'))
  })

  // 3 for serve with its port taken, and 130 for Ctrl-C: test/cli/process.test.ts (a real process is the point).
})

test('--json: every command that prints data prints exactly one JSON document — an array for lists, an object otherwise', async t => {
  const fa = await startFusionAuthFake()
  const ez = await startEnzoicFake()
  t.after(() => Promise.all([fa.close(), ez.close()]))
  fa.addUsers(fa.tenants[0]!.id, 3)
  const dir = tmpDir(t)
  const bridge = await startTestBridge(t, {}, dir)
  const id = (await postAlert(bridge.url, { username: 'json@acme-corp.io', exposureID: 'j-1' })).body.alertId as string
  const env = testEnv(dir, { ...ez.env, FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey })
  const reg = await cli(['enzoic', 'webhooks', 'register', '--url', 'https://bridge.example.com/webhooks/enzoic', '--json'], env)
  const hook = JSON.parse(reg.stdout) as { webhookID: string, credentials: string }
  assert.equal(typeof hook.webhookID, 'string')
  assert.match(hook.credentials, /^\S+:\S+$/, 'without --write-env the pair is part of the answer (shown once, as in text)')

  const cases: Array<[string[], 'array' | 'object', number?]> = [
    [['alerts', 'list', '--json'], 'array'],
    [['alerts', 'show', id.slice(0, 13), '--json'], 'object'],
    [['alerts', 'replay', '--dead', '--json'], 'object'],
    [['alerts', 'stats', '--json'], 'object'],
    [['alerts', 'purge', '--older-than', '30d', '--yes', '--json'], 'object'],
    [['check', '--json'], 'object'],
    [['migrate', '--json'], 'object'],
    [['enzoic', 'webhooks', 'list', '--json'], 'array'],
    [['enzoic', 'webhooks', 'test', '--json'], 'object'],
    [['enzoic', 'monitor', 'sync', '--dry-run', '--json'], 'object'],
    [['enzoic', 'monitor', 'status', '--json'], 'object'],
    [['enzoic', 'webhooks', 'delete', hook.webhookID, '--json'], 'object']
  ]
  for (const [args, shape] of cases) {
    const r = await cli(args, env)
    const what = args.join(' ')
    assert.equal(r.code, 0, `${what}: ${r.stderr}`)
    let doc: unknown
    assert.doesNotThrow(() => { doc = JSON.parse(r.stdout) }, `${what}: stdout is not one JSON document:\n${r.stdout}`)
    assert.equal(Array.isArray(doc) ? 'array' : typeof doc === 'object' && doc !== null ? 'object' : typeof doc, shape, what)
    assert.ok(r.stdout.endsWith('}\n') || r.stdout.endsWith(']\n'), `${what}: ends with the document and one newline`)
  }
  const show = JSON.parse((await cli(['alerts', 'show', id, '--json'], env)).stdout) as { id: string, history: unknown[] }
  assert.equal(show.id, id)
  assert.ok(Array.isArray(show.history))
  const check = JSON.parse((await cli(['check', '--json'], env)).stdout) as { ok: boolean, checks: Array<{ level: string, what: string, detail: string }> }
  assert.equal(check.ok, true)
  assert.ok(check.checks.some(c => c.level === 'OK' && c.what === 'FusionAuth'))
})
