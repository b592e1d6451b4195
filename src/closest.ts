/** "Did you mean …?": the known name closest to what was written, when it is close enough to be the one meant. */

/** Levenshtein distance. */
export function editDistance (a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]!
}

/** The candidate closest to `word` (case-insensitive), or undefined when none is within 40 % of its length (at least 3 edits). */
export function closestName (word: string, candidates: Iterable<string>): string | undefined {
  let best: { name: string, d: number } | undefined
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase())
    if (best === undefined || d < best.d) best = { name: c, d }
  }
  return best !== undefined && best.d <= Math.max(3, Math.floor(word.length * 0.4)) ? best.name : undefined
}
