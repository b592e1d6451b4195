// Process plumbing shared by bench/drain.ts and bench/sync.ts: TypeScript children over IPC, RSS sampling
// from /proc (so the sampler never runs on the measured event loop), and the result table.
import { fork, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import type { Build } from './drain-build.js'

export interface Message { type: string, id?: number, [k: string]: unknown }

/**
 * Starts a bench file (`bench/drain-fake.ts`, …) as a child with an IPC channel, its job as argv[2] (JSON):
 * with `build`, its compiled JavaScript under plain node (as in production); otherwise the TypeScript through tsx.
 * Diagnostics: BENCH_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=tmp/prof`, `--trace-gc`) is passed to the
 * children whose path contains BENCH_NODE_ARGS_MATCH (default: every child).
 */
export function forkBench (projectPath: string, job: unknown, build?: Build, nodeArgs: string[] = []): ChildProcess {
  const extra = [...nodeArgs, ...(projectPath.includes(process.env.BENCH_NODE_ARGS_MATCH ?? '') ? (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(a => a !== '') : [])]
  const file = build !== undefined ? build.file(projectPath) : fileURLToPath(new URL(`../${projectPath}`, import.meta.url))
  return fork(file, [JSON.stringify(job)], {
    execArgv: [...(build !== undefined ? [] : ['--import', 'tsx']), ...extra],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' }
  })
}

/** The next message of `type` from the child; rejects when it exits first. */
export function nextMessage<T extends Message> (child: ChildProcess, type: string, onOther?: (m: Message) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Message): void => {
      if (m.type === type) { cleanup(); resolve(m as T) } else onOther?.(m)
    }
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup()
      reject(new Error(`child ${child.pid ?? '?'} exited (${code ?? signal ?? '?'}) before sending "${type}"`))
    }
    const cleanup = (): void => { child.off('message', onMessage); child.off('exit', onExit) }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

let nextId = 0
/** Request/response over IPC: the child answers `{ type: 'reply', id, ... }` (see serveRequests). */
export async function ask<T extends Message> (child: ChildProcess, type: string, payload: Record<string, unknown> = {}): Promise<T> {
  const id = ++nextId
  const reply = new Promise<T>((resolve, reject) => {
    const onMessage = (m: Message): void => {
      if (m.type === 'reply' && m.id === id) { cleanup(); resolve(m as T) }
    }
    const onExit = (): void => { cleanup(); reject(new Error(`child exited before answering "${type}"`)) }
    const cleanup = (): void => { child.off('message', onMessage); child.off('exit', onExit) }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
  child.send({ type, id, ...payload })
  return await reply
}

/**
 * Child side of `ask`. A handler answering `{ exit: true }` ends the process once the answer is sent.
 * Also exits when the parent goes away (no orphaned servers).
 */
export function serveRequests (handlers: Record<string, (m: Message) => unknown>): void {
  process.on('disconnect', () => process.exit(1))
  process.on('message', (m: Message) => {
    const handler = handlers[m.type]
    if (handler === undefined) return
    Promise.resolve()
      .then(() => handler(m))
      .then(r => {
        const answer = { ...(r as object ?? {}), type: 'reply', id: m.id }
        process.send?.(answer, undefined, {}, () => { if ((r as { exit?: boolean } | undefined)?.exit === true) process.exit(0) })
      })
      .catch(err => {
        console.error(err)
        process.exit(1)
      })
  })
}

/** The job a child was given (argv[2], JSON). */
export function jobOf<T> (): T {
  return JSON.parse(process.argv[2] ?? '{}') as T
}

export function send<T extends { type: string }> (m: T): void {
  process.send?.(m)
}

/** Waits for a child to exit (kills it after `ms`). */
export async function exited (child: ChildProcess, ms = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>(resolve => {
    const t = setTimeout(() => { child.kill('SIGKILL') }, ms)
    child.once('exit', () => { clearTimeout(t); resolve() })
  })
}

/** VmRSS / VmHWM of a process in bytes (Linux /proc). */
export function procMemory (pid: number): { rss: number, hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
  } catch {
    return undefined
  }
}

/** CPU time (user + system) a process has used so far, in seconds (Linux /proc, 100 clock ticks a second). */
export function procCpuSeconds (pid: number): number | undefined {
  try {
    // After "pid (name) " the fields start at proc(5)'s third (state): utime and stime are its 14th and 15th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

/** proc(5)'s fields of /proc/<pid>/stat (or `<pid>/task/<tid>`) from the third (state) on, or undefined when it is gone. */
function statFields (pid: number | string): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
  } catch {
    return undefined
  }
}

/** A process's CPU time so far (seconds, /proc): user and system over all its threads, and its main thread's alone. */
export function procCpuSplit (pid: number): { user: number, system: number, mainThread: number } {
  const all = statFields(`${pid}`)
  const main = statFields(`${pid}/task/${pid}`)
  return {
    user: Number(all?.[11] ?? NaN) / 100,
    system: Number(all?.[12] ?? NaN) / 100,
    mainThread: (Number(main?.[11] ?? NaN) + Number(main?.[12] ?? NaN)) / 100
  }
}

/**
 * The CPU time (seconds) of a server's process tree, e.g. a PostgreSQL cluster's postmaster and its children:
 * `total` counts the root, every live child, and the children that exited already (the kernel adds their time
 * to the parent's cutime/cstime when it reaps them); `matching` only the live children whose command line
 * contains `match` (PostgreSQL's client backends name their database there).
 */
export function processTreeCpu (rootPid: number, match?: string): { total: number, matching: number } {
  const ticks = (f: string[], from: number, to: number): number => f.slice(from, to).reduce((s, v) => s + Number(v), 0)
  const root = statFields(rootPid)
  let total = root === undefined ? 0 : ticks(root, 11, 15)
  let matching = 0
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const f = statFields(Number(name))
    if (f === undefined || Number(f[1]) !== rootPid) continue
    const t = ticks(f, 11, 15)
    total += t
    if (match === undefined) continue
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(match)) matching += t
    } catch {}
  }
  return { total: total / 100, matching: matching / 100 }
}

