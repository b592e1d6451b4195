/**
 * Loads FusionAuth's OpenAPI spec (FusionAuth 1.69.0, trimmed to the endpoints the fake implements:
 * fusionauth-openapi.yaml beside this file, made by scripts/trim-openapi.ts) and validates request and
 * response bodies against the schemas it declares for an operation, with ajv.
 *
 * Where the spec and the real API disagree, the spec is patched here, in ONE place (SPEC_DEVIATIONS), each
 * deviation named and explained. Every deviation also has a `stillPresent` check against the unpatched spec, so
 * a contract test can notice when a newer spec fixes one and the patch should go.
 */
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { parse } from 'yaml'

type Json = Record<string, any>

/** The in-repository copy of the spec (FusionAuth 1.69.0, Apache License 2.0, © FusionAuth). */
export const BUNDLED_SPEC_PATH = fileURLToPath(new URL('./fusionauth-openapi.yaml', import.meta.url))

/**
 * Where the spec is read from: always the bundled copy (no environment variable may change a test's result);
 * `loadFusionAuthOpenApi({ file })` reads another, e.g. a newer full openapi.yaml before regenerating the copy.
 */
export const DEFAULT_SPEC_PATH = BUNDLED_SPEC_PATH

export interface SpecDeviation {
  id: string
  /** What the spec says and what FusionAuth really does. */
  description: string
  /** True while the unpatched spec still has the deviation. */
  stillPresent (spec: Json): boolean
  /** Makes the (cloned) spec describe the real API. */
  apply (spec: Json): void
}

const ERRORS_REF = { $ref: '#/components/schemas/Error' }

/**
 * THE place where the spec's known deviations from the real FusionAuth API are handled.
 */
