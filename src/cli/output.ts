/**
 * How the CLI writes: aligned tables and `field: value` lines for people, one JSON document with `--json`,
 * CSV with `--csv`, always to the streams of the command's context (context.ts). Every piece of data goes
 * through `inert` (terminal.ts) on its way out; `out`/`err` neutralise whole blocks once more (keeping line
 * breaks) as a last line of defence.
 *
 * The --json rule (docs/cli.md): stdout holds exactly one JSON document and nothing else — an array when
 * the command lists things, an object otherwise; messages and progress go to stderr.
 */
import type { CliContext } from './context.js'
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

/** The writers of one command run, bound to its context's streams. */
export interface Output {
  /** A block of text on stdout (neutralised once more, line breaks kept), ending with a newline. */
  out (text: string): void
  /** The same on stderr: messages, progress, problems. */
  err (text: string): void
  /** The one JSON document of a `--json` command. */
  outJson (value: unknown): void
  /** A CSV document (cells neutralised and formula-guarded by csvText). */
  outCsv (headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): void
  /** Text exactly as given: output the CLI made itself (a completion script, an encrypted body). */
  outRaw (text: string): void
}

const block = (text: string): string => {
  const safe = inert(text, { keepNewlines: true })
  return safe.endsWith('\n') ? safe : safe + '\n'
}

export function outputTo ({ stdout, stderr }: Pick<CliContext, 'stdout' | 'stderr'>): Output {
  return {
    out: text => { stdout.write(block(text)) },
    err: text => { stderr.write(block(text)) },
    outJson: value => { stdout.write(jsonText(value) + '\n') },
    outCsv: (headers, rows) => { stdout.write(csvText(headers, rows)) },
    outRaw: text => { stdout.write(text) }
  }
}

/** `2026-11-22T04:01:36.123Z` → `2026-11-22 04:01:36Z`. */
export function shortTime (iso: string | undefined): string {
  return iso === undefined ? '-' : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}
