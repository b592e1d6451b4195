import { comment } from './comment.js'
import { deactivate } from './deactivate.js'
import { group } from './group.js'
import { notifyUser } from './notify-user.js'
import { requirePasswordChange } from './require-password-change.js'
import { revokeSessions } from './revoke-sessions.js'
import type { ActionModule, ActionSpec } from './types.js'
import { userAction } from './user-action.js'

export type { ActionContext, ActionModule, ActionSpec, RunResult, UndoResult } from './types.js'

/** Every action the bridge knows, by name. Adding one: a module beside this file, listed here. */
export const ACTIONS: ReadonlyMap<string, ActionModule> = new Map(
  [deactivate, revokeSessions, requirePasswordChange, comment, userAction, group, notifyUser].map(a => [a.name, a])
)

export function actionOf (spec: ActionSpec): ActionModule {
  const a = ACTIONS.get(spec.name)
  if (a === undefined) throw new Error(`unknown action ${spec.name}`)
  return a
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `deactivate,group:<id>,…` → specs, or a message naming the bad entry's position (never its value). */
export function parseActionList (text: string | readonly string[]): ActionSpec[] | string {
  const labels = typeof text === 'string' ? text.split(',').map(x => x.trim()).filter(x => x !== '') : text.map(x => x.trim())
  const out: ActionSpec[] = []
  for (const [i, label] of labels.entries()) {
    const at = label.indexOf(':')
    const name = at < 0 ? label : label.slice(0, at)
    const id = at < 0 ? '' : label.slice(at + 1)
    const a = ACTIONS.get(name)
    if (a === undefined) {
      return `entry ${i + 1} is not a known action (${[...ACTIONS.values()].map(x => x.takesId === undefined ? x.name : `${x.name}:<id>`).join(', ')})`
    }
    if (a.takesId !== undefined) {
      if (!UUID.test(id)) return `"${name}" needs a ${a.takesId} (a UUID), e.g. ${name}:<uuid>`
      out.push({ label: `${name}:${id.toLowerCase()}`, name, id: id.toLowerCase() })
    } else {
      if (id !== '') return `"${name}" takes no id`
      out.push({ label: name, name })
    }
    if (out.filter(o => o.label === out.at(-1)!.label).length > 1) return `entry ${i + 1} repeats an action`
  }
  return out
}
