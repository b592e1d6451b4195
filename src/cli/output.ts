/** Small output helpers shared by the commands: aligned tables and one-line errors. */

/** A problem the user can fix: printed as one line, exit code 2, no stack. */
export class UsageError extends Error {
  constructor (message: string, readonly exitCode = 2) {
    super(message)
    this.name = 'UsageError'
  }
}

export function table (headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

export function out (text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n')
}

export function err (text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : text + '\n')
}

/** `2026-11-22T04:01:36.123Z` → `2026-11-22 04:01:36Z`. */
export function shortTime (iso: string | undefined): string {
  return iso === undefined ? '-' : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}
