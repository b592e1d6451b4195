import { createHmac } from 'node:crypto'

/**
 * A purged alert's tombstone keeps its idempotency key so a late re-delivery stays a duplicate. The key itself is
 * the SHA-256 of (exposure id, email, customData): anyone holding the database and a list of candidate emails
 * could recompute it and re-identify the purged alert. Under BRIDGE_TOMBSTONE_KEY (kept outside the database) the
 * tombstone holds `hmac:` + HMAC-SHA256(key, idempotency key) instead: recognisable by the bridge, by no one else.
 * The HMAC is taken of the idempotency key (not of its parts) so that tombstones made before the key was set —
 * which hold only that — can be keyed later.
 */
export type TombstoneKeyer = (idempotencyKey: string) => string

/** What a keyed tombstone's idempotency key starts with (a plain key is 64 hex digits). */
export const KEYED_TOMBSTONE = 'hmac:'

export function tombstoneKeyer (key: Uint8Array | undefined): TombstoneKeyer | undefined {
  if (key === undefined) return undefined
  const secret = Buffer.from(key)
  return idempotencyKey => `${KEYED_TOMBSTONE}${createHmac('sha256', secret).update(idempotencyKey, 'utf8').digest('hex')}`
}

/** Tombstones keyed per transaction when older unkeyed ones are keyed (`alerts.purge`). */
export const REKEY_SLICE = 2000

/** KV: every tombstone is keyed (set after a purge under a key found none unkeyed; cleared by a purge without one). */
export const TOMBSTONES_KEYED = 'tombstones.keyed'
