import { endpoint } from '../../fusionauth/index.js'
import type { ActionModule } from './types.js'

const REVOKE = endpoint('refresh-tokens.revoke', 'DELETE', '/api/jwt/refresh', 'empty', ['userId'])
const TOKENS = endpoint('refresh-tokens.list', 'GET', '/api/jwt/refresh', 'json', ['userId'])

export const revokeSessions: ActionModule = {
  name: 'revoke-sessions',
  description: 'revokes every refresh token of the user (signed-in apps must sign in again)',
  calls: { run: [REVOKE], confirm: [TOKENS] },
  async run ({ user, fusionauth }) {
    await fusionauth.call(REVOKE, { query: { userId: user.id }, tenantId: user.tenantId })
    return { state: 'done', httpStatus: 200 }
  },
  // No refresh token left: the earlier attempt's revocation went through (a sign-in since would have made one).
  async confirm ({ user, fusionauth }) {
    const r = await fusionauth.call<{ refreshTokens?: unknown[] }>(TOKENS, { query: { userId: user.id }, tenantId: user.tenantId })
    return (r.refreshTokens ?? []).length === 0 ? { state: 'done', httpStatus: 200 } : undefined
  },
  // No refresh token is the effect itself, whoever revoked them, and nothing is kept for undo.
  markAhead: true,
  cannotUndo: 'revoked refresh tokens cannot come back: the user signs in again'
}
