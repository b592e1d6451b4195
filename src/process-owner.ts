import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'

/** The owners this process uses now (its worker, digest, follower): never judged gone from here. */
const mine = new Set<string>()

/**
 * A lease owner's name: `host/pid/random` (the suffix says which part of the process, e.g. `digest`), registered as
 * one of this process's own until `release`d.
 */
export function processOwner (suffix: string = randomUUID().slice(0, 8)): string {
  const id = `${hostname()}/${process.pid}/${suffix}`
  mine.add(id)
  return id
}

/** The part of this process that used `id` has stopped. */
export function releaseOwner (id: string): void {
  mine.delete(id)
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
 * in a container, PID 1 again) other than `self` and this process's other live owners, or a pid that no longer runs. Owners on other hosts are never
 * judged from here: their leases expire by the database's clock.
 */
export function ownerIsGone (other: string, self: string): boolean {
  const [otherHost, pidText] = other.split('/')
  const pid = Number(pidText)
  if (other === self || mine.has(other) || otherHost !== hostname() || !Number.isInteger(pid)) return false
  return pid === process.pid || !isAlive(pid)
}
