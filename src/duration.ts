const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `5s`, `2m`, `1h`, `250ms`, `1d` → milliseconds; undefined when malformed. */
export function parseDuration (text: string): number | undefined {
  const m = /^(\d{1,9}(?:\.\d{1,6})?)(ms|s|m|h|d)$/.exec(text.trim())
  if (m === null) return undefined
  return Math.round(Number(m[1]) * UNITS[m[2]!]!)
}
