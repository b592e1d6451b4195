/**
 * Every error the bridge throws on purpose extends BridgeError and carries one of these codes (stable: logs,
 * `--json` output and scripts rely on them). A class lives beside the code that throws it; its code is
 * declared here, once (test/architecture/errors.test.ts keeps every class and code accounted for).
 */
export const ERROR_CODES = {
  BRIDGE_CONFIG: 'the configuration has problems (one line per variable)',
  BRIDGE_STORE_UNAVAILABLE: 'the store cannot commit or be read right now',
  BRIDGE_STORE_DATA: 'the database refused one row for its data (it fails alone; retrying it cannot help)',
  BRIDGE_SCHEMA_VERSION: 'the database schema is not the one this bridge knows',
  BRIDGE_DATABASE_CONFIG: 'BRIDGE_DATABASE cannot be used as configured: a path that cannot be created or opened, a folder, a refused password, no such database, a TLS setting',
  BRIDGE_FUSIONAUTH: 'a FusionAuth call failed (its `kind` says what to do)',
  BRIDGE_ACTION_FAILED: 'FusionAuth failed an action in a way worth retrying or pausing for',
  BRIDGE_ENZOIC_API: 'an Enzoic API call failed',
  BRIDGE_SYNC_INTERRUPTED: '`monitor sync` was interrupted (resumable)',
  BRIDGE_SYNC_FAILED: '`monitor sync` failed after it started',
  BRIDGE_ENV_FILE: 'an env file cannot safely hold a secret',
  BRIDGE_ENV_WRITE: 'a webhook was registered but its credentials could not be written',
  BRIDGE_FUSIONAUTH_WEBHOOK: 'FusionAuth\'s webhook cannot be set up as asked (no webhook with that id; signing on a FusionAuth before 1.48)',
  BRIDGE_INVALID_ALERT_ID: 'not an alert id, or a prefix too short',
  BRIDGE_ALERT_NOT_FOUND: 'no such alert (or its data was purged)',
  BRIDGE_AMBIGUOUS_ALERT_ID: 'an alert id prefix that matches several alerts',
  BRIDGE_TENANT_ARGUMENT: 'a --tenant that matches no tenant, or several',
  BRIDGE_ALERT_BUSY: 'a worker is processing the alert right now',
  BRIDGE_RESTORE_INCOMPLETE: 'FusionAuth refused part of a restore',
  BRIDGE_RESTORE_NOT_PERMITTED: 'the API key may not make the calls a restore needs: nothing was undone',
  BRIDGE_NOT_THE_ALERTS_USER: '--user names a user the alert never touched',
  BRIDGE_INTAKE: 'a webhook request refused with a 4xx',
  BRIDGE_BODY: 'a webhook body that cannot be read',
  BRIDGE_CANNOT_DECRYPT: 'a webhook body that cannot be decrypted',
  BRIDGE_CLI: 'a command-line problem, with its exit code'
} as const

export type ErrorCode = keyof typeof ERROR_CODES

/** The base of the bridge's errors: a stable `code`, a name, and a JSON form that never carries a stack. */
export abstract class BridgeError extends Error {
  abstract readonly code: ErrorCode

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }

  toJSON (): Record<string, unknown> {
    const cause = (this.cause as Error | undefined)?.message
    return { name: this.name, code: this.code, message: this.message, ...(cause === undefined ? {} : { cause }) }
  }
}
