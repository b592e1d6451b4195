/** Parsers of option values shared by commands; a bad value is commander's usage error (exit 2). */
import { InvalidArgumentError } from 'commander'
import { parseDuration } from '../duration.js'

/** `--since`: an ISO date/time (`2026-03-01`, `2026-03-01T12:00Z`) or a duration back from `now` (`24h`, `7d`). */
export function parseSince (text: string, now: number): number {
  const d = parseDuration(text)
  if (d !== undefined) return now - d
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const t = Date.parse(text.trim())
    if (!Number.isNaN(t)) return t
  }
  throw new InvalidArgumentError('give a date (2026-03-01, 2026-03-01T12:00:00Z) or a duration back from now (30m, 24h, 7d)')
}

/** `--limit`: a positive whole number. */
export function parseLimit (text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number')
  return n
}

/** `--older-than`: a positive duration. */
export function parseOlderThan (text: string): number {
  const d = parseDuration(text)
  if (d === undefined || d <= 0) throw new InvalidArgumentError('give a duration like 30d, 90d or 12h')
  return d
}
