// The node flags the bridge runs with in production, read from the shipped systemd unit's ExecStart so the
// benchmarks measure the process as deployed (V8 heap caps: the bridge keeps its queue on disk, and its
// live heap is ~30 MB, but V8 would otherwise let the heap grow to ~90 MB before a full collection).
import { readFileSync } from 'node:fs'

export function productionNodeFlags (): string[] {
  const unit = readFileSync(new URL('../deploy/systemd/enzoic-bridge.service', import.meta.url), 'utf8')
  const exec = /^ExecStart=\S*node((?:\s+--\S+)*)\s/m.exec(unit)
  if (exec === null) throw new Error('deploy/systemd/enzoic-bridge.service: no `ExecStart=…node --flags…` line')
  return exec[1]!.trim().split(/\s+/).filter(f => f !== '')
}
