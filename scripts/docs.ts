/**
 * Writes the generated parts of the documentation from the code's own declarations, so they cannot drift:
 * `.env.example` and the README's configuration table (src/config/variables.ts), the README's API-key
 * permission list (the action modules' `calls`), the lifecycle events table (src/observability/events.ts), the
 * README's table of FusionAuth's events (src/alerts/fusionauth-events.ts), the
 * states and outcomes (src/alerts/outcomes.ts) in the README and docs/cli.md.
 *
 * And docs/cli.md's command reference (every command's --help, scripts/cli-reference.ts).
 *
 *   npm run docs           rewrite them
 *   npm run docs -- --check  exit 1 when a committed copy differs (test/docs.test.ts does the same)
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { renderEnvExample, renderVariablesTable } from '../src/config/render.js'
import { ACTIONS, describeEndpoint, permissionsFor } from '../src/remediation/actions/index.js'
import { FUSIONAUTH_EVENTS } from '../src/alerts/fusionauth-events.js'
import { cliReference } from './cli-reference.js'
import { eventsTable } from './events-table.js'
import { vocabularyList, vocabularyTables } from './vocabulary.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** The README's least-privilege list: every permission any action (and its undo) or command needs. */
export function permissionsTable (): string {
  const rows = permissionsFor([...ACTIONS.keys()], { search: true, tenants: true, check: true, events: true }).map(p =>
    `| \`${p.path}\` | ${p.method} | ${p.endpoints.map(e => `\`${describeEndpoint(e)}\``).join(', ')} | ${p.usedBy.join('; ')} |`)
  return ['| endpoint | method | calls | needed for |', '|---|---|---|---|', ...rows].join('\n') + '\n'
}

/** The README's table of the FusionAuth events the bridge acts on: what `fusionauth webhooks register` enables. */
export function fusionAuthEventsTable (): string {
  const rows = FUSIONAUTH_EVENTS.map(e => `| \`${e.type}\` | ${e.edition} | ${e.transactional ? 'yes' : 'no'} | ${e.doc} |`)
  return ['| event | FusionAuth plan | transactional | what the bridge does |', '|---|---|---|---|', ...rows].join('\n') + '\n'
}

/** Each generated block: the file, its marker name, its content. */
export async function generatedBlocks (): Promise<Array<{ file: string, marker?: string, content: string }>> {
  return [
    { file: 'docs/cli.md', marker: 'cli-reference', content: `${await cliReference()}\n` },
    { file: '.env.example', content: renderEnvExample() },
    { file: 'README.md', marker: 'config', content: renderVariablesTable() },
    { file: 'README.md', marker: 'permissions', content: permissionsTable() },
    { file: 'README.md', marker: 'fusionauth-events', content: fusionAuthEventsTable() },
    { file: 'README.md', marker: 'vocabulary', content: vocabularyList() },
    { file: 'docs/cli.md', marker: 'vocabulary', content: vocabularyTables() },
    { file: 'docs/lifecycle.md', marker: 'events', content: eventsTable() + '\n' }
  ]
}

/** The text between `<!-- name:start -->` and `<!-- name:end -->`, or undefined when the file has no such markers. */
export function between (text: string, marker: string): string | undefined {
  const m = new RegExp(`<!-- ${marker}:start -->\\n([\\s\\S]*?)<!-- ${marker}:end -->`).exec(text)
  return m?.[1]
}

function apply (text: string, marker: string | undefined, content: string): string {
  if (marker === undefined) return content
  if (between(text, marker) === undefined) throw new Error(`no <!-- ${marker}:start --> … <!-- ${marker}:end --> markers`)
  return text.replace(new RegExp(`(<!-- ${marker}:start -->\\n)[\\s\\S]*?(<!-- ${marker}:end -->)`), (_, a: string, b: string) => `${a}${content}${b}`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes('--check')
  let stale = 0
  for (const b of await generatedBlocks()) {
    const path = `${ROOT}${b.file}`
    const before = readFileSync(path, 'utf8')
    const after = apply(before, b.marker, b.content)
    if (after === before) continue
    stale++
    if (check) process.stderr.write(`${b.file}${b.marker === undefined ? '' : ` (${b.marker})`} is out of date: run npm run docs\n`)
    else writeFileSync(path, after)
  }
  if (check && stale > 0) process.exit(1)
}
