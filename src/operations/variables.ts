// Transitional: the variable table lives in src/config/variables.ts.
import { knownVariables } from '../config/index.js'
export { BRIDGE_PREFIXES, editDistance, knownVariables, unknownVariables, type UnknownVariable } from '../config/index.js'
/** The configuration's variable names. */
export function configVariables (): string[] { return knownVariables().filter(n => !n.endsWith('_FILE') || n === 'TLS_CERT_FILE' || n === 'TLS_KEY_FILE' || n === 'ENZOIC_CLIENT_CA_FILE') }
export const CONFIG_VARIABLES = configVariables()
