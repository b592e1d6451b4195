import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** One key:secret pair of ENZOIC_WEBHOOK_CREDENTIALS. */
export interface WebhookCredential { readonly key: string, readonly secret: string }

/**
 * Returns a checker for the webhook's Basic credentials. Every configured pair is compared, always, in
 * constant time: both sides are reduced to fixed-length HMAC digests (so lengths leak nothing) and the
 * results are combined without an early exit (so which pair matched, or how many exist, leaks nothing).
 */
export function createCredentialCheck (pairs: readonly WebhookCredential[]): (key: string, secret: string) => boolean {
  // A per-process key: the digests kept in memory are useless outside this process.
  const hmacKey = randomBytes(32)
  // One digest per pair: the key's length is part of the input, so no two pairs share a message.
  const digest = (key: string, secret: string): Buffer =>
    createHmac('sha256', hmacKey).update(`${Buffer.byteLength(key, 'utf8')}:${key}:${secret}`, 'utf8').digest()
  const stored = pairs.map(p => digest(p.key, p.secret))
  return (key, secret) => {
    const presented = digest(key, secret)
    let match = 0
    for (const p of stored) match |= Number(timingSafeEqual(presented, p))
    return match === 1
  }
}
