import { knownVariables } from './variables.js'

/** Variables with these prefixes belong to the bridge: an unknown one is most likely a typo. */
export const BRIDGE_PREFIXES = ['BRIDGE_', 'ENZOIC_', 'FUSIONAUTH_'] as const

/** Levenshtein distance. */
export function editDistance (a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]!
}

export interface UnknownVariable { name: string, closest?: string }

/**
 * Variables in `env` with a bridge prefix that the bridge does not read (set, but silently ignored), each
 * with the closest known name when it is close enough to be the one meant.
 */
export function unknownVariables (env: NodeJS.ProcessEnv): UnknownVariable[] {
  const known = knownVariables()
  const out: UnknownVariable[] = []
  for (const name of Object.keys(env).sort()) {
    if (!BRIDGE_PREFIXES.some(p => name.startsWith(p)) || known.includes(name)) continue
    let best: { name: string, d: number } | undefined
    for (const k of known) {
      const d = editDistance(name, k)
      if (best === undefined || d < best.d) best = { name: k, d }
    }
    const close = best !== undefined && best.d <= Math.max(3, Math.floor(name.length * 0.4))
    out.push(close ? { name, closest: best!.name } : { name })
  }
  return out
}

/** An ./.env that exists but cannot be read (its errno): said by every command and logged by `serve`, never silent. */
export function envFileWarning (code: string): string {
  return `cannot read ./.env (${code}): its settings are not applied`
}
