/**
 * One variable of an env file set in place (`fusionauth webhooks register --write-env`): the file is opened safely by
 * `openEnvFile` (operations/enzoic.ts: no symbolic link, 0600 before any secret); here its content is replaced
 * atomically, so a failed write leaves it as it was.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, constants, fchownSync, fstatSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { BridgeError } from '../errors.js'

/** The value cannot be written as it is, or the file already gives the variable another way (`NAME_FILE`). */
export class EnvValueError extends BridgeError {
  readonly code = 'BRIDGE_ENV_FILE'
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0

/** An assignment of `name` (`NAME=…`, `export NAME=…`). */
const assignment = (name: string): RegExp => new RegExp(`^\\s*(?:export\\s+)?${name}\\s*=`)

/**
 * `NAME="value"`: double quotes keep a space (`Bearer …`) one value for dotenv, systemd's EnvironmentFile and a shell
 * that sources the file alike; a value those three would read differently is refused.
 */
function line (name: string, value: string): string {
  if (/["\\$`\n\r]/.test(value)) throw new EnvValueError(`${name}: the value holds a character an env file cannot carry safely (" \\ $ \` or a line break)`)
  return `${name}="${value}"`
}

/** All of `text`, or an error: a write may be short (a file-size limit, a full disk), and the next one then fails. */
export function writeAll (fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8')
  for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at)
}

/**
 * Replaces the content of the env file open as `fd` (at `file`) with `content`, atomically: a new file (0600, the
 * same owner where this user may set it) written and fsync'd beside it, then renamed over it — a write that fails
 * (a full disk, a file-size limit) leaves the old file as it was. Refused (`swapped`) when the path no longer names
 * the file that was opened.
 */
export function replaceContent (file: string, fd: number, content: string, swapped: () => Error): void {
  const opened = fstatSync(fd)
  const now = lstatSync(file)
  if (now.isSymbolicLink() || now.ino !== opened.ino || now.dev !== opened.dev) throw swapped()
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
  const out = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o600)
  try {
    try { fchownSync(out, opened.uid, opened.gid) } catch {} // as it was, where this user may (root)
    writeAll(out, content)
    fsyncSync(out)
    closeSync(out)
    renameSync(tmp, file)
  } catch (e) {
    try { closeSync(out) } catch {}
    try { unlinkSync(tmp) } catch {}
    throw e
  }
}

/** Refused: the file gives `NAME_FILE`, and the bridge would refuse both (checked before anything is changed, and again when writing). */
export function assertSettable (file: string, text: string, name: string): void {
  if (text.split('\n').some(l => assignment(`${name}_FILE`).test(l))) {
    throw new EnvValueError(`${file} sets ${name}_FILE: put the value in that file instead (or remove the ${name}_FILE line)`)
  }
}

/**
 * Sets `name` in the env file open as `fd`: its first assignment is replaced where it stands (later ones removed),
 * or the variable is appended after a `# comment` line. Refused when the file gives `NAME_FILE` (the bridge would
 * refuse both). `replaced`: an assignment was there.
 */
export function setEnvVariable (file: string, fd: number, name: string, value: string, comment: string): { replaced: boolean } {
  const text = readFileSync(fd, 'utf8')
  const lines = text.split('\n')
  assertSettable(file, text, name)
  const wanted = line(name, value)
  const at = lines.findIndex(l => assignment(name).test(l))
  let next: string
  if (at < 0) {
    next = `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${text === '' ? '' : '\n'}# ${comment}\n${wanted}\n`
  } else {
    const kept = lines.filter((l, i) => i <= at || !assignment(name).test(l))
    kept[at] = wanted
    next = kept.join('\n')
  }
  replaceContent(file, fd, next, () => new EnvValueError(`${file} was replaced while it was being written: nothing written`))
  return { replaced: at >= 0 }
}
