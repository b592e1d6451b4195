import { chmodSync, closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { SchemaVersionError } from '../types.js'
import { MIGRATIONS } from './migrations/index.js'

export const SCHEMA_VERSION = MIGRATIONS.length

/** Linux's O_PATH (Node's fs.constants lacks it): a descriptor that names a file without opening it for I/O. */
const O_PATH = process.platform === 'linux' && ['x64', 'arm64', 'arm', 'ia32', 'riscv64'].includes(process.arch) ? 0o10000000 : undefined

/**
 * chmod that never follows a symbolic link, and opens no descriptor that could drop SQLite's locks (see below).
 * On Linux the path is opened O_PATH|O_NOFOLLOW: a symlink yields a descriptor of the link itself (left alone), a
 * file one of that very file, changed through /proc/self/fd — check and change act on one inode, so no swap in
 * between can redirect the chmod. Closing an O_PATH descriptor releases no POSIX lock. Elsewhere: lstat, then
 * chmod by path. False when nothing was changed (a symlink, not a regular file, missing).
 */
export function chmodPrivate (file: string, mode: number): boolean {
  if (O_PATH !== undefined) {
    let fd: number
    try {
      fd = openSync(file, O_PATH | constants.O_NOFOLLOW)
    } catch {
      return false
    }
    try {
      if (!fstatSync(fd).isFile()) return false
      chmodSync(`/proc/self/fd/${fd}`, mode)
      return true
    } catch {
      // No /proc: as on other systems, below.
    } finally {
      closeSync(fd)
    }
  }
  try {
    if (!lstatSync(file).isFile()) return false
    chmodSync(file, mode)
    return true
  } catch {
    return false
  }
}

/**
 * Creates the database file private (0600, in a 0700 folder when the folder is new) before SQLite opens it,
 * whatever the umask: it holds emails. SQLite gives its -wal and -shm files the main file's mode. A file that
 * already exists is tightened to 0600 (chmodPrivate: never through a symlink).
 *
 * Never opens a descriptor of an existing database file: POSIX locks belong to the process, and closing
 * *any* descriptor of a file drops every lock the process holds on it. Had this run beside a live connection
 * (the writer thread opens the file after the main thread), SQLite's locks would vanish, and the next
 * connection anywhere (an operator's read-only `sqlite3`) would believe itself the last one, checkpoint and
 * unlink the WAL that this process still writes to — losing every alert acknowledged after it.
 */
function createPrivately (file: string): void {
  const dir = dirname(file)
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    chmodSync(dir, 0o700)
  }
  try {
    // O_EXCL: created here, so no connection can hold a lock on it yet; an existing file is left unopened.
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  // Only a regular file: never a symlink's target, never a folder named as the database (BRIDGE_DATABASE=/tmp once
  // made /tmp mode 0600).
  for (const f of [file, `${file}-wal`, `${file}-shm`]) chmodPrivate(f, 0o600)
}

/**
 * Opens a connection with the bridge's durability settings: WAL, every commit fsync'd. `create: false` for a
 * second connection of a process that already opened the file (the writer thread): nothing touches the file
 * outside SQLite then.
 */
export function openDatabase (file: string, busyTimeoutMs: number, { create = true }: { create?: boolean } = {}): Database.Database {
  if (file !== ':memory:' && create) createPrivately(file)
  const db = new Database(file, { fileMustExist: !create && file !== ':memory:' })
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  // What a write frees (a purged email, a row's old version after an update) is overwritten with zeros, not left
  // in free space; a purge then truncates the WAL (checkpoint), so no copy of the bytes stays in the files.
  db.pragma('secure_delete = ON')
  db.pragma('foreign_keys = ON')
  db.pragma(`busy_timeout = ${busyTimeoutMs}`)
  return db
}

/** Applies the migrations this database has not run, each in its own immediate transaction. */
export function migrate (db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number
  if (version > SCHEMA_VERSION) throw new SchemaVersionError(version, SCHEMA_VERSION, 'upgrade the bridge')
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      // Another process may have migrated while we waited for the lock.
      if ((db.pragma('user_version', { simple: true }) as number) > v) return
      db.exec(MIGRATIONS[v]!)
      db.pragma(`user_version = ${v + 1}`)
    }).immediate()
  }
}

export function schemaVersion (db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number
}

/** The file's identity, to notice when the path no longer names the file we write (deleted, replaced). */
export function fileIdentity (file: string): string | undefined {
  try {
    const s = statSync(file)
    return `${s.dev}:${s.ino}`
  } catch {
    return undefined
  }
}
