/**
 * Trims FusionAuth's OpenAPI spec to what the test suite's fake FusionAuth implements, and writes the result
 * to test/fakes/fusionauth-openapi.yaml (the copy the contract test in test/fakes/fusionauth.test.ts loads).
 *
 *   npx tsx scripts/trim-openapi.ts <full openapi.yaml> [output, default test/fakes/fusionauth-openapi.yaml]
 *
 * The full spec is openapi.yaml from https://github.com/FusionAuth/fusionauth-openapi (Apache License 2.0),
 * at the commit that matches the FusionAuth version the bridge is built against.
 *
 * Kept: the path items listed in PATHS (every operation on them), the component schemas they reference,
 * directly or through other schemas, plus EXTRA_SCHEMAS, and the rest of the document (openapi, info,
 * servers, security, securitySchemes), all byte for byte as published. The known deviations of the spec
 * from the real API are NOT patched here but when the spec is loaded, in test/fakes/openapi.ts, so that the
 * contract test can tell when a newer spec fixes one.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { isMap, isScalar, parse, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DEFAULT_OUT = resolve(ROOT, 'test/fakes/fusionauth-openapi.yaml')

/** The path items the fake in test/fakes/fusionauth.ts answers (see its `route`). */
export const PATHS = [
  '/api/user', // GET ?email= / ?username=
  '/api/user/{userId}', // GET, DELETE (deactivate, ?hardDelete), PUT ?reactivate=true, PATCH
  '/api/user/search', // GET, POST
  '/api/user/action', // POST; GET ?userId=&active=true (a resumed user-action step: is it in effect already?)
  '/api/user/action/{actionId}', // DELETE (undo of user-action: cancelAction)
  '/api/email/send/{emailTemplateId}', // POST (notify-user: sendEmail)
  '/api/email/template/{emailTemplateId}', // GET (breach-bridge check: does the template of a notify-user action exist?)
  '/api/user/comment', // POST
  '/api/user/comment/{userId}', // GET (a resumed comment step: is the alert's comment there already?)
  '/api/group/member', // POST, DELETE (undo of group:)
  '/api/jwt/refresh', // GET ?userId=, DELETE ?userId=
  '/api/tenant', // the fake answers GET, which the spec lacks (deviation 'get-api-tenant-missing')
  '/api/tenant/{tenantId}', // GET; PATCH, PUT (fusionauth webhooks register: the tenant's eventConfiguration)
  '/api/webhook', // GET (list), POST (fusionauth webhooks register / list; check)
  '/api/webhook/{webhookId}', // GET, POST, PUT, PATCH, DELETE (fusionauth webhooks register / delete)
  '/.well-known/jwks.json', // GET, anonymous (the keys FusionAuth signs webhook events with)
  '/api/group/{groupId}', // GET (breach-bridge check: does a group of BRIDGE_ACTIONS exist?)
  '/api/user-action/{userActionId}', // GET (breach-bridge check: does a user action of BRIDGE_ACTIONS exist?)
  '/api/system/version', // GET (breach-bridge check: is this FusionAuth?)
  '/api/status' // GET, anonymous (breach-bridge check: is this FusionAuth?)
]

/** Schemas test/fakes/openapi.ts uses when it patches the spec, referenced by nothing kept. */
export const EXTRA_SCHEMAS = ['BaseSearchCriteria']

const SCHEMA_PREFIX = '#/components/schemas/'

function collectRefs (node: unknown, out: Set<string>): void {
  if (Array.isArray(node)) { for (const n of node) collectRefs(n, out); return }
  if (typeof node !== 'object' || node === null) return
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') {
      if (!value.startsWith(SCHEMA_PREFIX)) throw new Error(`unexpected $ref ${value}`)
      out.add(value.slice(SCHEMA_PREFIX.length))
    } else {
      collectRefs(value, out)
    }
  }
}

export interface TrimResult { text: string, version: string, paths: number, schemas: number, totalSchemas: number }

type Spec = { info: { version: string }, paths: Record<string, unknown>, components: { schemas: Record<string, unknown> } } & Record<string, unknown>

const keyOf = (pair: Pair): string => isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
const lineStart = (text: string, offset: number): number => text.lastIndexOf('\n', offset - 1) + 1

/** [start, end) of the source text of every entry of `map` that `keep` rejects, whole lines. */
function cuts (text: string, map: YAMLMap, keep: (name: string) => boolean): Array<[number, number]> {
  const out: Array<[number, number]> = []
  map.items.forEach((pair, i) => {
    if (keep(keyOf(pair))) return
    const next = map.items[i + 1]
    const key = pair.key as Node
    const end = next === undefined ? lineStart(text, map.range![1]) : lineStart(text, (next.key as Node).range![0])
    out.push([lineStart(text, key.range![0]), end])
  })
  return out
}

