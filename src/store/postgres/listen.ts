import pg from 'pg'

export const CHANNEL = 'bridge_alerts'

export interface ListenOptions {
  config: pg.ClientConfig
  /** Called on every notification, after every (re)connection, and on each backstop poll. */
  onWake: () => void
  /** Backstop poll, in case a notification is lost (ms). */
  pollMs: number
  onError?: (err: Error) => void
}

/**
 * A dedicated LISTEN connection that reconnects on its own. After each (re)connection it wakes the
 * listener, since notifications sent while it was away are lost; a slow poll backs it all up.
 */
export function startListening (options: ListenOptions): { close (): Promise<void> } {
  let client: pg.Client | undefined
  let stopped = false
  let delay = 250
  let timer: NodeJS.Timeout | undefined

  const poll = setInterval(options.onWake, options.pollMs)
  poll.unref()

  function reconnectLater (): void {
    if (stopped || timer !== undefined) return
    timer = setTimeout(() => { timer = undefined; connect() }, delay)
    timer.unref()
    delay = Math.min(delay * 2, 5000)
  }

  function connect (): void {
    if (stopped) return
    const c = new pg.Client(options.config)
    client = c
    let lost = false
    const onLost = (err?: Error): void => {
      if (lost) return
      lost = true
      if (err !== undefined && !stopped) options.onError?.(err)
      c.removeAllListeners('notification')
      c.end().catch(() => undefined)
      if (client === c) client = undefined
      reconnectLater()
    }
    c.on('error', onLost)
    c.on('end', () => onLost())
    c.on('notification', () => options.onWake())
    c.connect()
      .then(() => c.query(`LISTEN ${CHANNEL}`))
      .then(() => {
        if (stopped) { c.end().catch(() => undefined); return }
        delay = 250
        options.onWake()
      })
      .catch(onLost)
  }

  connect()
  return {
    async close () {
      stopped = true
      clearInterval(poll)
      if (timer !== undefined) clearTimeout(timer)
      const c = client
      client = undefined
      if (c !== undefined) await c.end().catch(() => undefined)
    }
  }
}
