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

/** Characters that make a spreadsheet read a cell (or a `;`-separated part of one) as a formula. */
const FORMULA_START = /^[=+\-@]/

/**
 * One CSV cell (RFC 4180): neutralised like any terminal text, guarded against formula injection, and always
 * quoted (quotes doubled). The guard — a leading `'`, so a spreadsheet shows the text — applies to the cell and
 * to each `;`-separated part of it: Excel in locales whose list separator is `;` (de, fr, es, it, nl …) splits
 * a line at `;` whatever the quoting, so `a;=HYPERLINK(…)` would give the formula a cell of its own.
 */
export function csvCell (value: unknown): string {
  const s = inert(value).split(';').map(part => FORMULA_START.test(part.trimStart()) ? `'${part}` : part).join(';')
  return `"${s.replace(/"/g, '""')}"`
}

/** A CSV document: a header row, then one row per record, CRLF line ends (RFC 4180). */
export function csvText (headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  return [headers, ...rows].map(r => r.map(csvCell).join(',')).join('\r\n') + '\r\n'
}
