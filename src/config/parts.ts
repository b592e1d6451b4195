/**
 * Each part of the bridge receives only its own options, built here from the configuration at the edge
 * (server.ts, the CLI's context): no part below reads the whole Config (docs/design.md §3).
 */
import type { EnzoicApiSettings } from '../enzoic/exposures.js'
import type { GatewayOptions } from '../fusionauth/index.js'
import type { IntakeSettings } from '../intake/route.js'
import type { ConnectionLimits } from '../intake/connections.js'
import type { FusionAuthEventSettings } from '../intake/fusionauth.js'
import type { RemediationSettings } from '../remediation/remediate.js'
import type { Config } from './load.js'

export function intakeSettings (c: Config): IntakeSettings {
  return {
    credentials: c.webhookCredentials,
    source: { clientCert: c.clientCert, clientCertCN: c.clientCertCN, trustedProxies: c.trustedProxies, allowedIps: c.allowedIps },
    maxBodyBytes: c.maxBodyBytes,
    maxInFlight: c.maxInFlight,
    maxInFlightBytes: c.maxInFlightBytes,
    payload: { encryption: c.payloadEncryption, key: c.payloadKey, cipher: c.payloadCipher }
  }
}

/** The listener's connection bounds (app.ts, intake/connections.ts). */
export function connectionLimits (c: Config): ConnectionLimits {
  return { maxConnections: c.maxConnections, perAddress: c.maxConnectionsPerAddress }
}

/** FusionAuth's own webhook; undefined (the route does not exist) without FUSIONAUTH_WEBHOOK_SECRET. */
export function fusionAuthEventSettings (c: Config): FusionAuthEventSettings | undefined {
  if (c.faWebhookSecrets.length === 0) return undefined
  return {
    secrets: c.faWebhookSecrets,
    signature: {
      mode: c.faWebhookSignature,
      jwksUrl: c.fusionAuthUrl === undefined ? undefined : new URL('.well-known/jwks.json', c.fusionAuthUrl.endsWith('/') ? c.fusionAuthUrl : `${c.fusionAuthUrl}/`).href,
      hmacKey: c.faWebhookHmacKey,
      timeoutMs: c.fusionAuthTimeoutMs
    },
    breachLogin: c.faBreachLogin,
    source: { clientCert: 'off', clientCertCN: c.clientCertCN, trustedProxies: c.trustedProxies, allowedIps: c.faWebhookAllowedIps },
    enrolment: c.enzoicApiKey !== undefined && c.enzoicApiSecret !== undefined,
    limits: { maxBodyBytes: c.maxBodyBytes, maxInFlight: c.maxInFlight, maxInFlightBytes: c.maxInFlightBytes }
  }
}

/** FusionAuth's gateway; undefined when FUSIONAUTH_URL or FUSIONAUTH_API_KEY is missing. */
export function gatewayOptions (c: Config, extra: Partial<GatewayOptions> = {}): GatewayOptions | undefined {
  if (c.fusionAuthUrl === undefined || c.fusionAuthApiKey === undefined) return undefined
  return { url: c.fusionAuthUrl, apiKey: c.fusionAuthApiKey, timeoutMs: c.fusionAuthTimeoutMs, tenantIds: c.tenantIds, ...extra }
}

/** Enzoic's API; undefined when its key or secret is missing. */
export function enzoicApiSettings (c: Config): EnzoicApiSettings | undefined {
  if (c.enzoicApiKey === undefined || c.enzoicApiSecret === undefined) return undefined
  return { baseUrl: c.enzoicApiUrl, apiKey: c.enzoicApiKey, apiSecret: c.enzoicApiSecret }
}

export function remediationSettings (c: Config): RemediationSettings {
  return { policies: c.policies, tenantIds: c.tenantIds, actorUserId: c.actorUserId }
}
