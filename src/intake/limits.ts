import type { IncomingHttpHeaders } from 'node:http'

/**
 * The in-flight bound of the webhook (docs/design.md §11: past its bounds the bridge answers 503 +
 * Retry-After rather than growing until it dies). A request holds a slot and its body's bytes from the moment
 * it is admitted (after authentication, before its body is read) until its answer is sent and its work is
 * done — including the wait for the store's commit. Requests past either bound are refused at once, before
 * their body is read.
 */
export interface InFlightLimits {
  /** Requests at once. */
  maxRequests: number
  /** Body bytes at once (reserved on admission: see `bodyReservation`). */
  maxBytes: number
}

export interface Admission {
  /** Admits a request reserving `bytes`, or returns undefined when that would pass a bound. */
  tryAcquire (bytes: number): (() => void) | undefined
  readonly requests: number
  readonly bytes: number
}

export function createAdmission (limits: InFlightLimits): Admission {
  let requests = 0
  let bytes = 0
  return {
    tryAcquire (reserve) {
      // One request is always admitted when nothing else is in flight, whatever it reserves: a byte bound
      // below the body limit must not refuse a body the limit allows, forever.
      if (requests > 0 && (requests + 1 > limits.maxRequests || bytes + reserve > limits.maxBytes)) return undefined
      requests++
      bytes += reserve
      let released = false
      return () => {
        if (released) return
        released = true
        requests--
        bytes -= reserve
      }
    },
    get requests () { return requests },
    get bytes () { return bytes }
  }
}

/**
 * The bytes a request may bring into memory, known before its body is read: its Content-Length, or the body
 * limit when it has none (chunked). A compressed body may also inflate to the body limit.
 */
export function bodyReservation (headers: IncomingHttpHeaders, maxBodyBytes: number): number {
  const declared = Number(headers['content-length'])
  const wire = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, maxBodyBytes) : maxBodyBytes
  const encoding = headers['content-encoding']?.trim().toLowerCase()
  const inflated = encoding === undefined || encoding === '' || encoding === 'identity' ? 0 : maxBodyBytes
  return wire + inflated
}
