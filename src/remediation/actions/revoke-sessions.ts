import type { ActionModule } from './types.js'

export const revokeSessions: ActionModule = {
  name: 'revoke-sessions',
  description: 'revokes every refresh token of the user (signed-in apps must sign in again)',
  async run ({ user, gateway }) {
    await gateway.revokeSessions(user)
    return { state: 'done', httpStatus: 200 }
  },
  cannotUndo: 'revoked refresh tokens cannot come back: the user signs in again',
  probes: [{ probe: 'revoke-sessions', endpoint: 'DELETE /api/jwt/refresh' }]
}
