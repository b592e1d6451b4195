/**
 * Breach data is attacker-controlled (titles, URLs, exposure ids, even usernames come from criminal dumps).
 * Text the bridge forwards (to FusionAuth, to an operator's chat) is made plain and short here, once.
 */

/** C0 and C1 controls (ESC, CR, LF, CSI U+009B …), DEL, and the bidi controls that reorder what is shown. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** Control characters become spaces, runs of spaces one, and the result at most `max` characters (with …). */
export function plainText (value: unknown, max: number): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined
  const text = String(value).replace(CONTROL_CHARS, ' ').replace(/\s+/g, ' ').trim()
  if (text === '') return undefined
  return text.length > max ? `${text.slice(0, max - 1).trimEnd()}…` : text
}
