// Prints the README's table of lifecycle events from src/observability/events.ts (test/docs.test.ts checks
// that the README holds exactly this table): `npx tsx scripts/events-table.ts`.
import { EVENTS } from '../src/observability/events.js'

export function eventsTable (): string {
  const rows = Object.entries(EVENTS).map(([name, e]) => `| \`${name}\` | ${e.level} | ${e.what} | ${e.fields === '' ? '—' : e.fields} |`)
  return ['| event | level | when | fields |', '|---|---|---|---|', ...rows].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(eventsTable() + '\n')
