import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startPostgres } from '../fixtures/postgres.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, startTestBridge, testEnv, tmpDir, waitFor } from '../helper.js'
import { cli as runInProcess } from '../fixtures/in-process.js'

const PASSWORD = 'Pg-Cli-Pw-4711'

// One story, longer than 80 lines because every command meets the same PostgreSQL database in order, and the
// last assertion counts their outputs.
test('every command that reads the store works on PostgreSQL, and never prints the URL\'s password', async t => {
  const cluster = await startPostgres(t)
  if (cluster === undefined) return
  await cluster.query(`CREATE ROLE bridge_cli LOGIN PASSWORD '${PASSWORD}'`)
  const db = new URL(await cluster.createDatabase()).pathname.slice(1)
  await cluster.query(`ALTER DATABASE "${db}" OWNER TO bridge_cli`)
  const url = `postgres://bridge_cli:${PASSWORD}@127.0.0.1:${cluster.port}/${db}?sslmode=disable`
  const shown = `postgres://bridge_cli:***@127.0.0.1:${cluster.port}/${db}`
  const dir = tmpDir(t)
  const env = { BRIDGE_DATABASE: url }
  const outputs: string[] = []
  const cli = async (args: string[], e: NodeJS.ProcessEnv = env): Promise<{ code: number | null, stdout: string, stderr: string }> => {
    const r = await runInProcess(args, e)
    outputs.push(`$ ${args.join(' ')}\n${r.stdout}${r.stderr}`)
    return r
  }

  // A command before the schema exists: a clear line, no password.
  const early = await cli(['alerts', 'list'])
  assert.equal(early.code, 1)
  assert.match(early.stderr, /schema version 0 is older .*breach-bridge migrate/)

  const migrate = await cli(['migrate'])
  assert.equal(migrate.code, 0, migrate.stderr)
  assert.match(migrate.stdout, new RegExp(`^postgres ${shown.replace(/[.*?]/g, '\\$&')}.*: schema migrated from version 0 to \\d+\\.$`, 'm'))
  const again = await cli(['migrate', '--json'])
  assert.equal(again.code, 0, again.stderr)
  const m = JSON.parse(again.stdout) as { kind: string, from: number, to: number, location: string }
  assert.equal(m.kind, 'postgres')
  assert.equal(m.from, m.to)

  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'pg-dead@acme-corp.io' })
  const faEnv = { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey }
  // A group that does not exist: the breach alert goes dead (something to replay).
  const bridge = await startTestBridge(t, { ...faEnv, BRIDGE_DATABASE: url, BRIDGE_ACTIONS: `deactivate,group:${randomUUID()}` }, dir)
  const dead = (await postAlert(bridge.url, { username: 'pg-dead@acme-corp.io', exposureID: 'pg-1' })).body.alertId as string
  const finished = (await postAlert(bridge.url, { username: 'pg-probe@example.com', exposureID: 'pg-2' })).body.alertId as string
  await waitFor(async () => (await bridge.store.alerts.get(dead))?.state === 'dead', 'the alert to go dead')

  const list = await cli(['alerts', 'list'])
  assert.equal(list.code, 0, list.stderr)
  assert.match(list.stdout, new RegExp(`${dead}\\s+\\S+ \\S+\\s+enzoic\\s+dead`))
  const filtered = await cli(['alerts', 'list', '--email', 'PG-Probe@example.com', '--since', '1h', '--outcome', 'test', '--json'])
  assert.deepEqual((JSON.parse(filtered.stdout) as Array<{ id: string }>).map(a => a.id), [finished])
  const csv = await cli(['alerts', 'list', '--state', 'dead', '--csv'])
  assert.equal(csv.stdout.split('\r\n').length, 3, csv.stdout)

  const show = await cli(['alerts', 'show', dead.slice(0, 24)])
  assert.equal(show.code, 0, show.stderr)
  assert.match(show.stdout, /^State: +dead$/m)
  const ambiguous = await cli(['alerts', 'show', dead.slice(0, 8)])
  assert.equal(ambiguous.code, 2, 'both alerts share their first 8 characters')
  assert.match(ambiguous.stderr, /is ambiguous/)

  const replay = await cli(['alerts', 'replay', dead.slice(0, 24), '--json'])
  assert.equal(replay.code, 0, replay.stderr)
  assert.deepEqual((JSON.parse(replay.stdout) as { replayed: string[] }).replayed, [dead])

  const stats = await cli(['alerts', 'stats', '--json'])
  assert.equal(stats.code, 0, stats.stderr)
  assert.equal((JSON.parse(stats.stdout) as { byOutcome: Record<string, number> }).byOutcome.test, 1)

  // The replayed alert fails again (the group still does not exist): dead alerts are finished too.
  await waitFor(async () => (await bridge.store.alerts.get(dead))?.state === 'dead' && (await bridge.store.alerts.events(dead)).filter(e => e.state === 'dead').length === 2, 'the replayed alert to go dead again')
  await new Promise(resolve => setTimeout(resolve, 50))
  const purge = await cli(['alerts', 'purge', '--older-than', '10ms', '--force', '--yes', '--json'])
  assert.equal(purge.code, 0, purge.stderr)
  assert.equal((JSON.parse(purge.stdout) as { purged: number }).purged, 2)
  const tomb = JSON.parse((await cli(['alerts', 'show', finished, '--json'])).stdout) as { email?: string, purgedAt?: string }
  assert.equal(tomb.email, undefined)
  assert.equal(typeof tomb.purgedAt, 'string')

  const urlFile = join(dir, 'database-url')
  writeFileSync(urlFile, `${url}\n`, { mode: 0o600 })
  const fromFile = await cli(['alerts', 'list', '--json'], { BRIDGE_DATABASE_FILE: urlFile })
  assert.equal(fromFile.code, 0, fromFile.stderr)
  assert.equal((JSON.parse(fromFile.stdout) as unknown[]).length, 2)

  const check = await cli(['check'], testEnv(dir, { ...faEnv, BRIDGE_DATABASE: url }))
  assert.match(check.stdout, new RegExp(`^OK\\s+database\\s+postgres ${shown.replace(/[.*?]/g, '\\$&')}\\S*: commits`, 'm'))

  for (const o of outputs) assert.ok(!o.includes(PASSWORD), `the password was printed:\n${o}`)
  assert.equal(outputs.length, 14)
})
