/** The listeners of a store's change feed (`changes.subscribe`). */
export interface Listeners {
  readonly size: number
  add (listener: () => void): () => void
  /** Calls every listener (they tolerate spurious calls). */
  emit (): void
  clear (): void
}

export function createListeners (): Listeners {
  const listeners = new Set<() => void>()
  return {
    get size () { return listeners.size },
    add (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    emit () { for (const l of listeners) l() },
    clear () { listeners.clear() }
  }
}
