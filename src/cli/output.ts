/**
 * How the CLI writes: aligned tables and `field: value` lines for people, one JSON document with `--json`,
 * CSV with `--csv`. Every piece of data goes through `inert` (terminal.ts) on its way out; `out`/`err`
 * neutralise whole blocks once more (keeping line breaks) as a last line of defence.
 *
 * The --json rule (docs/cli.md): stdout holds exactly one JSON document and nothing else — an array when
 * the command lists things, an object otherwise; messages and progress go to stderr.
 */
import { csvText, inert, jsonText } from './terminal.js'

export { CliError, EXIT } from './exit.js'
export { inert } from './terminal.js'

export function table (headers: string[], rows: unknown[][]): string {
  const cells = rows.map(r => r.map(c => inert(c)))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map(r => (r[i] ?? '').length)))
  const line = (cs: string[]): string => cs.map((c, i) => i === cs.length - 1 ? c : c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(headers), ...cells.map(line)].join('\n')
}

/** `Name:             value` — the value neutralised; nothing for an empty value. */
export function fieldLine (name: string, value: unknown, width = 18): string | undefined {
  if (value === undefined || value === null || value === '') return undefined
  return `${(name + ':').padEnd(width)}${inert(value)}`
}

export function out (text: string): void {
  const safe = inert(text, { keepNewlines: true })
  process.stdout.write(safe.endsWith('\n') ? safe : safe + '\n')
}

export function err (text: string): void {
  const safe = inert(text, { keepNewlines: true })
  process.stderr.write(safe.endsWith('\n') ? safe : safe + '\n')
}

/** The one JSON document of a `--json` command. */
export function outJson (value: unknown): void {
  process.stdout.write(jsonText(value) + '\n')
}

/** A CSV document (cells already neutralised and formula-guarded by csvText). */
export function outCsv (headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): void {
  process.stdout.write(csvText(headers, rows))
}

/** `2026-11-22T04:01:36.123Z` → `2026-11-22 04:01:36Z`. */
export function shortTime (iso: string | undefined): string {
  return iso === undefined ? '-' : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}
