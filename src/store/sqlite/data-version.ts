import type Database from 'better-sqlite3'

/**
 * Notices commits made by other processes (a CLI replay, a second bridge on this file): SQLite's
 * `data_version` moves. Polls every `pollMs` while `watching()`; returns the function that stops it.
 */
export function watchDataVersion (db: Database.Database, pollMs: number, watching: () => boolean, onChange: () => void): () => void {
  let dataVersion = db.pragma('data_version', { simple: true }) as number
  const poll = setInterval(() => {
    if (!watching()) return
    try {
      const v = db.pragma('data_version', { simple: true }) as number
      if (v !== dataVersion) { dataVersion = v; onChange() }
    } catch {}
  }, pollMs)
  poll.unref()
  return () => clearInterval(poll)
}