export const SPEC_DEVIATIONS: SpecDeviation[] = [
  {
    id: 'errors-fieldErrors-is-an-object',
    description: 'Errors.fieldErrors: the spec says an array of Error; FusionAuth answers an object keyed by field name, ' +
      'each value an array of Error: {"fieldErrors":{"user.email":[{"code":"[blank]user.email","message":"…"}]}}.',
    stillPresent: spec => spec.components.schemas.Errors?.properties?.fieldErrors?.type === 'array',
    apply: spec => {
      spec.components.schemas.Errors.properties.fieldErrors = { type: 'object', additionalProperties: { type: 'array', items: ERRORS_REF } }
    }
  },
  {
    id: 'group-members-keyed-by-group-id',
    description: 'MemberRequest/MemberResponse.members: the spec says an array of GroupMember; FusionAuth uses (and documents) ' +
      'an object keyed by group id, each value an array of GroupMember: {"members":{"<groupId>":[{"userId":"…"}]}}.',
    stillPresent: spec => spec.components.schemas.MemberResponse?.properties?.members?.type === 'array',
    apply: spec => {
      for (const name of ['MemberRequest', 'MemberResponse']) {
        spec.components.schemas[name].properties.members = {
          type: 'object',
          additionalProperties: { type: 'array', items: { $ref: '#/components/schemas/GroupMember' } }
        }
      }
    }
  },
  {
    id: 'group-member-delete-keyed-by-group-id',
    description: 'MemberDeleteRequest.members: the spec says an array of UUIDs; the client libraries (Record<UUID, UUID[]>) ' +
      'and FusionAuth take an object keyed by group id, each value the user ids to remove: {"members":{"<groupId>":["<userId>"]}}.',
    stillPresent: spec => spec.components.schemas.MemberDeleteRequest?.properties?.members?.type === 'array',
    apply: spec => {
      spec.components.schemas.MemberDeleteRequest.properties.members = {
        type: 'object',
        additionalProperties: { type: 'array', items: { type: 'string', format: 'uuid' } }
      }
    }
  },
  {
    id: 'send-request-data-any-value',
    description: 'SendRequest.requestData: the spec types every value as an object; it is a Map<String, Object> of any JSON ' +
      'value (strings, numbers, lists) made available to the template as requestData.*.',
    stillPresent: spec => spec.components.schemas.SendRequest?.properties?.requestData?.additionalProperties?.type === 'object',
    apply: spec => {
      spec.components.schemas.SendRequest.properties.requestData = { type: 'object', additionalProperties: {} }
    }
  },
  {
    id: 'get-api-tenant-missing',
    description: 'GET /api/tenant (retrieveTenants, in every client library) is absent from the spec, which lists only ' +
      'POST /api/tenant. It answers a TenantResponse ({"tenants":[…]}), as GET /api/tenant/{tenantId} does.',
    stillPresent: spec => spec.paths['/api/tenant']?.get === undefined,
    apply: spec => {
      spec.paths['/api/tenant'].get = {
        operationId: 'retrieveTenants',
        description: 'Added by test/fakes/openapi.ts: missing from the 1.69.0 spec.',
        responses: {
          200: { description: 'Success', content: { 'application/json': { schema: { $ref: '#/components/schemas/TenantResponse' } } } },
          default: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Errors' } } } }
        }
      }
    }
  },
  {
    id: 'user-search-criteria-paging-fields',
    description: 'UserSearchCriteria lacks numberOfResults, startRow and orderBy (BaseSearchCriteria, which has them, is not ' +
      'composed in), although FusionAuth documents and accepts search.numberOfResults and search.startRow.',
    stillPresent: spec => spec.components.schemas.UserSearchCriteria?.properties?.numberOfResults === undefined,
    apply: spec => {
      Object.assign(spec.components.schemas.UserSearchCriteria.properties, spec.components.schemas.BaseSearchCriteria.properties)
    }
  },
  {
    id: 'http-headers-a-map-of-strings',
    description: 'HTTPHeaders (a webhook\'s `headers`) declares `properties: {}` and nothing else, which a strict reading takes ' +
      'for "no header at all"; FusionAuth takes and answers a map of header name to value: {"Authorization": "Bearer …"}.',
    stillPresent: spec => {
      const headers = spec.components.schemas.HTTPHeaders
      return headers?.additionalProperties === undefined && Object.keys(headers?.properties ?? {}).length === 0
    },
    apply: spec => {
      spec.components.schemas.HTTPHeaders = { ...spec.components.schemas.HTTPHeaders, additionalProperties: { type: 'string' } }
    }
  },
  {
    id: 'empty-error-bodies',
    description: 'Every operation declares its error responses as `default` → Errors JSON, but FusionAuth answers 401 ' +
      '(bad key, key not allowed) and 404 (not found) with an EMPTY body. validateResponse accepts an empty body for ' +
      'those two statuses (and only those).',
    stillPresent: spec => spec.paths['/api/user/{userId}']?.get?.responses?.['404'] === undefined,
    apply: () => { /* handled in validateResponse: see EMPTY_BODY_STATUSES */ }
  }
]
const EMPTY_BODY_STATUSES = new Set([401, 404]) // deviation 'empty-error-bodies'

export interface ValidationResult { ok: boolean, errors: string[], schema?: string }

export interface OpenApiContract {
  /** The patched spec. */
  spec: Json
  /** The spec as loaded, before SPEC_DEVIATIONS were applied. */
  raw: Json
  /** Validates a response (status + raw body text) of the operation at `pathTemplate` (e.g. '/api/user/{userId}'). */
  validateResponse (method: string, pathTemplate: string, status: number, bodyText: string): ValidationResult
  /** Validates a JSON request body of the operation. */
  validateRequest (method: string, pathTemplate: string, body: unknown): ValidationResult
  operationId (method: string, pathTemplate: string): string | undefined
}

/** Makes every object schema that lists properties (and says nothing of others) reject unknown properties. */
function closeObjects (node: unknown): void {
  if (Array.isArray(node)) { node.forEach(closeObjects); return }
  if (typeof node !== 'object' || node === null) return
  const o = node as Json
  if (o.properties !== undefined && o.additionalProperties === undefined && o.oneOf === undefined && o.allOf === undefined && o.anyOf === undefined) {
    o.additionalProperties = false
  }
  for (const v of Object.values(o)) closeObjects(v)
}

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv

/**
 * @param opts.strictProperties reject properties the spec does not declare (default true): the fake must not
 *   invent fields, and a typo in a field name fails the contract.
 */
