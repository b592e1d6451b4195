// SQLite: the store of one opened file (open.ts), and the store that recovers when its file is removed or
// replaced under it (recovering.ts) — what the bridge uses.
export { openSqliteStore, type FileRecovery, type OpenedSqliteStore, type SqliteStoreOptions } from './open.js'
export { createSqliteStore } from './recovering.js'
