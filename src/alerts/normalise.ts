import { hash } from 'node:crypto'

/** Normalise once: every email the bridge compares, hashes or looks up goes through here. */
export function normaliseEmail (email: string): string {
  return email.trim().toLowerCase()
}

/** SHA-256 hex of the text's UTF-8 (one-shot `crypto.hash`: no Hash object per call). */
export function sha256Hex (text: string): string {
  return hash('sha256', text, 'hex')
}

/**
 * The one rule for every string that arrives from outside (an Enzoic alert, a FusionAuth event): well-formed UTF-16
 * (a lone surrogate becomes U+FFFD, as `toWellFormed` does) and no U+0000 (U+FFFD too). Both stores then take any
 * string as it is: PostgreSQL refuses U+0000 in text and jsonb, and a lone surrogate in jsonb, and one such string
 * used to fail every alert committed beside it.
 */
export function wellFormedText (text: string): string {
  const w = text.isWellFormed() ? text : text.toWellFormed()
  return w.includes('\u0000') ? w.replaceAll('\u0000', '\ufffd') : w
}

/**
 * `wellFormedText` applied to every string of a parsed JSON value, object keys included, in place (arrays and
 * objects are changed, not copied; a string at the top is returned changed). Iterative: any nesting depth.
 */
export function wellFormedJson (value: unknown): unknown {
  if (typeof value === 'string') return wellFormedText(value)
  const pending: object[] = value !== null && typeof value === 'object' ? [value] : []
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    const record = node as Record<string, unknown>
    for (const key of Object.keys(record)) {
      const v = record[key]
      if (typeof v === 'string') record[key] = wellFormedText(v)
      else if (v !== null && typeof v === 'object') pending.push(v)
      if (Array.isArray(node)) continue
      const fixed = wellFormedText(key)
      if (fixed === key) continue
      // defineProperty: a key that becomes `__proto__` stays a key, never the prototype.
      Object.defineProperty(record, fixed, { value: record[key], enumerable: true, writable: true, configurable: true })
      delete record[key]
    }
  }
  return value
}

/** Enzoic's `usernameHash`: SHA-256 hex of the normalised email. */
export function usernameHash (email: string): string {
  return sha256Hex(normaliseEmail(email))
}

/**
 * `customData` written by `monitor sync` on each enrolled user: `fusionauth:<tenantId>:<userId>`, so an
 * alert maps straight back to the user. Written and read only here.
 */
const CUSTOM_DATA = /^fusionauth:([0-9a-f-]{36}):([0-9a-f-]{36})$/i

export function formatCustomData (user: { tenantId: string, id: string }): string {
  return `fusionauth:${user.tenantId}:${user.id}`
}

export function parseCustomData (customData: string | undefined): { tenantId: string, userId: string } | undefined {
  const m = customData === undefined ? null : CUSTOM_DATA.exec(customData.trim())
  return m === null ? undefined : { tenantId: m[1]!.toLowerCase(), userId: m[2]!.toLowerCase() }
}

/**
 * The form Enzoic sends, UTC with up to 9 fraction digits: V8's own ISO parser reads it as the general rule below
 * would (the fraction cut to milliseconds, the same day and hour overflow; compared on 300,000 random dates) in
 * half the time — three dates per alert (issue 19).
 */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/

/** `2017-01-17T04:51:05.1915231Z` (and friends) → ISO string; undefined when unreadable. */
export function parseEnzoicDate (value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  if (ISO_UTC.test(value)) {
    const t = Date.parse(value)
    return Number.isNaN(t) ? undefined : new Date(t).toISOString()
  }
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(value.trim())
  if (m === null) return undefined
  const time = m[2] === undefined ? '00:00:00' : m[2].length === 5 ? `${m[2]}:00` : m[2]
  const fraction = (m[3] ?? '').padEnd(3, '0').slice(0, 3)
  // Enzoic dates are GMT; a date without a zone is read as UTC.
  const zone = m[4] === undefined ? 'Z' : m[4].toUpperCase()
  const d = new Date(`${m[1]}T${time}.${fraction}${zone}`)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}