/** The whole machine's CPU time so far, busy and in all, in clock ticks (Linux /proc/stat). */
export function machineCpu (): { busy: number, total: number } {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = ticks.reduce((a, b) => a + b, 0)
  return { busy: total - ticks[3]! - ticks[4]!, total }
}

export interface RssSampler {
  stop (): { peak: number, last: number, samples: number, hwm: number, series: number[] }
}

/** Samples a process's RSS every `everyMs` from this process. */
export function sampleRss (pid: number, everyMs = 250): RssSampler {
  let peak = 0
  let last = 0
  let samples = 0
  let hwm = 0
  const series: number[] = []
  const take = (): void => {
    const m = procMemory(pid)
    if (m === undefined || Number.isNaN(m.rss)) return
    last = m.rss
    hwm = Math.max(hwm, m.hwm)
    peak = Math.max(peak, m.rss)
    samples++
    series.push(m.rss)
  }
  take()
  const timer = setInterval(take, everyMs)
  return {
    stop () {
      clearInterval(timer)
      take()
      return { peak, last, samples, hwm, series }
    }
  }
}

/** Event-loop delay and utilisation of the current process, between start() and stop(). */
export function loopMonitor (): { stop (): { eldP50Ms: number, eldP99Ms: number, eldMaxMs: number, utilisation: number } } {
  const h = monitorEventLoopDelay({ resolution: 10 })
  h.enable()
  const elu = performance.eventLoopUtilization()
  return {
    stop () {
      h.disable()
      const u = performance.eventLoopUtilization(elu)
      return {
        eldP50Ms: round(h.percentile(50) / 1e6, 2),
        eldP99Ms: round(h.percentile(99) / 1e6, 2),
        eldMaxMs: round(h.max / 1e6, 2),
        utilisation: round(u.utilization, 3)
      }
    }
  }
}

export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits
export const mb = (bytes: number): number => round(bytes / 1024 / 1024, 1)

/** A plain-text table: first row is the header. */
export function table (rows: Array<Array<string | number>>): string {
  const cells = rows.map(r => r.map(String))
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map(r => (r[i] ?? '').length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(cells[0]!), widths.map(w => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n')
}

/**
 * Kills the children and exits 1 when the benchmark overruns (it must stop by itself), after `cleanup`
 * (e.g. stopping a PostgreSQL cluster), which gets 30 s.
 */
export function watchdog (ms: number, children: () => ChildProcess[], cleanup?: () => Promise<void>): NodeJS.Timeout {
  const t = setTimeout(() => {
    console.error(`benchmark did not finish within ${Math.round(ms / 1000)} s: stopping`)
    for (const c of children()) c.kill('SIGKILL')
    setTimeout(() => process.exit(1), 30_000).unref()
    Promise.resolve(cleanup?.()).catch(err => console.error(err)).finally(() => process.exit(1))
  }, ms)
  t.unref()
  return t
}

/**
 * Counts the statements node-postgres sends while `on` — every pg.Client of this process, pools and LISTEN
 * alike — by wrapping pg.Client's query (in the benches only). node-postgres sends one statement and waits for
 * its answer: a statement is a round trip. By statement: its name when it is prepared, else its text's start.
 */
export function countPgStatements (driver: typeof pg): { on (): void, snapshot (): StatementCount } {
  const byStatement: Record<string, number> = {}
  let total = 0
  let counting = false
  const query = driver.Client.prototype.query as (...args: unknown[]) => unknown
  driver.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (counting) {
      const q = args[0] as string | { name?: string, text?: string }
      const label = typeof q === 'string' ? q : q.name ?? q.text ?? '?'
      const key = label.replace(/\s+/g, ' ').trim().slice(0, 70)
      byStatement[key] = (byStatement[key] ?? 0) + 1
      total++
    }
    return query.apply(this, args)
  } as typeof driver.Client.prototype.query
  return {
    on () { counting = true },
    snapshot: () => ({ total, byStatement: { ...byStatement } })
  }
}

/** Statements sent so far, in all and by statement. */
export interface StatementCount { total: number, byStatement: Record<string, number> }