export function loadFusionAuthOpenApi (opts: { file?: string, strictProperties?: boolean } = {}): OpenApiContract {
  const file = opts.file ?? DEFAULT_SPEC_PATH
  if (!existsSync(file)) {
    throw new Error(`FusionAuth OpenAPI spec not found at ${file}` +
      (file === BUNDLED_SPEC_PATH ? ' (make it with scripts/trim-openapi.ts)' : ''))
  }
  const raw = parse(readFileSync(file, 'utf8')) as Json
  const spec = structuredClone(raw)
  for (const d of SPEC_DEVIATIONS) d.apply(spec)
  if (opts.strictProperties ?? true) closeObjects(spec.components.schemas)

  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true })
  addFormats(ajv)
  // OpenAPI 3.0 formats beyond JSON Schema's, as the spec spells them.
  ajv.addFormat('UUID', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i)
  ajv.addFormat('URI', true)
  ajv.addFormat('binary', true)
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) })
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 })
  ajv.addFormat('double', { type: 'number', validate: () => true })
  ajv.addFormat('float', { type: 'number', validate: () => true })
  const SPEC_ID = 'https://fusionauth.io/openapi.json'
  ajv.addSchema({ $id: SPEC_ID, components: { schemas: spec.components.schemas } })
  const validators = new Map<string, ValidateFunction>()
  const validatorFor = (schema: Json): { fn: ValidateFunction, name: string } => {
    const name = typeof schema.$ref === 'string' ? schema.$ref.replace('#/components/schemas/', '') : JSON.stringify(schema)
    let fn = validators.get(name)
    if (fn === undefined) {
      const rooted = typeof schema.$ref === 'string' ? { $ref: SPEC_ID + schema.$ref } : { $id: `inline-${validators.size}`, ...schema }
      fn = ajv.compile(rooted)
      validators.set(name, fn)
    }
    return { fn, name }
  }
  const format = (errors: ErrorObject[] | null | undefined): string[] =>
    (errors ?? []).map(e => `${e.instancePath === '' ? '(root)' : e.instancePath} ${e.message ?? ''}${e.keyword === 'additionalProperties' ? ` [${String((e.params as Json).additionalProperty)}]` : ''}`)

  const operation = (method: string, pathTemplate: string): Json | undefined => spec.paths[pathTemplate]?.[method.toLowerCase()]

  return {
    spec,
    raw,
    operationId: (method, pathTemplate) => operation(method, pathTemplate)?.operationId,
    validateResponse (method, pathTemplate, status, bodyText) {
      const op = operation(method, pathTemplate)
      if (op === undefined) return { ok: false, errors: [`no operation ${method} ${pathTemplate} in the spec`] }
      const response = op.responses?.[String(status)] ?? op.responses?.default
      if (response === undefined) return { ok: false, errors: [`${method} ${pathTemplate} declares no response for ${status}`] }
      const schema = response.content?.['application/json']?.schema as Json | undefined
      if (bodyText === '') {
        if (schema === undefined || EMPTY_BODY_STATUSES.has(status)) return { ok: true, errors: [] }
        return { ok: false, errors: [`${status}: the spec declares a JSON body, the response is empty`] }
      }
      if (schema === undefined) return { ok: false, errors: [`${status}: the spec declares no body, the response has one`] }
      let body: unknown
      try { body = JSON.parse(bodyText) } catch { return { ok: false, errors: [`${status}: the body is not JSON`] } }
      const { fn, name } = validatorFor(schema)
      const ok = fn(body)
      return { ok, errors: ok ? [] : format(fn.errors), schema: name }
    },
    validateRequest (method, pathTemplate, body) {
      const op = operation(method, pathTemplate)
      if (op === undefined) return { ok: false, errors: [`no operation ${method} ${pathTemplate} in the spec`] }
      const schema = op.requestBody?.content?.['application/json']?.schema as Json | undefined
      if (schema === undefined) return { ok: false, errors: [`${method} ${pathTemplate} declares no JSON request body`] }
      const { fn, name } = validatorFor(schema)
      const ok = fn(body)
      return { ok, errors: ok ? [] : format(fn.errors), schema: name }
    }
  }
}
