import { createHash } from 'node:crypto'

/** Normalise once: every email the bridge compares, hashes or looks up goes through here. */
export function normaliseEmail (email: string): string {
  return email.trim().toLowerCase()
}

export function sha256Hex (text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
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

/** `2017-01-17T04:51:05.1915231Z` (and friends) → ISO string; undefined when unreadable. */
export function parseEnzoicDate (value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(value.trim())
  if (m === null) return undefined
  const time = m[2] === undefined ? '00:00:00' : m[2].length === 5 ? `${m[2]}:00` : m[2]
  const fraction = (m[3] ?? '').padEnd(3, '0').slice(0, 3)
  // Enzoic dates are GMT; a date without a zone is read as UTC.
  const zone = m[4] === undefined ? 'Z' : m[4].toUpperCase()
  const d = new Date(`${m[1]}T${time}.${fraction}${zone}`)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}