/** The schemas `spec` references from PATHS and EXTRA_SCHEMAS, directly or through other schemas. */
function referencedSchemas (spec: Spec): Set<string> {
  const keep = new Set<string>()
  const todo = new Set<string>(EXTRA_SCHEMAS)
  for (const p of PATHS) collectRefs(spec.paths[p], todo)
  while (todo.size > 0) {
    const name = todo.values().next().value as string
    todo.delete(name)
    const schema = spec.components.schemas[name]
    if (schema === undefined) throw new Error(`schema ${name} is referenced but not defined`)
    keep.add(name)
    const refs = new Set<string>()
    collectRefs(schema, refs)
    for (const r of refs) if (!keep.has(r)) todo.add(r)
  }
  return keep
}

/**
 * Cuts the unused path items and schemas out of the spec's text: what is kept stays exactly as published,
 * formatting included, so the copy diffs cleanly against the next version of the full spec.
 */
export function trimOpenApi (fullText: string): TrimResult {
  const doc = parseDocument(fullText)
  if (doc.errors.length > 0) throw new Error(`not valid YAML: ${doc.errors[0]?.message ?? ''}`)
  const spec = doc.toJS() as Spec
  const missing = PATHS.filter(p => spec.paths[p] === undefined)
  if (missing.length > 0) throw new Error(`the spec has no path item ${missing.join(', ')}`)
  const keep = referencedSchemas(spec)

  const paths = doc.get('paths')
  const schemas = doc.getIn(['components', 'schemas'])
  if (!isMap(paths) || !isMap(schemas)) throw new Error('the spec has no paths or components.schemas map')
  const totalSchemas = schemas.items.length
  const removed = [...cuts(fullText, paths, p => PATHS.includes(p)), ...cuts(fullText, schemas, s => keep.has(s))]
    .sort((a, b) => a[0] - b[0])
  let body = ''
  let at = 0
  for (const [start, end] of removed) {
    body += fullText.slice(at, start)
    at = end
  }
  body += fullText.slice(at)

  const version = String(spec.info.version)
  const header = [
    `FusionAuth API ${version}: OpenAPI spec, trimmed to what the test suite's fake FusionAuth implements.`,
    `Origin:     openapi.yaml of https://github.com/FusionAuth/fusionauth-openapi, FusionAuth ${version}.`,
    'Licence:    Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0), © FusionAuth.',
    `Changes:    keeps ${PATHS.length} path items and the ${keep.size} (of ${totalSchemas}) component schemas they reference;`,
    '            everything kept is as published. The spec\'s known deviations from the real API are patched',
    '            when it is loaded, in test/fakes/openapi.ts (SPEC_DEVIATIONS), not in this file.',
    'Regenerate: npx tsx scripts/trim-openapi.ts <full openapi.yaml>   (do not edit by hand)'
  ].map(l => `# ${l}`.trimEnd()).join('\n') + '\n'
  const text = header + body

  // The cut must leave valid YAML that says exactly what the full spec says about everything kept.
  const trimmed = parse(text) as Spec
  const same = (a: unknown, b: unknown, what: string): void => {
    if (!isDeepStrictEqual(a, b)) throw new Error(`trimming changed ${what}`)
  }
  same(Object.keys(trimmed.paths), Object.keys(spec.paths).filter(p => PATHS.includes(p)), 'the list of paths')
  for (const p of PATHS) same(trimmed.paths[p], spec.paths[p], p)
  same(Object.keys(trimmed.components.schemas).length, keep.size, 'the number of schemas')
  for (const s of keep) same(trimmed.components.schemas[s], spec.components.schemas[s], `schema ${s}`)
  for (const k of Object.keys(spec)) if (k !== 'paths' && k !== 'components') same(trimmed[k], spec[k], k)
  same({ ...trimmed.components, schemas: undefined }, { ...spec.components, schemas: undefined }, 'components')

  return { text, version, paths: PATHS.length, schemas: keep.size, totalSchemas }
}

if (fileURLToPath(import.meta.url) === resolve(process.argv[1] ?? '')) {
  const [source, out = DEFAULT_OUT] = process.argv.slice(2)
  if (source === undefined) {
    process.stderr.write('usage: npx tsx scripts/trim-openapi.ts <full openapi.yaml> [output]\n')
    process.exit(2)
  }
  const r = trimOpenApi(readFileSync(source, 'utf8'))
  writeFileSync(out, r.text)
  process.stdout.write(`FusionAuth ${r.version}: ${r.paths} path items, ${r.schemas} of ${r.totalSchemas} schemas → ${relative(process.cwd(), out) || out}\n`)
}
