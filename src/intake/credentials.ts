import { hash, randomBytes, timingSafeEqual } from 'node:crypto'

/** One key:secret pair of ENZOIC_WEBHOOK_CREDENTIALS. */
export interface WebhookCredential { readonly key: string, readonly secret: string }

/**
 * The constant-time check both webhook routes use: every configured text and the presented one are reduced to
 * fixed-length digests (so lengths leak nothing), every stored digest is compared and the results are combined
 * without an early exit (so which one matched, or how many exist, leaks nothing). The digest is one SHA-256 of a
 * per-process random salt and the text (half an HMAC's work, on every request): the digests kept in memory are
 * useless outside this process, and nothing here needs a MAC's resistance to a chosen message.
 */
function constantTimeMatcher (texts: readonly string[]): (presented: string) => boolean {
  // One-shot `crypto.hash` of the salt's text and the text: no Hash object per request (0.8–1.1 against 1.5–2.2 µs).
  const salt = randomBytes(32).toString('base64')
  const digest = (text: string): Buffer => hash('sha256', salt + text, 'buffer')
  const stored = texts.map(digest)
  return presented => {
    const d = digest(presented)
    let match = 0
    for (const s of stored) match |= Number(timingSafeEqual(d, s))
    return match === 1
  }
}

/** Returns a checker for the webhook's Basic credentials (constant time, as above). */
export function createCredentialCheck (pairs: readonly WebhookCredential[]): (key: string, secret: string) => boolean {
  // One text per pair: the key's length is part of it, so no two pairs share a text.
  const text = (key: string, secret: string): string => `${Buffer.byteLength(key, 'utf8')}:${key}:${secret}`
  const matches = constantTimeMatcher(pairs.map(p => text(p.key, p.secret)))
  return (key, secret) => matches(text(key, secret))
}

/**
 * Returns a checker for a header value that must equal one of `values` exactly (FUSIONAUTH_WEBHOOK_SECRET: the
 * `Authorization` header FusionAuth is configured to send), in constant time as above.
 */
export function createSecretCheck (values: readonly string[]): (presented: string | undefined) => boolean {
  const matches = constantTimeMatcher(values)
  // A missing header is compared too, so its answer takes as long as a wrong one.
  return presented => matches(presented ?? '') && presented !== undefined
}
