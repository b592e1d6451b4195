/**
 * Breach data is attacker-controlled (docs/design.md §11): titles, exposure ids, custom data, even usernames
 * come from criminal dumps. Nothing of it may drive the operator's terminal. `inert` (the one rule, in
 * src/alerts/text.ts, which the logs use too) is THE function every renderer of the CLI passes such text
 * through (tables, `field: value` lines, messages, CSV cells); the JSON renderer (`jsonText`) keeps values
 * intact but escapes the same characters.
 */
import { inert, jsonEscape } from '../alerts/text.js'

export { inert }

/**
 * JSON for a terminal or a pipe: the same document JSON.stringify makes (values unchanged once parsed), with
 * DEL, the C1 controls, the format characters (bidi), the line separators and lone surrogates written as
 * `\uXXXX` escapes, which JSON.stringify leaves raw. Two-space indentation.
 */
export function jsonText (value: unknown): string {
  return jsonEscape(JSON.stringify(value, null, 2))
}

/**
 * One CSV cell (RFC 4180): neutralised like any terminal text, then guarded against formula injection — a
 * cell starting with `=`, `+`, `-` or `@` gets a leading `'` so a spreadsheet shows it as text — and quoted
 * when it holds a comma, a quote or leading/trailing spaces (quotes doubled).
 */
export function csvCell (value: unknown): string {
  let s = inert(value)
  if (/^[=+\-@]/.test(s)) s = `'${s}`
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** A CSV document: a header row, then one row per record, CRLF line ends (RFC 4180). */
export function csvText (headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  return [headers, ...rows].map(r => r.map(csvCell).join(',')).join('\r\n') + '\r\n'
}
