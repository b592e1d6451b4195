import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { stringify } from 'yaml'
import { tmpDir } from '../helper.js'
import { PROMTOOL, RULES_FILE, RULES_TESTS_FILE, dashboard, dashboardExpressions, missingPromtool, ruleExpressions, withoutGrafanaVariables } from './shipped.js'

const run = promisify(execFile)

async function promtool (...args: string[]): Promise<{ code: number, output: string }> {
  try {
    const { stdout, stderr } = await run(PROMTOOL!, args, { timeout: 60_000 })
    return { code: 0, output: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

test('promtool check rules: the shipped alert rules are valid', async t => {
  if (missingPromtool(t)) return
  const r = await promtool('check', 'rules', fileURLToPath(RULES_FILE))
  assert.equal(r.code, 0, r.output)
  assert.match(r.output, /SUCCESS: \d+ rules found/)
})

test('promtool test rules: worker paused, dead alerts, oldest queued alert, intake 5xx, readiness and down fire when they should', async t => {
  if (missingPromtool(t)) return
  const r = await promtool('test', 'rules', fileURLToPath(RULES_TESTS_FILE))
  assert.equal(r.code, 0, r.output)
  assert.match(r.output, /SUCCESS/)
  // Every alert the rules define has a unit test that expects it to fire.
  const tested = new Set([...readFileSync(RULES_TESTS_FILE, 'utf8').matchAll(/alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels/g)].map(m => m[1]))
  for (const { where } of ruleExpressions()) assert.ok(tested.has(where.replace(/^rule /, '')), `${where}: no promtool test expects it to fire`)
})

test('every PromQL expression of the dashboard parses (promtool, as recording rules)', async t => {
  if (missingPromtool(t)) return
  const exprs = dashboardExpressions().filter(e => !e.expr.startsWith('label_values('))
  assert.ok(exprs.length >= 20, `only ${exprs.length} expressions found: the dashboard format changed?`)
  const dir = tmpDir(t, 'bridge-dashboard-')
  const file = join(dir, 'dashboard.rules.yml')
  writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: withoutGrafanaVariables(e.expr) })) }] }))
  const r = await promtool('check', 'rules', file)
  assert.equal(r.code, 0, `${r.output}\n${exprs.map((e, i) => `${i}: ${e.where}: ${e.expr}`).join('\n')}`)
})

test('the dashboard imports anywhere: a datasource variable, job/instance filters, unique panel ids', () => {
  interface Panel { id: number, type: string, datasource?: { uid: string }, targets?: Array<{ expr: string }> }
  const d = dashboard() as unknown as { uid: string, title: string, panels: Panel[], templating: { list: Array<{ name: string, type: string }> } }
  assert.equal(d.uid, 'enzoic-fusionauth-bridge')
  assert.deepEqual(d.templating.list.map(v => [v.name, v.type]), [['datasource', 'datasource'], ['job', 'query'], ['instance', 'query']])
  const ids = d.panels.map(p => p.id)
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  for (const p of d.panels.filter(p => p.type !== 'row')) {
    assert.equal(p.datasource?.uid, '$' + '{datasource}', `${p.type} ${p.id}: uses the datasource variable`)
    for (const target of p.targets ?? []) assert.match(target.expr, /job=~"\$job", instance=~"\$instance"/, `panel ${p.id}: filtered by $job and $instance`)
  }
})
