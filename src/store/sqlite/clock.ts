/** A wall clock read through a monotonic one: a step of more than 2 s is reported (once) to `onJump`. */
export function steadyClock (clock: { wall: () => number, mono: () => number }, onJump: (deltaMs: number) => void): () => number {
  let anchorWall = clock.wall()
  let anchorMono = clock.mono()
  return () => {
    const actual = clock.wall()
    const mono = clock.mono()
    const jump = actual - (anchorWall + (mono - anchorMono))
    if (Math.abs(jump) > 2000) {
      anchorWall = actual
      anchorMono = mono
      onJump(jump)
    }
    return actual
  }
}
