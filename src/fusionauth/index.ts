/** FusionAuth, as the bridge calls it: endpoints, the transport that believes only FusionAuth, the gateway. */
export { CORE, describeEndpoint, EVENT_SETUP, endpoint, permissionOf, type Endpoint, type Method } from './endpoints.js'
export { certainlyNotDone, errorCodes, FusionAuthError, type FusionAuthErrorKind } from './errors.js'
export { createTransport, interpret, type CallOptions, type InspectAnswer, type InspectRequest, type Transport, type TransportOptions } from './transport.js'
export {
  createFusionAuthGateway, toUser,
  type FusionAuthGateway, type FusionAuthProbes, type FusionAuthUser, type GatewayOptions, type Tenant, type UserSearchPage
} from './gateway.js'
