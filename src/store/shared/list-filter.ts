import { normaliseEmail, usernameHash } from '../../alerts/normalise.js'
import type { ListOptions } from '../types.js'

/**
 * The WHERE clause of `alerts.list` for either dialect: `param(value)` adds a bound value and returns its
 * placeholder (`?` for SQLite, `$n` for PostgreSQL); `instant` converts epoch ms to the column's type.
 */
export function listFilter (options: ListOptions, param: (value: unknown) => string, instant: (ms: number) => unknown): string {
  const where: string[] = []
  if (options.state !== undefined) where.push(`state = ${param(options.state)}`)
  if (options.outcome !== undefined) where.push(`outcome = ${param(options.outcome)}`)
  if (options.email !== undefined) {
    const email = normaliseEmail(options.email)
    where.push(`(email = ${param(email)} OR username_hash = ${param(usernameHash(email))})`)
  }
  if (options.since !== undefined) where.push(`received_at >= ${param(instant(options.since))}`)
  if (options.source !== undefined) where.push(`source = ${param(options.source)}`)
  if (options.idPrefix !== undefined) {
    // Only hex and dashes, so the LIKE pattern holds no wildcard of the caller's.
    if (!/^[0-9a-f-]+$/.test(options.idPrefix)) return 'WHERE 1 = 0'
    where.push(`id LIKE ${param(`${options.idPrefix}%`)}`)
  }
  return where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`
}
