import { existsSync, readFileSync } from 'node:fs'
import type { TestContext } from 'node:test'
import { parse } from 'yaml'

/** The shipped monitoring files (deploy/observability/). */
export const DASHBOARD_FILE = new URL('../../deploy/observability/enzoic-bridge.dashboard.json', import.meta.url)
export const RULES_FILE = new URL('../../deploy/observability/enzoic-bridge.rules.yml', import.meta.url)
/** `promtool test rules` unit tests of the rules. */
export const RULES_TESTS_FILE = new URL('./rules.promtool.yml', import.meta.url)

/** Where Debian's `prometheus` package and a manual install put promtool. */
export const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find(p => existsSync(p))

/**
 * True (and the test skipped, loudly) when promtool is missing here. Under CI a missing promtool is a
 * failure: `.ci/run` installs Debian's `prometheus` package, which ships it, so a skip would hide a
 * broken pipeline.
 */
export function missingPromtool (t: TestContext): boolean {
  if (PROMTOOL !== undefined) return false
  if (process.env.CI !== undefined && process.env.CI !== '') {
    throw new Error('promtool not installed: CI must check the alert rules, not skip them (.ci/run installs the prometheus package)')
  }
  const message = 'SKIPPED: promtool not installed (apt-get install prometheus)'
  console.error(`\n*** ${message}: ${t.name} did not run ***\n`)
  t.skip(message)
  return true
}

interface Panel { title?: string, type?: string, targets?: Array<{ expr?: string }>, panels?: Panel[] }
interface Dashboard { panels: Panel[], templating: { list: Array<{ name: string, type: string, query?: string | { query?: string } }> } }

export function dashboard (): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard
}

/** Every PromQL expression of the dashboard: panel targets and template-variable queries, with where each is. */
export function dashboardExpressions (): Array<{ where: string, expr: string }> {
  const d = dashboard()
  const out: Array<{ where: string, expr: string }> = []
  const walk = (panels: Panel[]): void => {
    for (const p of panels) {
      for (const target of p.targets ?? []) if (target.expr !== undefined) out.push({ where: `panel "${p.title ?? '?'}"`, expr: target.expr })
      walk(p.panels ?? [])
    }
  }
  walk(d.panels)
  for (const v of d.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query
    if (v.type === 'query' && q !== undefined) out.push({ where: `variable $${v.name}`, expr: q })
  }
  return out
}

interface RuleFile { groups: Array<{ name: string, rules: Array<{ alert?: string, record?: string, expr: string }> }> }

export function ruleExpressions (): Array<{ where: string, expr: string }> {
  const rules = parse(readFileSync(RULES_FILE, 'utf8')) as RuleFile
  return rules.groups.flatMap(g => g.rules.map(r => ({ where: `rule ${r.alert ?? r.record ?? '?'}`, expr: r.expr })))
}

/**
 * The metric names a PromQL expression reads, parsed loosely: identifiers that start with `enzoic_bridge_`,
 * `process_` or `nodejs_`, and `up`, outside string literals (label values). Grafana's `label_values(m, l)`
 * works the same way.
 */
export function metricNames (expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')
  const names = [...code.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map(m => m[0])
  return [...new Set(names.filter(n => /^(enzoic_bridge_|process_|nodejs_)/.test(n) || n === 'up'))]
}

/** Grafana's variables replaced by values Prometheus accepts, so an expression can be checked by promtool. */
export function withoutGrafanaVariables (expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$(job|instance)\b/g, '.*')
}

/** The sample names of a Prometheus text exposition (`_bucket`, `_sum`, `_count` included). */
export function sampleNames (text: string): Set<string> {
  const names = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)
    if (m !== null) names.add(m[1]!)
  }
  return names
}

/** The value of one sample, or undefined when absent. */
export function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = (m[2] ?? '').split(/,(?=[a-zA-Z_]\w*=")/).filter(x => x !== '')
    if (want.every(w => have.includes(w))) return Number(m[3])
  }
  return undefined
}
