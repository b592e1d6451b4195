import { accessSync, chmodSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { DatabaseConfigError, SchemaVersionError } from '../types.js'
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

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code
const where = (file: string): string => `the database ${file} (BRIDGE_DATABASE)`

/** What each errno means for a database path, and what to do. */
const WHY: Record<string, string> = {
  EACCES: 'permission denied: run as the user the bridge runs as (e.g. the deployment guide\'s bb helper), or give that user the folder',
  EPERM: 'not permitted here: choose a folder on a normal, writable file system',
  EROFS: 'the file system is read-only: choose a writable folder (the systemd unit allows /var/lib/enzoic-bridge)',
  ENOENT: 'a folder of the path cannot be created there: check the path',
  ENOTDIR: 'a part of the path is a file, not a folder: check the path',
  EISDIR: 'it is a folder: set BRIDGE_DATABASE to a file inside it, e.g. …/bridge.db',
  ENOSPC: 'the disk is full',
  ELOOP: 'a symbolic link loop in the path'
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
  makeFolders(file, dirname(file))
  try {
    // O_EXCL: created here, so no connection can hold a lock on it yet; an existing file is left unopened.
    closeSync(openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600))
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw new DatabaseConfigError(`${where(file)}: cannot create the file (${errno(err)}): ${WHY[errno(err) ?? ''] ?? 'check the path'}`)
  }
  // Only a regular file: never a symlink's target, never a folder named as the database (BRIDGE_DATABASE=/tmp once
  // made /tmp mode 0600).
  for (const f of [file, `${file}-wal`, `${file}-shm`]) chmodPrivate(f, 0o600)
}

/**
 * Creates the missing folders of `dir` one at a time (0700), never with `recursive` (which loops for ever where
 * the kernel answers ENOENT to every mkdir, e.g. under /proc), and says which folder failed and why.
 */
export function makeFolders (file: string, dir: string): void {
  const missing: string[] = []
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      if (!statSync(d).isDirectory()) throw new DatabaseConfigError(`${where(file)}: ${d} is not a folder: check the path`)
      break
    } catch (err) {
      if (err instanceof DatabaseConfigError) throw err
      if (errno(err) !== 'ENOENT' || dirname(d) === d) throw new DatabaseConfigError(`${where(file)}: cannot reach the folder ${d} (${errno(err)}): ${WHY[errno(err) ?? ''] ?? 'check the path'}`)
      missing.unshift(d)
    }
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode: 0o700 })
      chmodSync(d, 0o700)
    } catch (err) {
      if (errno(err) === 'EEXIST') continue
      throw new DatabaseConfigError(`${where(file)}: cannot create the folder ${d} (${errno(err)}): ${WHY[errno(err) ?? ''] ?? 'check the path'}`)
    }
  }
}

/**
 * Why an existing path cannot be the database, or undefined: a folder, or a file this user may not read and write.
 * Asked before SQLite opens it and when SQLite cannot, so the message names the real cause, never only SQLite's
 * "unable to open database file".
 */
export function pathProblem (file: string): DatabaseConfigError | undefined {
  try {
    if (statSync(file).isDirectory()) return new DatabaseConfigError(`${where(file)} is a folder, not a file: set BRIDGE_DATABASE to a file inside it, e.g. ${file.replace(/\/+$/, '')}/bridge.db`)
    accessSync(file, constants.R_OK | constants.W_OK)
    return undefined
  } catch (err) {
    const code = errno(err)
    if (code === 'ENOENT') return undefined
    return new DatabaseConfigError(`${where(file)}: cannot open it (${code}): ${WHY[code ?? ''] ?? 'check the path'}`)
  }
}

/** SQLite's own refusals, in the words of the real cause. */
function sqliteProblem (file: string, err: unknown): unknown {
  const code = errno(err) ?? ''
  if (code === 'SQLITE_NOTADB') return new DatabaseConfigError(`${where(file)} is not a SQLite database: point BRIDGE_DATABASE at the bridge's database file`, { cause: err })
  if (code.startsWith('SQLITE_READONLY')) return new DatabaseConfigError(`${where(file)} is read-only for this user: run as the user the bridge runs as, or fix the file's owner`, { cause: err })
  if (code === 'SQLITE_CANTOPEN') return pathProblem(file) ?? pathProblem(dirname(file)) ?? err
  return err
}

/**
 * Opens a connection with the bridge's durability settings: WAL, every commit fsync'd. `create: false` for a
 * second connection of a process that already opened the file (the writer thread): nothing touches the file
 * outside SQLite then.
 */
export function openDatabase (file: string, busyTimeoutMs: number, { create = true }: { create?: boolean } = {}): Database.Database {
  if (file !== ':memory:' && create) {
    const problem = pathProblem(file)
    if (problem !== undefined) throw problem
    createPrivately(file)
  }
  let db: Database.Database | undefined
  try {
    db = new Database(file, { fileMustExist: !create && file !== ':memory:' })
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    // What a write frees (a purged email, a row's old version after an update) is overwritten with zeros, not left
    // in free space; a purge then truncates the WAL (checkpoint), so no copy of the bytes stays in the files.
    db.pragma('secure_delete = ON')
    db.pragma('foreign_keys = ON')
    db.pragma(`busy_timeout = ${busyTimeoutMs}`)
    return db
  } catch (err) {
    db?.close()
    throw sqliteProblem(file, err)
  }
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
