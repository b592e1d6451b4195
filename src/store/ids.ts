import { randomUUID } from 'node:crypto'

/** Time-ordered ids (UUIDv7 layout): sortable in listings, unguessable. randomUUID draws from a pool. */
export function newId (now: number): string {
  const r = randomUUID()
  const t = now.toString(16).padStart(12, '0')
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(15)}`
}
