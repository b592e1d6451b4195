/** The configuration: variables declared once (variables.ts), loaded (load.ts), given to each part (parts.ts). */
export { parseDuration } from '../duration.js'
export { ConfigError, loadConfig, secretValue, type Config, type NotifySettings } from './load.js'
export { knownVariables, SECRET_VARIABLES, VARIABLES, type Requirement, type Variable, type WebhookCredential } from './variables.js'
export { BRIDGE_PREFIXES, editDistance, envFileWarning, unknownVariables, type UnknownVariable } from './unknown.js'
export type { ActionSpec } from '../remediation/actions/index.js'
