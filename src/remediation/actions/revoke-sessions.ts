import { endpoint } from '../../fusionauth/index.js'
import type { ActionModule } from './types.js'

const REVOKE = endpoint('refresh-tokens.revoke', 'DELETE', '/api/jwt/refresh', 'empty', ['userId'])

export const revokeSessions: ActionModule = {
  name: 'revoke-sessions',
  description: 'revokes every refresh token of the user (signed-in apps must sign in again)',
  calls: { run: [REVOKE] },
  async run ({ user, fusionauth }) {
    await fusionauth.call(REVOKE, { query: { userId: user.id }, tenantId: user.tenantId })
    return { state: 'done', httpStatus: 200 }
  },
  cannotUndo: 'revoked refresh tokens cannot come back: the user signs in again'
}
