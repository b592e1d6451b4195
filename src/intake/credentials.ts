import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** One key:secret pair of ENZOIC_WEBHOOK_CREDENTIALS. */
export interface WebhookCredential { readonly key: string, readonly secret: string }

/**
 * Returns a checker for the webhook's Basic credentials. Every configured pair is compared, always, in
 * constant time: both sides are reduced to fixed-length digests (so lengths leak nothing) and the results are
 * combined without an early exit (so which pair matched, or how many exist, leaks nothing). The digest is one
 * SHA-256 of a per-process random salt and the pair (half an HMAC's work, on every request): the digests kept in
 * memory are useless outside this process, and nothing here needs a MAC's resistance to a chosen message.
 */
export function createCredentialCheck (pairs: readonly WebhookCredential[]): (key: string, secret: string) => boolean {
  const salt = randomBytes(32)
  // One digest per pair: the key's length is part of the input, so no two pairs share a message.
  const digest = (key: string, secret: string): Buffer =>
    createHash('sha256').update(salt).update(`${Buffer.byteLength(key, 'utf8')}:${key}:${secret}`, 'utf8').digest()
  const stored = pairs.map(p => digest(p.key, p.secret))
  return (key, secret) => {
    const presented = digest(key, secret)
    let match = 0
    for (const p of stored) match |= Number(timingSafeEqual(presented, p))
    return match === 1
  }
}

/**
 * Returns a checker for a header value that must equal one of `values` exactly (FUSIONAUTH_WEBHOOK_SECRET: the
 * `Authorization` header FusionAuth is configured to send). Constant time as above: fixed-length digests, every
 * value compared, no early exit.
 */
export function createSecretCheck (values: readonly string[]): (presented: string | undefined) => boolean {
  const hmacKey = randomBytes(32)
  const digest = (v: string): Buffer => createHmac('sha256', hmacKey).update(v, 'utf8').digest()
  const stored = values.map(digest)
  return presented => {
    // A missing header is compared too, so its answer takes as long as a wrong one.
    const d = digest(presented ?? '')
    let match = 0
    for (const s of stored) match |= Number(timingSafeEqual(d, s))
    return match === 1 && presented !== undefined
  }
}
