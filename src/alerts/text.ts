/**
 * Breach data is attacker-controlled (titles, URLs, exposure ids, even usernames come from criminal dumps).
 * Every output gives it the escaping its medium needs (the README's "What breach data can and cannot do"); the
 * character rule they share is here, once: the CLI (cli/terminal.ts) and the logs (observability/logger.ts)
 * use `inert` and `jsonEscape`, text forwarded to FusionAuth and chat goes through `plainText`.
 */

/**
 * The characters no output carries raw:
 * - the C0 controls U+0000–U+001F, DEL and the C1 controls U+0080–U+009F (`\p{Cc}`: ESC starts terminal escape
 *   sequences, CR and LF forge lines, U+009B is a one-character CSI),
 * - every invisible format character (`\p{Cf}`): the bidi marks, embeddings, overrides and isolates (U+061C,
 *   U+200E/F, U+202A–U+202E, U+2066–U+2069) that reorder what is shown, zero-width characters, the soft hyphen,
 *   the BOM, tag characters,
 * - U+2028 and U+2029 (line and paragraph separators: a line break to some terminals and viewers),
 * - lone surrogates (`\p{Cs}`), which no encoder writes faithfully.
 */
export const UNSAFE_CHARS = /[\p{Cc}\p{Cf}\u2028\u2029\p{Cs}]/gu
const UNSAFE_BUT_LF = /(?!\n)[\p{Cc}\p{Cf}\u2028\u2029\p{Cs}]/gu
/** What JSON.stringify (and pino's string writer) may leave raw: all of the above but C0, which JSON escapes. */
const JSON_RAW = /[\u007f-\u009f\p{Cf}\u2028\u2029\p{Cs}]/gu
const HAS_JSON_RAW = new RegExp(JSON_RAW.source, 'u')

const NAMED: Record<string, string> = { '\u001b': '\\e', '\r': '\\r', '\n': '\\n', '\t': '\\t' }
const hex = (n: number): string => n.toString(16).padStart(4, '0')

/** `\e`, `\r`, `\n`, `\t`, else `\uXXXX` (`\u{XXXXX}` beyond the BMP): visible, and what the character was. */
function visibleEscape (c: string): string {
  const cp = c.codePointAt(0)!
  return NAMED[c] ?? (cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${hex(cp)}`)
}

/**
 * Text that drives nothing where it is shown (a terminal, a pretty log): every character of UNSAFE_CHARS becomes
 * a visible escape, so a value stays on its line and cannot clear the screen, move the cursor, set the title,
 * plant a link or reorder what follows it. `keepNewlines` leaves LF alone: for whole blocks of a program's own
 * text (a last line of defence).
 */
export function inert (value: unknown, opts: { keepNewlines?: boolean } = {}): string {
  const text = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value)
  return text.replace(opts.keepNewlines === true ? UNSAFE_BUT_LF : UNSAFE_CHARS, visibleEscape)
}

/**
 * JSON text with the characters JSON.stringify leaves raw written as `\uXXXX` escapes (UTF-16 code units, as
 * JSON spells them): the same document once parsed, no unsafe byte in it. Only valid on JSON text (these
 * characters can only be inside its strings).
 */
export function jsonEscape (json: string): string {
  if (!HAS_JSON_RAW.test(json)) return json
  return json.replace(JSON_RAW, c => Array.from({ length: c.length }, (_, i) => `\\u${hex(c.charCodeAt(i))}`).join(''))
}

/** Unsafe characters become spaces, runs of spaces one, and the result at most `max` characters (with …). */
export function plainText (value: unknown, max: number): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined
  const text = String(value).replace(UNSAFE_CHARS, ' ').replace(/\s+/g, ' ').trim()
  if (text === '') return undefined
  if (text.length <= max) return text
  // Never half a surrogate pair at the cut.
  const cut = /[\ud800-\udbff]/.test(text[max - 2] ?? '') ? max - 2 : max - 1
  return `${text.slice(0, cut).trimEnd()}…`
}

/** `<` and `>` (markup), and the look-alikes a mail client does not read as markup. */
const ANGLES: Record<string, string> = { '<': '‹', '>': '›' }
/** A dot inside a word, and the full stops IDNA reads as dots (U+3002, U+FF0E, U+FF61, U+FE52, U+2024). */
const INNER_DOT = /(?<=\S)[.\u3002\uff0e\uff61\ufe52\u2024](?=[^\s.])/gu

/**
 * Text for a person's email (what notify-user hands FusionAuth's template): plain (as plainText), with no markup
 * and nothing a mail client would make a link of. Mail clients link bare URLs and domain names, in escaped
 * HTML and in plain text alike, so a breach titled `evil.example/reset` would become a link in a security email
 * sent by the company's own identity provider. The rendering is the security community's "defanging":
 * - `<` and `>` become `‹` and `›`;
 * - a dot inside a word becomes `[.]` (`evil[.]example/reset`, `v2[.]0`), as do the full stops IDNA reads as dots;
 * - `://` becomes `[:]//`, and an `@` inside a word `[@]`.
 * Unsafe characters (zero-width ones included, which could hide a dot) are spaces before any of this.
 */
export function userText (value: unknown, max: number): string | undefined {
  const plain = plainText(value, max * 4)
  if (plain === undefined) return undefined
  const defanged = plain
    .replace(/[<>]/g, c => ANGLES[c]!)
    .replace(INNER_DOT, '[.]')
    .replace(/:\/\//g, '[:]//')
    .replace(/(?<=\S)@(?=\S)/g, '[@]')
  return plainText(defanged, max)
}
