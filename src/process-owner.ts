import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'

/** A lease owner's name: `host/pid/random` (the suffix says which part of the process, e.g. `digest`). */
export function processOwner (suffix: string = randomUUID().slice(0, 8)): string {
  return `${hostname()}/${process.pid}/${suffix}`
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Whether `other` names a bridge process on this host that is gone: one with this process's own pid (a restart
 * in a container, PID 1 again) other than `self`, or a pid that no longer runs. Owners on other hosts are never
 * judged from here: their leases expire by the database's clock.
 */
export function ownerIsGone (other: string, self: string): boolean {
  const [otherHost, pidText] = other.split('/')
  const pid = Number(pidText)
  if (other === self || otherHost !== hostname() || !Number.isInteger(pid)) return false
  return pid === process.pid || !isAlive(pid)
}
