import { closestName, editDistance } from '../closest.js'
import { knownVariables } from './variables.js'

export { editDistance }

/** Variables with these prefixes belong to the bridge: an unknown one is most likely a typo. */
export const BRIDGE_PREFIXES = ['BRIDGE_', 'ENZOIC_', 'FUSIONAUTH_'] as const

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
    const closest = closestName(name, known)
    out.push(closest === undefined ? { name } : { name, closest })
  }
  return out
}

/** An ./.env that exists but cannot be read (its errno): said by every command and logged by `serve`, never silent. */
export function envFileWarning (code: string): string {
  return `cannot read ./.env (${code}): its settings are not applied`
}
