import { createHash, createSecretKey, type KeyObject } from 'node:crypto'
import { createRemoteJWKSet, errors, jwtVerify, type JWTHeaderParameters } from 'jose'

/**
 * FusionAuth's signed webhooks (≥ 1.48): `X-FusionAuth-Signature-JWT` is a JWT whose `request_body_sha256` claim is
 * base64(SHA-256(the raw body)), signed with the key the webhook names (`kid`). Asymmetric keys are fetched from
 * FusionAuth's JWKS (`/.well-known/jwks.json`: cached 10 minutes, fetched again — at most once a second — for an unknown `kid`);
 * an HMAC key's secret is never published, so it is configured (FUSIONAUTH_WEBHOOK_HMAC_KEY).
 *
 * Only the algorithms below are accepted: never `none`, never an HMAC algorithm with a published (public) key —
 * the HMAC secret is the configured one or nothing.
 */

export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const

export interface SignatureSettings {
  mode: 'off' | 'required'
  /** `${FUSIONAUTH_URL}/.well-known/jwks.json`. */
  jwksUrl?: string
  /** FUSIONAUTH_WEBHOOK_HMAC_KEY (its bytes, UTF-8). */
  hmacKey?: string
  /** The JWKS fetch's time-out (ms). */
  timeoutMs?: number
}

export type SignatureVerdict = { ok: true, kid?: string, alg: string } | { ok: false, reason: string }

export const SIGNATURE_HEADER = 'x-fusionauth-signature-jwt'
/**
 * An unknown `kid` fetches the keys again at most this often. Short, so a key FusionAuth just rotated to is found at
 * once (a transactional event is not retried); only a caller that passed the Authorization check can cause a fetch.
 */
export const JWKS_COOLDOWN_MS = 1_000

/** Returns the verifier of one request's signature (header value, raw body bytes). */
export function createSignatureCheck (settings: SignatureSettings): (jwt: string | undefined, body: Buffer) => Promise<SignatureVerdict> {
  const jwks = settings.jwksUrl === undefined
    ? undefined
    : createRemoteJWKSet(new URL(settings.jwksUrl), { timeoutDuration: settings.timeoutMs ?? 5000, cooldownDuration: JWKS_COOLDOWN_MS, cacheMaxAge: 600_000 })
  const hmac: KeyObject | undefined = settings.hmacKey === undefined ? undefined : createSecretKey(Buffer.from(settings.hmacKey, 'utf8'))
  const algorithms = [...(jwks === undefined ? [] : ASYMMETRIC_ALGORITHMS), ...(hmac === undefined ? [] : HMAC_ALGORITHMS)]

  const keyFor = async (header: JWTHeaderParameters): Promise<KeyObject | Uint8Array | Awaited<ReturnType<NonNullable<typeof jwks>>>> => {
    if (header.alg.startsWith('HS')) {
      if (hmac === undefined) throw new Error('an HMAC signature, and no FUSIONAUTH_WEBHOOK_HMAC_KEY')
      return hmac
    }
    if (jwks === undefined) throw new Error('an asymmetric signature, and no FUSIONAUTH_URL to fetch the keys from')
    return await jwks(header)
  }

  return async (jwt, body) => {
    if (jwt === undefined || jwt.trim() === '') return { ok: false, reason: 'no X-FusionAuth-Signature-JWT header' }
    try {
      const { payload, protectedHeader } = await jwtVerify(jwt.trim(), keyFor, { algorithms })
      const claimed = payload.request_body_sha256
      const actual = createHash('sha256').update(body).digest('base64')
      if (typeof claimed !== 'string' || claimed !== actual) return { ok: false, reason: 'request_body_sha256 does not match the body' }
      return { ok: true, kid: protectedHeader.kid, alg: protectedHeader.alg }
    } catch (err) {
      return { ok: false, reason: describe(err) }
    }
  }
}

function describe (err: unknown): string {
  if (err instanceof errors.JOSEAlgNotAllowed) return 'a signature algorithm that is not allowed'
  if (err instanceof errors.JWKSNoMatchingKey) return 'signed with a key FusionAuth does not publish (unknown kid)'
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify'
  if (err instanceof errors.JWKSTimeout) return 'FusionAuth\'s keys could not be fetched in time'
  if (err instanceof errors.JWTExpired) return 'the signature JWT has expired'
  if (err instanceof errors.JOSEError) return `not a valid signature JWT (${err.code})`
  return err instanceof Error ? err.message : 'not a valid signature'
}
