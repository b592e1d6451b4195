import type { Command } from 'commander'

/** Variables most commands read: where the store is, and everything config validates at start. */
export const STORE_ENV = ['BRIDGE_DATABASE (or BRIDGE_DATABASE_FILE): the SQLite file or postgres:// URL of the running bridge']
export const ENZOIC_ENV = [
  'ENZOIC_API_KEY, ENZOIC_API_SECRET (or their _FILE forms): Enzoic API credentials (required)',
  'ENZOIC_API_URL: the Enzoic API base URL (default https://api.enzoic.com/v1)'
]
export const FUSIONAUTH_ENV = [
  'FUSIONAUTH_URL, FUSIONAUTH_API_KEY (or FUSIONAUTH_API_KEY_FILE): the FusionAuth instance and its API key (required)',
  'FUSIONAUTH_TENANT_IDS: only these tenants; FUSIONAUTH_TIMEOUT_MS: per request'
]
/** The tables' tenant names (optional: ids alone without them). */
export const TENANT_NAMES_ENV = 'FUSIONAUTH_URL, FUSIONAUTH_API_KEY (optional): tenant names beside the ids (else the policy file\'s names, or ids alone)'
const ALWAYS = 'The whole configuration is validated first (docs/cli.md, "Environment"); ./.env is read when present.'

export interface CommandHelp {
  /** `breach-bridge …` command lines, each optionally followed by `  # what it does`. */
  examples: string[]
  /** The variables this command reads, one line each: `NAME: what for`. */
  env: string[]
}

/** Adds "Examples:" and "Environment:" sections after the command's --help. */
export function withHelp (cmd: Command, help: CommandHelp): Command {
  const lines: string[] = ['', 'Examples:', ...help.examples.map(e => `  $ ${e}`)]
  lines.push('', 'Environment:', ...(help.env.length === 0 ? ['  none'] : help.env.map(v => `  ${v}`)))
  if (help.env.length > 0) lines.push(`  ${ALWAYS}`)
  lines.push('', 'Exit codes: 0 ok, 1 failure or problem found, 2 usage or configuration error, 3 dependency unavailable, 130 interrupted (docs/cli.md).')
  cmd.addHelpText('after', lines.join('\n'))
  return cmd
}
