import m0001 from './0001-initial.js'
import m0002 from './0002-queue-due-at.js'
import m0003 from './0003-steps-outbox.js'
import m0004 from './0004-step-started.js'
import m0005 from './0005-alert-source.js'

/**
 * SQLite schema migrations, one file each; position + 1 = PRAGMA user_version after it ran. Append only:
 * a released migration is never edited (databases in the field have run it).
 */
export const MIGRATIONS: readonly string[] = [m0001, m0002, m0003, m0004, m0005]
