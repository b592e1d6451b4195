// `breach-bridge check` renders the report of runChecks (its checks: test/operations/check.test.ts): one
// aligned line per check, a summary, exit 1 on a FAIL, the same report with --json — and no secret in either.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { startEnzoicFake } from '../fakes/enzoic.js'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { testEnv, tmpDir } from '../helper.js'
import { cli } from '../fixtures/in-process.js'
import type { CheckReport } from '../../src/operations/check.js'

/** `check` and `check --json` on the same environment: the same verdict, and every JSON check a text line. */
async function check (env: NodeJS.ProcessEnv): Promise<{ code: number | null, stdout: string, stderr: string, report: CheckReport }> {
  const r = await cli(['check'], env)
  const json = await cli(['check', '--json'], env)
  assert.equal(json.code, r.code, 'the same verdict with --json')
  const report = JSON.parse(json.stdout) as CheckReport
  assert.equal(report.ok, r.code === 0)
  const width = Math.max(...report.checks.map(l => l.what.length))
  const text = r.stdout.split('\n')
  for (const l of report.checks) {
    const start = `${l.level.padEnd(4)}  ${l.what.padEnd(width)}  `
    assert.ok(text.some(t => t.startsWith(start)), `no text line for ${l.level} ${l.what}:\n${r.stdout}`)
  }
  assert.equal(text.filter(t => /^(OK|FAIL|WARN|SKIP|INFO) /.test(t)).length, report.checks.length, 'one line per check')
  return { ...r, report }
}

/** A plain static-file HTTP server: 404 (text/html) for anything but its one file. */
async function staticFileServer (t: import('node:test').TestContext): Promise<string> {
  const srv = createServer((req, res) => {
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html' })
    res.end(req.url === '/' ? '<h1>It works</h1>' : '<html><body><h1>404 Not Found</h1></body></html>')
  })
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise(resolve => srv.close(resolve)))
  return `http://127.0.0.1:${(srv.address() as { port: number }).port}`
}

test('check with a FAIL: its line, the count in the summary, exit 1', async t => {
  const url = await staticFileServer(t)
  const r = await check(testEnv(tmpDir(t), { FUSIONAUTH_URL: url, FUSIONAUTH_API_KEY: 'some-key' }))
  assert.equal(r.code, 1, r.stdout)
  assert.equal(r.stderr, '')
  assert.match(r.stdout, new RegExp(`^FAIL\\s+FusionAuth\\s+${url.replace(/\./g, '\\.')} does not answer like FusionAuth \\(GET /api/status → 404 text/html.*FUSIONAUTH_URL must be FusionAuth's base URL`, 'm'))
  const fails = r.report.checks.filter(l => l.level === 'FAIL').length
  const warns = r.report.checks.filter(l => l.level === 'WARN').length
  assert.ok(fails > 0)
  assert.match(r.stdout, new RegExp(`\n\n${fails} problem\\(s\\) found${warns > 0 ? `, ${warns} warning\\(s\\)` : ''}\\.\n$`))
})

test('check without a FAIL: "No problem found", exit 0', async t => {
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const r = await check(testEnv(tmpDir(t), { FUSIONAUTH_URL: fa.url, FUSIONAUTH_API_KEY: fa.apiKey }))
  assert.equal(r.code, 0, r.stdout)
  const warns = r.report.checks.filter(l => l.level === 'WARN').length
  assert.ok(warns > 0, 'client certificate off is a WARN')
  assert.match(r.stdout, new RegExp(`\n\nNo problem found, ${warns} warning\\(s\\)\\.\n$`))
})

test('check never prints credentials that are part of a URL (FUSIONAUTH_URL, ENZOIC_API_URL) or a secret file\'s content', async t => {
  const fa = await startFusionAuthFake()
  const ez = await startEnzoicFake()
  t.after(() => Promise.all([fa.close(), ez.close()]))
  const dir = tmpDir(t)
  const keyFile = join(dir, 'fa-key')
  writeFileSync(keyFile, 'Fa-Key-From-File-31337\n', { mode: 0o600 })
  const faUrl = fa.url.replace('http://', 'http://admin:Fa-Url-Pw-9001@')
  const ezUrl = ez.url.replace('http://', 'http://enz:Ez-Url-Pw-4242@')
  const env = { FUSIONAUTH_URL: faUrl, FUSIONAUTH_API_KEY_FILE: keyFile, ENZOIC_API_URL: ezUrl, ENZOIC_API_KEY: ez.apiKey, ENZOIC_API_SECRET: ez.apiSecret }
  const r = await check(testEnv(dir, env))
  const everything = r.stdout + r.stderr + JSON.stringify(r.report)
  for (const secret of ['Fa-Url-Pw-9001', 'Ez-Url-Pw-4242', 'Fa-Key-From-File-31337', ez.apiSecret]) assert.ok(!everything.includes(secret), `${secret} printed:\n${r.stdout}`)
  assert.match(r.stdout, /FusionAuth\s+http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+/)
})
