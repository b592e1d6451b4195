import { loadConfig, SECRET_VARIABLES } from '../config.js'

/**
 * Every environment variable the bridge reads. The configuration's names are read off `loadConfig` itself
 * (its `get('…')`, `field('…')` and `optional('…')` calls, in source and in the compiled dist/ alike), so a
 * variable added there is known here at once; CONFIG_VARIABLES is the list as this file was written, kept as
 * a floor. test/cli/variables.test.ts checks both against src/config.ts.
 */
export const CONFIG_VARIABLES = [
  'HOST', 'PORT', 'LOG_LEVEL',
  'BRIDGE_DATABASE', 'BRIDGE_MAX_BODY_BYTES',
  'ENZOIC_WEBHOOK_CREDENTIALS', 'ENZOIC_PAYLOAD_ENCRYPTION', 'ENZOIC_PAYLOAD_KEY', 'ENZOIC_PAYLOAD_CIPHER',
  'ENZOIC_CLIENT_CERT', 'ENZOIC_CLIENT_CERT_CN', 'TRUSTED_PROXIES', 'TLS_CERT_FILE', 'TLS_KEY_FILE', 'ENZOIC_CLIENT_CA_FILE',
  'ENZOIC_ALLOWED_IPS', 'ENZOIC_API_URL', 'ENZOIC_API_KEY', 'ENZOIC_API_SECRET',
  'FUSIONAUTH_URL', 'FUSIONAUTH_API_KEY', 'FUSIONAUTH_TENANT_IDS', 'FUSIONAUTH_TIMEOUT_MS', 'FUSIONAUTH_CONCURRENCY',
  'BRIDGE_ACTIONS', 'BRIDGE_DRY_RUN', 'BRIDGE_PROTECTED_USERS', 'BRIDGE_SKIP_IF_PASSWORD_CHANGED_AFTER_EXPOSURE',
  'FUSIONAUTH_ACTOR_USER_ID', 'BRIDGE_RETRY_SCHEDULE', 'BRIDGE_LEASE_TTL'
] as const

/** The names `loadConfig` reads, from its own code. */
export function configVariables (): string[] {
  const names = new Set<string>(CONFIG_VARIABLES)
  for (const m of loadConfig.toString().matchAll(/\b(?:get|field|optional)\(\s*['"`]([A-Z][A-Z0-9_]+)['"`]/g)) names.add(m[1]!)
  return [...names].sort()
}

/** The configuration's variables, the `NAME_FILE` form of each secret, sorted. */
export function knownVariables (): string[] {
  return [...new Set<string>([...configVariables(), ...SECRET_VARIABLES.map(n => `${n}_FILE`)])].sort()
}

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
