import type { Server, Socket } from 'node:net'
import type { Logger } from 'pino'
import { normaliseIp, type SourceOptions } from './client-cert.js'

/** BRIDGE_MAX_CONNECTIONS and BRIDGE_MAX_CONNECTIONS_PER_ADDRESS. */
export interface ConnectionLimits {
  maxConnections: number
  perAddress: number
}

export type RefusalReason = 'max-connections' | 'per-address' | 'not-allowed'

/** At most one warning about refused connections per this many milliseconds (with the counts since the last). */
const REFUSED_LOG_MS = 10_000

/** Loopback peers are always kept: the operational endpoints answer them (app.ts), whatever ENZOIC_ALLOWED_IPS says. */
const LOOPBACK = ['127.0.0.1', '::1']

/**
 * Bounds the listener's connections at the TCP level, as each arrives and before a byte of it is read (in direct
 * mode, before the TLS handshake): so idle sockets — no byte sent, held until the headers time-out — cannot exhaust
 * the process's file descriptors and keep real alerts out.
 * - all peers together: `server.maxConnections` (Node closes the excess as it accepts it);
 * - one address: at most `perAddress` open at once. TRUSTED_PROXIES are exempt (behind nginx every connection is
 *   nginx's, and nginx opens one only for a request whose headers it has), and so are the ENZOIC_ALLOWED_IPS
 *   (Enzoic's own sender, in direct mode);
 * - when every webhook route on the listener has an allow-list (ENZOIC_ALLOWED_IPS, and FUSIONAUTH_WEBHOOK_ALLOWED_IPS
 *   when that route is on), a peer on none of them, not a trusted proxy, not loopback, is dropped at once: the
 *   request-level check (client-cert.ts) would only refuse it after TLS and the headers.
 * `sources`: the source options of every webhook route this listener serves. Refusals are counted by reason and
 * summarised by one warning per REFUSED_LOG_MS.
 */
export function guardConnections (
  server: Server, sources: readonly SourceOptions[], limits: ConnectionLimits, log: Logger, onRefused: (reason: RefusalReason) => void
): void {
  server.maxConnections = limits.maxConnections
  const trusted = sources.flatMap(s => s.trustedProxies)
  const allowed = sources.flatMap(s => s.allowedIps ?? [])
  const uncapped = new Set([...trusted, ...allowed].map(normaliseIp))
  const kept = sources.some(s => s.allowedIps === undefined) ? undefined : new Set([...allowed, ...trusted, ...LOOPBACK].map(normaliseIp))
  const open = new Map<string, number>()
  const refused = refusalLog(log, onRefused)

  // First of the 'connection' listeners: a dropped socket never reaches the HTTP parser or the TLS layer.
  server.prependListener('connection', (socket: Socket) => {
    const address = normaliseIp(socket.remoteAddress)
    if (kept !== undefined && !kept.has(address)) {
      socket.destroy()
      refused('not-allowed', address)
      return
    }
    if (uncapped.has(address)) return
    const n = open.get(address) ?? 0
    if (n >= limits.perAddress) {
      socket.destroy()
      refused('per-address', address)
      return
    }
    open.set(address, n + 1)
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1
      if (left > 0) open.set(address, left)
      else open.delete(address)
    })
  })
  server.on('drop', (data?: { remoteAddress?: string }) => refused('max-connections', normaliseIp(data?.remoteAddress)))
}

function refusalLog (log: Logger, onRefused: (reason: RefusalReason) => void): (reason: RefusalReason, address: string) => void {
  let loggedAt = 0
  let since: Partial<Record<RefusalReason, number>> = {}
  return (reason, address) => {
    onRefused(reason)
    since[reason] = (since[reason] ?? 0) + 1
    const now = Date.now()
    if (now - loggedAt < REFUSED_LOG_MS) return
    log.warn({ refused: since, lastAddress: address }, 'connections refused as they arrived (BRIDGE_MAX_CONNECTIONS, BRIDGE_MAX_CONNECTIONS_PER_ADDRESS, ENZOIC_ALLOWED_IPS)')
    loggedAt = now
    since = {}
  }
}
