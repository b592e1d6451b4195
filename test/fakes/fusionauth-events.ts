// FusionAuth's side of its webhooks, for tests: events shaped as FusionAuth sends them (docs/design.md §13), signed
// as FusionAuth ≥ 1.48 signs them (`X-FusionAuth-Signature-JWT`, a JWT whose `request_body_sha256` claim is
// base64(SHA-256(body)), `kid` naming the key), with real key pairs whose public halves the fake publishes at
// `/.well-known/jwks.json`.
import { createHash, randomUUID } from 'node:crypto'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK } from 'jose'
import type { FakeUser, FusionAuthFake } from './fusionauth.js'

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey']
interface SigningKey { kid: string, privateKey: PrivateKey, publicJwk: JWK, publicPem: string }

export interface EventSigner {
  /** The key events are signed with now. */
  readonly kid: string
  /** The published public keys. */
  jwks (): { keys: JWK[] }
  /** `X-FusionAuth-Signature-JWT` for this body, with the current key (or as told). */
  sign (body: string, opts?: { kid?: string, claims?: Record<string, unknown> }): Promise<string>
  /** A new key pair, published and used from now on (the old one stays published). */
  rotate (): Promise<string>
  /** A key pair FusionAuth does not publish, under a published kid (a forger's). */
  forge (body: string): Promise<string>
  /** HS256 with `secret`, under `kid` (an HMAC key; or the public key's PEM as the secret: the algorithm-confusion attack). */
  signHmac (body: string, secret: string, kid?: string): Promise<string>
  /** The current key's public key as PEM text. */
  publicPem (): string
}

async function newKey (): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const kid = randomUUID()
  return { kid, privateKey, publicJwk: { ...await exportJWK(publicKey), kid, alg: 'RS256', use: 'sig' }, publicPem: await exportSPKI(publicKey) }
}

const bodyHash = (body: string): string => createHash('sha256').update(body, 'utf8').digest('base64')

/** A signer whose keys `fa` publishes. */
export async function createEventSigner (fa?: FusionAuthFake): Promise<EventSigner> {
  const keys: SigningKey[] = [await newKey()]
  const current = (): SigningKey => keys.at(-1)!
  const jwt = (body: string, claims: Record<string, unknown> = {}): SignJWT =>
    new SignJWT({ request_body_sha256: bodyHash(body), ...claims }).setIssuedAt().setIssuer('acme.com')
  const signer: EventSigner = {
    get kid () { return current().kid },
    jwks: () => ({ keys: keys.map(k => k.publicJwk) }),
    async sign (body, opts = {}) {
      // An unknown kid names no key: the current one signs under that kid.
      const kid = opts.kid ?? current().kid
      const key = keys.find(k => k.kid === kid) ?? current()
      return await jwt(body, opts.claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key.privateKey)
    },
    async rotate () {
      keys.push(await newKey())
      return current().kid
    },
    async forge (body) {
      const other = await newKey()
      return await jwt(body).setProtectedHeader({ alg: 'RS256', kid: current().kid, typ: 'JWT' }).sign(other.privateKey)
    },
    async signHmac (body, secret, kid = current().kid) {
      return await jwt(body).setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' }).sign(new TextEncoder().encode(secret))
    },
    publicPem: () => current().publicPem
  }
  fa?.publishKeys(() => signer.jwks(), async (body, kid) => await signer.sign(body, { kid }))
  return signer
}

/** An unsigned JWT (`alg: none`) claiming the right body hash. */
export function unsignedJwt (body: string): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ request_body_sha256: bodyHash(body) })}.`
}

/** The user as FusionAuth puts it in an event (what the bridge reads of it, and some it must not keep). */
export function eventUser (u: FakeUser): Record<string, unknown> {
  return {
    id: u.id,
    tenantId: u.tenantId,
    email: u.email,
    active: u.active,
    firstName: 'Private',
    passwordLastUpdateInstant: u.passwordLastUpdateInstant,
    data: { note: 'never stored' }
  }
}

/** `{"event": {…}}` as FusionAuth posts it. */
export function fusionAuthEvent (type: string, fields: Record<string, unknown> = {}, id: string = randomUUID()): { event: Record<string, unknown> } {
  return { event: { id, type, createInstant: Date.now(), info: { ipAddress: '198.51.100.7', userAgent: 'Mozilla/5.0' }, ...fields } }
}

/** A user event of `u` (user.password.breach, user.password.update, user.create, user.delete, …). */
export function userEvent (type: string, u: FakeUser, extra: Record<string, unknown> = {}, id?: string): { event: Record<string, unknown> } {
  return fusionAuthEvent(type, { tenantId: u.tenantId, user: eventUser(u), ...extra }, id)
}

export interface PostedEvent { status: number, body: any, text: string }

/**
 * POSTs an event to the bridge's `/webhooks/fusionauth` as FusionAuth's webhook does: the configured Authorization
 * header, and `signature` as `X-FusionAuth-Signature-JWT` (a signer: signed with its current key; false: none).
 */
export async function postEvent (
  bridgeUrl: string, event: unknown, opts: { authorization?: string, signature?: EventSigner | string | false, headers?: Record<string, string> } = {}
): Promise<PostedEvent> {
  const body = typeof event === 'string' ? event : JSON.stringify(event)
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers }
  if (opts.authorization !== undefined) headers.authorization = opts.authorization
  if (typeof opts.signature === 'string') headers['x-fusionauth-signature-jwt'] = opts.signature
  else if (opts.signature !== undefined && opts.signature !== false) headers['x-fusionauth-signature-jwt'] = await opts.signature.sign(body)
  const res = await fetch(`${bridgeUrl}/webhooks/fusionauth`, { method: 'POST', headers, body })
  const text = await res.text()
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch { parsed = undefined }
  return { status: res.status, body: parsed, text }
}
