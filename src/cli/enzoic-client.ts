import type { Config } from '../config/index.js'
import type { EnzoicApi } from '../enzoic/client.js'
import { createEnzoicApi, type RetryNotice } from '../operations/enzoic.js'
import type { CliContext } from './context.js'
import { classify } from './exit.js'
import { outputTo } from './output.js'

/** Each retry of an Enzoic call, as a line on stderr. */
export function retryNotice (ctx: CliContext): RetryNotice {
  const { err } = outputTo(ctx)
  return ({ call, attempt, status, waitMs }) => err(`Enzoic ${call} failed (${status ?? 'no answer'}), attempt ${attempt}; retrying in ${Math.round(waitMs / 100) / 10} s`)
}

/** Runs fn with an Enzoic client (ENZOIC_API_* required); Enzoic errors become one clear line and their exit code. */
export async function withEnzoic<T> (ctx: CliContext, fn: (api: EnzoicApi, config: Config) => Promise<T>): Promise<T> {
  const config = ctx.config(['enzoic'])
  const api = createEnzoicApi(config, retryNotice(ctx))
  try {
    return await fn(api, config)
  } catch (e) {
    throw classify(e) ?? e
  } finally {
    await api.close()
  }
}
