/**
 * Breach data is attacker-controlled (docs/design.md §11): titles, exposure ids, custom data, even usernames
 * come from criminal dumps. Nothing of it may drive the operator's terminal. `inert` is THE function every
 * renderer of the CLI passes such text through (tables, `field: value` lines, messages, CSV cells); the
 * JSON renderer (`jsonText`) keeps values intact but escapes the same characters.
 *
 * Neutralised, each shown as a visible escape (`\e`, `\r`, `\n`, `\t`, `\u009b`, …):
 * - C0 controls U+0000–U+001F (ESC starts every escape sequence; CR and LF forge lines; BEL ends OSC 8 links),
 * - DEL U+007F and the C1 controls U+0080–U+009F (U+009B is a one-character CSI, U+009D an OSC),
 * - the bidirectional formatting characters that reorder what is shown: U+061C, U+200E, U+200F,
 *   U+202A–U+202E (embeddings and overrides), U+2066–U+2069 (isolates),
 * - U+2028 and U+2029 (line and paragraph separators: a line break to some terminals and viewers).
 */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS_BUT_LF = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
/** What JSON.stringify leaves raw (it escapes U+0000–U+001F itself). */
const JSON_RAW = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

const NAMED: Record<string, string> = { '\u001b': '\\e', '\r': '\\r', '\n': '\\n', '\t': '\\t' }

const escape = (c: string): string => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`

/**
 * Text safe to print on a terminal: every control character above becomes a visible escape, so a value
 * stays on its line and cannot clear the screen, move the cursor, set the title or plant a link.
 * `keepNewlines` leaves LF alone: for whole blocks of the CLI's own text (a last line of defence in `out`).
 */
export function inert (value: unknown, opts: { keepNewlines?: boolean } = {}): string {
  const text = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value)
  return text.replace(opts.keepNewlines === true ? CONTROLS_BUT_LF : CONTROLS, escape)
}

/** Whether `text` holds any character `inert` neutralises. */
export function hasControls (text: string): boolean {
  return new RegExp(CONTROLS.source).test(text)
}

/**
 * JSON for a terminal or a pipe: the same document JSON.stringify makes (values unchanged once parsed), with
 * DEL, the C1 controls, the bidi controls and the line separators written as `\uXXXX` escapes, which
 * JSON.stringify leaves raw. Two-space indentation.
 */
export function jsonText (value: unknown): string {
  return JSON.stringify(value, null, 2).replace(JSON_RAW, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
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
