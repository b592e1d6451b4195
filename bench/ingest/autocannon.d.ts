// The few parts of autocannon's API the ingest benchmark uses (the package ships no types).
declare module 'autocannon' {
  interface Histogram {
    average: number,
    mean: number,
    stddev: number,
    min: number,
    max: number,
    total: number,
    p50: number,
    p90: number,
    p99: number,
    p99_9: number
  }
  export interface Result {
    requests: Histogram
    latency: Histogram
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '2xx': number
    statusCodeStats: Record<string, { count: number }>
  }
  export interface Request { method?: string, path?: string, headers?: Record<string, string>, body?: string | Buffer }
  export interface Options {
    url: string
    connections?: number
    duration?: number
    amount?: number
    method?: string
    headers?: Record<string, string>
    body?: string
    timeout?: number
    requests?: Array<{ setupRequest?: (request: Request) => Request }>
  }
  function autocannon (options: Options): Promise<Result>
  export default autocannon
}
