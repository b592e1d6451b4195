import type { FusionAuthError, FusionAuthGateway } from '../../../fusionauth/index.js'

export interface ReadinessCheckOptions {
  gateway: Pick<FusionAuthGateway, 'probe'>
  /** FusionAuth's answer is reused this long (a readiness probe every few seconds must not load it). */
  cacheMs: number
  /** True while the worker is paused on a refused API key. */
  paused: () => boolean
  /** Epoch ms since which the store fails, undefined while it answers. */
  storeFailingSince: () => number | undefined
  /** The probe found FusionAuth answering. */
  onAnswer: () => void
}

export interface ReadinessCheck {
  /** Rejects while paused, while the store fails, or when FusionAuth does not answer with a valid key. */
  check (): Promise<void>
  /** Drops the cached answer: the next check asks FusionAuth. */
  forget (): void
}

export function createReadinessCheck (options: ReadinessCheckOptions): ReadinessCheck {
  const { gateway, cacheMs } = options
  let cached: { at: number, error?: Error } | undefined

  return {
    async check () {
      if (options.paused()) throw new Error('paused: FusionAuth refused the API key')
      const since = options.storeFailingSince()
      if (since !== undefined) throw new Error(`worker: store failing for ${Math.round((Date.now() - since) / 1000)} s`)
      const fresh = cached !== undefined && Date.now() - cached.at < cacheMs
      if (!fresh) {
        try {
          await gateway.probe()
          cached = { at: Date.now() }
          options.onAnswer()
        } catch (err) {
          const e = err as FusionAuthError
          cached = { at: Date.now(), error: new Error(e.kind === 'auth' ? 'FusionAuth refused the API key' : `FusionAuth unreachable: ${e.message}`) }
        }
      }
      if (cached?.error !== undefined) throw cached.error
    },
    forget () { cached = undefined }
  }
}
