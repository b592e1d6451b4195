/**
 * The documents generated from the variable table: `.env.example` and the README's configuration table.
 * `npm run docs` writes them; test/config/variables.test.ts fails when a committed copy differs.
 */
import { SECTIONS, VARIABLES, type Section, type Variable } from './variables.js'

const HEADER = [
  '# enzoic-fusionauth-bridge — every setting, with its default. Copy to .env (read at start-up when present)',
  '# or to the systemd EnvironmentFile. Every secret can also be given as NAME_FILE=/path/to/file.',
  '# Defaults are shown commented out: uncomment only what you change (the systemd unit sets BRIDGE_DATABASE',
  '# itself, and a copied default would override it). Empty assignments are the values you must provide.',
  '# Generated from src/config/variables.ts (npm run docs): edit it there.'
]

function envLines (v: Variable): string[] {
  const lines = (v.comment ?? []).map(c => `# ${c}`)
  if (v.fillIn === true) lines.push(`${v.name}=`)
  else lines.push(`# ${v.name}=${v.default !== undefined && v.default !== '' ? v.default : v.example ?? ''}`)
  if (v.secret === true && v.fileExample !== undefined) lines.push(`# ${v.name}_FILE=${v.fileExample}`)
  return lines
}

/** `.env.example`, every variable in its section, defaults commented out. */
export function renderEnvExample (): string {
  const out = [...HEADER]
  let section: Section | undefined
  for (const v of VARIABLES) {
    if (v.section !== section) {
      section = v.section
      out.push('', `# --- ${SECTIONS[section]} ---`)
    }
    out.push(...envLines(v))
  }
  return out.join('\n') + '\n'
}

const code = (s: string): string => `\`${s}\``

/** The README's table: variable, default, meaning (secrets say so, with their `_FILE` form). */
export function renderVariablesTable (): string {
  const rows = VARIABLES.map(v => {
    const def = v.default !== undefined && v.default !== '' ? code(v.default) : v.defaultText ?? '—'
    const secret = v.secret === true && !v.doc.includes(`${v.name}_FILE`) ? `; a secret: also as ${code(`${v.name}_FILE`)}` : ''
    return `| ${code(v.name)} | ${def} | ${v.doc}${secret} |`
  })
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n') + '\n'
}
