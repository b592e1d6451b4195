import m0001 from './0001-initial.js'
import m0002 from './0002-steps-outbox.js'
import m0003 from './0003-queued-received.js'
import m0004 from './0004-step-started.js'
import m0005 from './0005-alert-source.js'

/**
 * PostgreSQL schema migrations, one file each, applied in order; version = position + 1. Append only: a
 * released migration is never edited (databases in the field have run it).
 */
export const MIGRATIONS: ReadonlyArray<{ version: number, name: string, sql: string }> = [
  { version: 1, name: 'initial', sql: m0001 },
  { version: 2, name: 'steps-outbox', sql: m0002 },
  { version: 3, name: 'queued-received', sql: m0003 },
  { version: 4, name: 'step-started', sql: m0004 },
  { version: 5, name: 'alert-source', sql: m0005 }
]
