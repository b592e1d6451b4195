import { TextDecoder } from 'node:util'
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib'
import { BridgeError } from '../errors.js'

/**
 * The wrappers a mainstream HTTP stack (.NET, Java, Go, Python) may put around a JSON or an encrypted body,
 * taken off in order: the content coding (gzip, deflate, br; bounded), the character encoding (a BOM, the
 * `charset=` of the content type, UTF-16 without a BOM), surrounding whitespace, and one level of JSON string
 * (a document that is a string holding the JSON, or a quoted ciphertext). No regular expression here: every
 * step is one pass over the body.
 */

/** A body the bridge cannot read: the route answers `statusCode {"error": message}` and stores nothing. */
export class BodyError extends BridgeError {
  readonly code = 'BRIDGE_BODY'
  constructor (readonly statusCode: 400 | 413, message: string) {
    super(message)
  }
}

/** Content codings applied one after the other at most (`gzip, br` is two). */
const MAX_CODINGS = 2

/**
 * Undoes `Content-Encoding`. Each step stops as soon as its output would pass `maxBytes` (413): a small
 * compressed body cannot inflate past the body limit, in memory or in time.
 */
export function contentDecode (raw: Buffer, header: string | string[] | undefined, maxBytes: number): Buffer {
  const codings = (Array.isArray(header) ? header.join(',') : header ?? '').split(',')
    .map(c => c.trim().toLowerCase())
    .filter(c => c !== '' && c !== 'identity')
  if (codings.length === 0) return raw
  if (codings.length > MAX_CODINGS) throw new BodyError(400, 'unsupported content encoding')
  let bytes = raw
  // Listed in the order applied: undone from the last.
  for (const coding of codings.reverse()) {
    const limit = { maxOutputLength: maxBytes }
    try {
      if (coding === 'gzip' || coding === 'x-gzip') bytes = gunzipSync(bytes, limit)
      else if (coding === 'br') bytes = brotliDecompressSync(bytes, limit)
      else if (coding === 'deflate') {
        // RFC 9110 deflate is zlib-wrapped; some clients send raw deflate under the same name.
        try {
          bytes = inflateSync(bytes, limit)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw err
          bytes = inflateRawSync(bytes, limit)
        }
      } else throw new BodyError(400, 'unsupported content encoding')
    } catch (err) {
      if (err instanceof BodyError) throw err
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new BodyError(413, 'payload too large')
      throw new BodyError(400, 'cannot decompress')
    }
  }
  return bytes
}

/** The `charset` parameter of a Content-Type value, lower-cased, or undefined. */
export function charsetOf (contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined
  for (const param of contentType.split(';').slice(1)) {
    const eq = param.indexOf('=')
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue
    let value = param.slice(eq + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    return value.toLowerCase()
  }
  return undefined
}

/** UTF-16 without a BOM: JSON and Base64 start with an ASCII character, so its zero byte tells the order. */
const utf16Order = (b: Buffer): 'utf-16le' | 'utf-16be' => b.length >= 2 && b[0] === 0 && b[1] !== 0 ? 'utf-16be' : 'utf-16le'

/**
 * Bytes → text as a browser decodes them (WHATWG): a BOM wins (UTF-8, UTF-16 LE/BE), then the content type's
 * charset, else UTF-8 — or UTF-16 when the zero bytes of ASCII text in UTF-16 show (RFC 4627 §3; .NET's
 * `Encoding.Unicode` writes no BOM). Invalid sequences become U+FFFD, as before; an unknown charset is a 400.
 */
export function bodyText (bytes: Buffer, contentType?: string): string {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.toString('utf8', 3)
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2))
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2))
  let charset = charsetOf(contentType)
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') {
    const nulls = bytes.length >= 2 && (bytes[0] === 0) !== (bytes[1] === 0)
    if (!nulls) return bytes.toString('utf8')
    charset = 'utf-16'
  }
  if (charset === 'utf-16' || charset === 'unicode') charset = utf16Order(bytes)
  let decoder: TextDecoder
  try {
    decoder = new TextDecoder(charset)
  } catch {
    throw new BodyError(400, 'unsupported charset')
  }
  return decoder.decode(bytes)
}

/** What a body holds once its wrappers are off. */
export type Unwrapped =
  | { kind: 'empty' }
  /** JSON text: an object or array (the caller parses it). */
  | { kind: 'json', text: string }
  /** Anything else: a ciphertext if encryption is on (the caller checks its Base64). */
  | { kind: 'cipher', text: string }

const startsJson = (s: string): boolean => s.startsWith('{') || s.startsWith('[')

/**
 * Text → JSON or ciphertext, without surrounding whitespace (JSON's, and Unicode's: `trim()`), and without
 * one level of JSON string: `"{\"username\":…}"` (double-encoded JSON) or `"q83v…=="` (a quoted ciphertext,
 * whose escapes such as System.Text.Json's `\u002B` for `+` are undone). A quoted text that is not a valid JSON
 * string loses its two quotes only.
 */
export function unwrap (text: string): Unwrapped {
  const s = text.trim()
  if (s === '') return { kind: 'empty' }
  if (startsJson(s)) return { kind: 'json', text: s }
  if (s.startsWith('"')) {
    let inner: string | undefined
    try {
      const v: unknown = JSON.parse(s)
      if (typeof v === 'string') inner = v.trim()
    } catch {}
    if (inner === undefined) inner = s.length >= 2 && s.endsWith('"') ? s.slice(1, -1).trim() : s
    return startsJson(inner) ? { kind: 'json', text: inner } : { kind: 'cipher', text: inner }
  }
  return { kind: 'cipher', text: s }
}
