/**
 * BRIDGE_NOTIFY_URL, the operator digest's receiver, as operators check it: `check` proves it reachable without
 * posting anything (a TCP and, for https, a TLS handshake with the system's CAs, as the digest's requests make);
 * `notify test` posts one signed test message, as the digest sends them, and reports the receiver's answer.
 */
import { connect as tcpConnect, isIP, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import type { DigestConfig } from '../digest/index.js'
import { testMessage } from '../digest/message.js'
import { postMessage, signerFor, type Delivered } from '../digest/send.js'

/** The receiver as it may be printed: scheme, host and port only (a chat webhook's path is its secret). */
export function shownNotifyUrl (url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '/' : '/…'}`
  } catch {
    return '(a URL that cannot be parsed)'
  }
}

/** TLS errors of a certificate that cannot be trusted. */
const UNTRUSTED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'ERR_TLS_CERT_ALTNAME_INVALID'])

export interface Reachability { ok: boolean, detail: string }

/**
 * Whether the receiver at `url` can be reached: a TCP connection, and for https a TLS handshake that verifies its
 * certificate and name (nothing is sent over it). Never rejects.
 */
export async function probeNotifyUrl (url: string, timeoutMs = 10_000): Promise<Reachability> {
  const u = new URL(url)
  const https = u.protocol === 'https:'
  const host = u.hostname.replace(/^\[|\]$/g, '')
  const port = Number(u.port === '' ? (https ? 443 : 80) : u.port)
  const where = `${u.hostname}:${port}`
  return await new Promise<Reachability>(resolve => {
    const socket: Socket | TLSSocket = https
      ? tlsConnect({ host, port, servername: isIP(host) === 0 ? host : undefined, timeout: timeoutMs })
      : tcpConnect({ host, port, timeout: timeoutMs })
    const done = (r: Reachability): void => { socket.destroy(); resolve(r) }
    socket.once(https ? 'secureConnect' : 'connect', () => {
      if (!https) return done({ ok: true, detail: `${where} accepts connections (http: loopback only)` })
      const tls = socket as TLSSocket
      const cert = tls.getPeerCertificate()
      done({ ok: true, detail: `${where}: ${tls.getProtocol() ?? 'TLS'} handshake, certificate valid until ${cert.valid_to}` })
    })
    socket.once('timeout', () => done({ ok: false, detail: `${where}: no ${https ? 'TLS handshake' : 'connection'} within ${timeoutMs} ms: check BRIDGE_NOTIFY_URL and the network (a proxy?)` }))
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message
      done({
        ok: false,
        detail: UNTRUSTED.has(code)
          ? `${where}: TLS: the receiver's certificate is not trusted here (${code}): the digest would never be delivered`
          : `${where}: cannot connect (${code}): check BRIDGE_NOTIFY_URL and the network`
      })
    })
  })
}

export interface TestNotice extends Delivered {
  /** The receiver, as it may be printed. */
  url: string
  signed: boolean
  /** The message's `webhook-id`. */
  id: string
}

/** `breach-bridge notify test`: one test message, signed as the digest signs (BRIDGE_NOTIFY_SECRET), and how the receiver answered. */
export async function sendTestNotice (notify: DigestConfig, timeoutMs = 10_000): Promise<TestNotice> {
  const at = new Date().toISOString()
  const id = `test:${Date.parse(at)}`
  const signer = signerFor(notify.secret)
  const r = await postMessage(notify.url, id, testMessage(at), { signer, timeoutMs })
  return { ...r, url: shownNotifyUrl(notify.url), signed: signer !== undefined, id }
}
