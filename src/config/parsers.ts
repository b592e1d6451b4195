import { isIP } from 'node:net'
import { parseDuration } from '../duration.js'

/** A parse failure: the message says what is wrong, never the value (it may be a secret). */
export class Bad { constructor (readonly message: string) {} }
export const bad = (message: string): Bad => new Bad(message)

export type Parser<T> = (text: string) => T | Bad

export const list = (s: string | undefined): string[] =>
  (s ?? '').split(',').map(x => x.trim()).filter(x => x.length > 0)

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const text: Parser<string> = v => v.trim() === '' ? bad('must not be empty') : v.trim()

export const bool: Parser<boolean> = v => {
  const t = v.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(t)) return true
  if (['false', '0', 'no', 'off'].includes(t)) return false
  return bad('must be true or false')
}

export const int = (min: number, max: number): Parser<number> => v => {
  if (!/^\d+$/.test(v.trim())) return bad('must be a whole number')
  const n = Number(v.trim())
  return n >= min && n <= max ? n : bad(`must be between ${min} and ${max}`)
}

export function oneOf<T extends string> (...values: T[]): Parser<T> {
  return v => {
    const t = v.trim().toLowerCase()
    return (values as string[]).includes(t) ? t as T : bad(`must be one of ${values.join(', ')}`)
  }
}

/** A duration within bounds (`30s`, `72h`), with a message showing the expected form. */
export function duration (minMs: number, maxMs: number, message: string): Parser<number> {
  return v => {
    const d = parseDuration(v)
    return d !== undefined && d >= minMs && d <= maxMs ? d : bad(message)
  }
}

export const ips: Parser<string[]> = v => {
  const items = list(v)
  const wrong = items.findIndex(ip => isIP(ip) === 0)
  return wrong >= 0 ? bad(`entry ${wrong + 1} is not an IP address`) : items
}

export const httpUrl: Parser<string> = v => {
  try {
    const u = new URL(v)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return bad('must be an http(s) URL')
    return v.trim().replace(/\/+$/, '')
  } catch { return bad('must be a URL') }
}

export const uuid = (what: string): Parser<string> => v => UUID.test(v.trim()) ? v.trim().toLowerCase() : bad(`must be ${what} (UUID)`)

export const uuids = (what: string): Parser<string[]> => v => {
  const ids = list(v)
  return ids.every(id => UUID.test(id)) ? ids.map(id => id.toLowerCase()) : bad(`must be a comma-separated list of ${what} (UUIDs)`)
}

/** A key as bytes: `base64:…`, `hex:…`, or any other text (its UTF-8 bytes); at least `minBytes` of them. */
export const keyBytes = (minBytes: number): Parser<Buffer> => v => {
  const t = v.trim()
  let key: Buffer
  if (t.startsWith('base64:')) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t.slice(7))) return bad('base64: key is not valid Base64')
    key = Buffer.from(t.slice(7), 'base64')
  } else if (t.startsWith('hex:')) {
    if (!/^([0-9a-fA-F]{2})+$/.test(t.slice(4))) return bad('hex: key is not valid hex')
    key = Buffer.from(t.slice(4), 'hex')
  } else {
    key = Buffer.from(t, 'utf8')
  }
  return key.length >= minBytes ? key : bad(`must be at least ${minBytes} bytes (got ${key.length}): e.g. base64: and 32 random bytes`)
}
