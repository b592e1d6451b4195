/**
 * How a command ends: a command that fails throws (a CliError becomes one line on stderr and its exit
 * code, in cli.ts's `run`); a command whose result is itself the "no" — `check` with a FAIL, an
 * interrupted `monitor sync`, a purge the operator declined — prints it and returns its exit code. The
 * code is the result of the run: nothing here or in any command sets process.exitCode.
 */
import type { Command } from 'commander'
import { EXIT, type ExitCode } from './exit.js'

const RESULTS = new WeakMap<Command, ExitCode>()

function rootOf (cmd: Command): Command {
  let root = cmd
  while (root.parent !== null) root = root.parent
  return root
}

/** A commander action whose return value is the command's exit code (nothing: 0). */
export function action<A extends unknown[]> (handler: (...args: A) => Promise<ExitCode | undefined | void>): (this: Command, ...args: A) => Promise<void> {
  return async function (this: Command, ...args: A): Promise<void> {
    const code = await handler(...args)
    if (code !== undefined) RESULTS.set(rootOf(this), code)
  }
}

/** The exit code the action of a parsed program returned (0 when it returned none). */
export function resultOf (program: Command): ExitCode {
  return RESULTS.get(program) ?? EXIT.ok
}
