import type { TLSSocket } from 'node:tls'
import type { IncomingMessage } from 'node:http'

/**
 * Who is calling: the real client address, and whether its client certificate passed. Verdict headers
 * (`X-Client-Verify`, `X-Client-Subject-DN`, `X-Forwarded-For`) count only when the TCP peer is one of
 * TRUSTED_PROXIES; from anyone else they are ignored.
 */
export interface SourceVerdict {
  address: string
  allowed: boolean
  /** Why the caller was refused (logged, never sent). */
  reason?: string
}

/** Enzoic: trust only its root, verification depth 1 (nginx `ssl_verify_depth 1`). */
const MAX_INTERMEDIATES = 1

/** `::ffff:127.0.0.1` → `127.0.0.1`. */
export function normaliseIp (ip: string | undefined): string {
  if (ip === undefined) return ''
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip
}

/**
 * The values of every CN attribute of an RFC 2253/4514 distinguished name such as nginx's
 * `$ssl_client_s_dn` (`CN=webhooks.enzoic.com,O=Enzoic,C=US`), with `\,`-style escapes undone.
 */
export function commonNames (dn: string): string[] {
  const out: string[] = []
  let attr = ''
  let escaped = false
  // Positions in `attr` of escaped characters: `\ ` is a space that belongs to the value, never trimmed.
  const kept = new Set<number>()
  const flush = (): void => {
    const eq = attr.indexOf('=')
    if (eq > 0 && attr.slice(0, eq).trim().toUpperCase() === 'CN') {
      let start = eq + 1
      let end = attr.length
      while (start < end && /\s/.test(attr[start]!) && !kept.has(start)) start++
      while (end > start && /\s/.test(attr[end - 1]!) && !kept.has(end - 1)) end--
      out.push(attr.slice(start, end))
    }
    attr = ''
    kept.clear()
  }
  for (const ch of dn) {
    if (escaped) { kept.add(attr.length); attr += ch; escaped = false } else if (ch === '\\') { escaped = true } else if (ch === ',' || ch === '+') { flush() } else { attr += ch }
  }
  flush()
  return out
}

/** True when the DN has exactly one CN and it is exactly `expected` (no prefix, suffix or case games). */
export function exactCommonName (dn: string | undefined, expected: string): boolean {
  if (dn === undefined) return false
  const cns = commonNames(dn)
  return cns.length === 1 && cns[0] === expected
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name]
  return Array.isArray(v) ? undefined : v
}

/** Who may call the webhook (ENZOIC_CLIENT_CERT, ENZOIC_CLIENT_CERT_CN, TRUSTED_PROXIES, ENZOIC_ALLOWED_IPS). */
export interface SourceOptions {
  clientCert: 'off' | 'proxy' | 'direct'
  clientCertCN: string
  trustedProxies: readonly string[]
  allowedIps?: readonly string[]
}

export function createSourceGuard (config: SourceOptions): (req: IncomingMessage) => SourceVerdict {
  const trusted = new Set(config.trustedProxies.map(normaliseIp))
  const allowed = config.allowedIps === undefined ? undefined : new Set(config.allowedIps.map(normaliseIp))

  return (req) => {
    const peer = normaliseIp(req.socket.remoteAddress)
    const fromProxy = trusted.has(peer)
    // nginx overwrites X-Forwarded-For with $remote_addr; take the right-most entry (the one our proxy wrote).
    const forwarded = fromProxy ? header(req, 'x-forwarded-for')?.split(',').pop()?.trim() : undefined
    const address = forwarded !== undefined && forwarded !== '' ? normaliseIp(forwarded) : peer

    if (allowed !== undefined && !allowed.has(address)) return { address, allowed: false, reason: 'source address not allowed' }

    if (config.clientCert === 'proxy') {
      if (!fromProxy) return { address, allowed: false, reason: 'client-certificate headers from an untrusted peer' }
      if (header(req, 'x-client-verify') !== 'SUCCESS') return { address, allowed: false, reason: 'client certificate not verified by the proxy' }
      if (!exactCommonName(header(req, 'x-client-subject-dn'), config.clientCertCN)) return { address, allowed: false, reason: 'client certificate CN mismatch' }
    } else if (config.clientCert === 'direct') {
      const socket = req.socket as TLSSocket
      if (typeof socket.getPeerCertificate !== 'function') return { address, allowed: false, reason: 'not a TLS connection' }
      if (!socket.authorized) return { address, allowed: false, reason: `client certificate not trusted (${String(socket.authorizationError ?? 'none sent')})` }
      const cert = socket.getPeerCertificate(true)
      const cn = cert.subject?.CN as string | string[] | undefined
      if (typeof cn !== 'string' || cn !== config.clientCertCN) return { address, allowed: false, reason: 'client certificate CN mismatch' }
      // Verification depth 1, as nginx's `ssl_verify_depth 1` under OpenSSL 1.1+: at most one intermediate
      // between the leaf and the trusted (self-signed) root, so both modes accept the same chains.
      let intermediates = 0
      for (let c = cert.issuerCertificate; c !== undefined && c.fingerprint256 !== c.issuerCertificate?.fingerprint256; c = c.issuerCertificate) {
        if (++intermediates > MAX_INTERMEDIATES) return { address, allowed: false, reason: 'client certificate chain deeper than 1' }
      }
    }
    return { address, allowed: true }
  }
}
