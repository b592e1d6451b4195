import type { NewStep, Step, StepChange } from '../alerts/types.js'
import type { StepKey, StepWrites } from '../store/types.js'

/** Step writes on their way to the store, and what to say once they are written (logs, metrics). */
export interface Carried {
  readonly writes: StepWrites
  /** Called once the write that carried them committed. */
  written (): void
}

/**
 * What an attempt has not written yet of its alert's steps (store/types.ts `StepWrites`): a first attempt's plan,
 * the results recorded since the last write, markers to clear. It rides with the attempt's next write — a step's
 * marker before a FusionAuth call that changes anything, or the transition that ends the attempt — so every
 * FusionAuth call that changes something is preceded by one durable write that holds everything before it.
 */
export class Journal {
  /** The plan while no write carried it: each new step with its in-memory step (whose later changes it takes). */
  #plan: Array<{ step: Step, planned: NewStep, change?: StepChange }> | undefined
  /** When the plan was made (performance.now()): its due times count from then, not from the write that carries it. */
  #plannedAt = 0
  readonly #changes = new Map<string, StepKey & { change?: StepChange }>()
  #announce: Array<() => void> = []

  /** A first attempt's plan (its steps as `steps`, in the same order). */
  planned (plan: NewStep[], steps: Step[], announce: () => void): void {
    this.#plan = plan.map((planned, i) => ({ step: steps[i]!, planned }))
    this.#plannedAt = performance.now()
    this.#announce.push(announce)
  }

  /** A step's result, written with the next write. */
  record (step: Step, change: StepChange, announce: () => void): void {
    const unwritten = this.#plan?.find(p => p.step === step)
    if (unwritten !== undefined) unwritten.change = change
    else this.#changes.set(keyOf(step), { userId: step.userId, action: step.action, change })
    this.#announce.push(announce)
  }

  /** A step's marker cleared with the next write (its call certainly did not take effect), unless a result clears it first. */
  unbegin (step: Step): void {
    if (!this.#changes.has(keyOf(step))) this.#changes.set(keyOf(step), { userId: step.userId, action: step.action })
  }

  /** The steps with a result not written yet. */
  recorded (): Array<StepKey & { change?: StepChange }> {
    return [
      ...(this.#plan ?? []).filter(p => p.change !== undefined).map(p => ({ userId: p.planned.userId, action: p.planned.action, change: p.change })),
      ...[...this.#changes.values()].filter(c => c.change !== undefined)
    ]
  }

  /** Everything not written yet; `written()` once a write carried it (nothing is dropped before). One write at a time. */
  pending (): Carried {
    const writes: StepWrites = {}
    if (this.#plan !== undefined) {
      const since = performance.now() - this.#plannedAt
      writes.plan = this.#plan.map(p => ({ ...p.planned, dueInMs: Math.max(0, p.planned.dueInMs - since), change: p.change }))
    }
    if (this.#changes.size > 0) writes.changes = [...this.#changes.values()]
    const announce = this.#announce
    return {
      writes,
      written: () => {
        this.#plan = undefined
        this.#changes.clear()
        this.#announce = []
        for (const say of announce) say()
      }
    }
  }
}

const keyOf = (s: StepKey): string => `${s.userId}\u0000${s.action}`
