/**
 * The CLI as a long-running child a test can signal (Ctrl-C tests only: everything else runs in-process,
 * fixtures/in-process.ts). Children get only the environment a test passes (plus PATH) and run in a new
 * empty folder (see fixtures/processes.ts for why).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { childCwd, CLI_ENTRY, TSX_IMPORT } from '../fixtures/processes.js'

/** The characters no terminal output of the CLI may contain raw (the rule: src/alerts/text.ts), LF aside. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
export const RAW_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\p{Cf}\u2028\u2029\p{Cs}]/u

export interface CliChild {
  child: ChildProcess
  stdout (): string
  stderr (): string
  /** Resolves once stderr matches (or rejects after timeoutMs). */
  waitForStderr (pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

export function spawnCli (args: string[], env: NodeJS.ProcessEnv): CliChild {
  const dir = childCwd()
  const child = spawn(process.execPath, [...TSX_IMPORT, CLI_ENTRY, ...args], {
    cwd: dir.cwd,
    env: { PATH: process.env.PATH, CI: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  const listeners = new Set<() => void>()
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); for (const l of listeners) l() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    child.on('close', (code, signal) => { dir.release(); resolve({ code, signal }) })
  })
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async waitForStderr (pattern, timeoutMs = 30_000) {
      return await new Promise((resolve, reject) => {
        let done = false
        const finish = (): void => { done = true; clearTimeout(timer); listeners.delete(check) }
        const check = (): void => {
          const m = done ? null : stderr.match(pattern)
          if (m !== null) { finish(); resolve(m) }
        }
        const timer = setTimeout(() => { finish(); reject(new Error(`stderr never matched ${String(pattern)}:\n${stderr}`)) }, timeoutMs)
        listeners.add(check)
        exited.then(() => {
          check()
          if (!done) { finish(); reject(new Error(`the CLI exited before stderr matched ${String(pattern)}:\n${stderr}`)) }
        }, () => undefined)
        check()
      })
    }
  }
}
