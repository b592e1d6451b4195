import { dirname } from 'node:path'
import { createListeners } from '../shared/listeners.js'
import type { Store } from '../types.js'
import { chmodPrivate, fileIdentity, makeFolders } from './connection.js'
import { openSqliteStore, type OpenedSqliteStore, type SqliteStoreOptions } from './open.js'

type Role = 'alerts' | 'queue' | 'steps' | 'kv' | 'exposures' | 'outbox'

/** A role object whose every method runs on the store that is current when it is called. */
function delegate<R extends Role> (role: R, current: () => OpenedSqliteStore): Store[R] {
  return new Proxy({}, {
    get: (_target, name) => (...args: unknown[]) => (current()[role] as unknown as Record<string | symbol, (...a: unknown[]) => unknown>)[name]!(...args)
  }) as Store[R]
}

/**
 * SQLite that recovers by itself when its file is removed or replaced under it (an operator's `rm`, a restore
 * from a backup): until it notices, every write refuses (503, readiness fails) rather than acknowledge into a
 * file no one else can see; within a poll it
 * - re-creates a removed file from what this process's own connection still reads of it (`VACUUM INTO`: nothing
 *   acknowledged is lost), and goes on with it;
 * - takes up a replacing file, after saving what the replaced one held beside it (`<file>.replaced-<time>`),
 * and says so through `onRecovered` (the server logs it at error level).
 */
export function createSqliteStore (options: SqliteStoreOptions): Store {
  let current = openSqliteStore(options)
  const file = options.file
  const listeners = createListeners()
  let unsubscribe = current.changes.subscribe(listeners.emit)
  let closed = false
  let recovering: Promise<void> | undefined

  async function recover (): Promise<void> {
    const now = fileIdentity(file)
    if (now === current.identity) return
    const old = current
    let savedTo: string | undefined
    if (now === undefined) {
      makeFolders(file, dirname(file))
      old.salvage(file)
      chmodPrivate(file, 0o600)
    } else {
      savedTo = `${file}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`
      old.salvage(savedTo)
      chmodPrivate(savedTo, 0o600)
    }
    current = openSqliteStore(options)
    unsubscribe()
    unsubscribe = current.changes.subscribe(listeners.emit)
    await old.close().catch(() => undefined)
    options.onRecovered?.({ what: now === undefined ? 'recreated' : 'replaced', file, savedTo })
    listeners.emit()
  }

  const watch = file === ':memory:'
    ? undefined
    : setInterval(() => {
      if (closed || recovering !== undefined || fileIdentity(file) === current.identity) return
      // A failed recovery (the folder is gone, the disk is full) keeps refusing; the next poll tries again.
      recovering = recover().catch(() => undefined).finally(() => { recovering = undefined })
    }, options.pollMs ?? 1000)
  watch?.unref()

  return {
    kind: 'sqlite',
    location: file,
    alerts: delegate('alerts', () => current),
    queue: delegate('queue', () => current),
    steps: delegate('steps', () => current),
    kv: delegate('kv', () => current),
    exposures: delegate('exposures', () => current),
    outbox: delegate('outbox', () => current),
    changes: { subscribe: listeners.add },
    ping: async () => await current.ping(),
    async close () {
      if (closed) return
      closed = true
      if (watch !== undefined) clearInterval(watch)
      await recovering
      unsubscribe()
      listeners.clear()
      await current.close()
    }
  }
}
