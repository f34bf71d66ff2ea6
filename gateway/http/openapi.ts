/**
 * The OpenAPI 3.1 document of the gateway-owned endpoints (docs/api.md), built from the same
 * TypeBox schemas that validate request bodies (http/body.ts). Each area module lists its
 * operations; this module adds what every operation shares: the JSON body errors, the error
 * envelope per status from the one error table (gateway/errors.ts), the security schemes.
 */
import type { TSchema } from 'typebox';
import { ERRORS, PUBLIC_DETAIL, type ErrorCode } from '../errors.js';
import { AUTH_OPERATIONS } from './schemas/auth.js';
import { ErrorEnvelope, type ApiOperation, type ApiOperations, type ApiSecurity } from './schemas/common.js';
import { MFA_OPERATIONS } from './schemas/mfa.js';
import { NODE_OPERATIONS } from './schemas/nodes.js';
import { OPS_OPERATIONS } from './schemas/ops.js';

/** Every area's operations; a new area module adds its table here. */
export const API_AREAS: readonly ApiOperations[] = [AUTH_OPERATIONS, MFA_OPERATIONS, NODE_OPERATIONS, OPS_OPERATIONS];

/** Errors every operation with a JSON body can answer (docs/api.md, "Auth endpoints"). */
const BODY_ERRORS: readonly ErrorCode[] = ['INVALID_BODY', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];

const SECURITY: Record<Exclude<ApiSecurity, 'public'>, string> = {
  user: 'userToken',
  node: 'nodeKey',
  bootstrap: 'bootstrapToken',
};

const DESCRIPTION = [
  'The endpoints the get2dial gateway answers itself: login, the caller’s account and sessions, WebSocket tickets, bootstrap, edge-node registration and key rotation, health, readiness and the JWKS.',
  'Out of scope: `/metrics` (Prometheus text exposition) and every proxied route (`/api/v1/*`, `/api/v1/nodes/*`, `/api/v1/edge/*`, `/ws/*`), whose answers are the upstream’s.',
  'Every answer carries `X-Request-Id`; every 401 carries `WWW-Authenticate: Bearer realm="get2dial"`; errors and answers carrying a token or key carry `Cache-Control: no-store`.',
  'Request bodies are JSON (`Content-Type: application/json`, no `Content-Encoding` other than `identity`), UTF-8, at most 1 MiB, with exactly the documented fields; a NUL character in a string is refused like an unknown field.',
].join('\n\n');

/** Plain JSON of a TypeBox schema (its non-enumerable markers dropped). */
const json = (schema: TSchema): unknown => JSON.parse(JSON.stringify(schema));

function errorResponses(codes: readonly ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    // Codes whose message names the detail (which password rule, which conflict) leave it open.
    const fixed = list.every((c) => !PUBLIC_DETAIL.has(c));
    const messages = [...new Set(list.map((c) => ERRORS[c].message))];
    const headers: Record<string, unknown> = {};
    if (status === 401)
      headers['WWW-Authenticate'] = { description: 'Always `Bearer realm="get2dial"`.', schema: { type: 'string' } };
    if (list.some((c) => c === 'ACCOUNT_LOCKED' || c === 'TOO_MANY_REQUESTS' || c === 'SERVICE_UNAVAILABLE')) {
      headers['Retry-After'] = {
        description: 'Seconds to wait (locked, throttled, unavailable).',
        schema: { type: 'integer', minimum: 1 },
      };
    }
    out[String(status)] = {
      description: list
        .map((c) => `\`${ERRORS[c].message}\`${PUBLIC_DETAIL.has(c) ? ' (or a message naming the detail)' : ''}`)
        .join('; '),
      ...(Object.keys(headers).length > 0 ? { headers } : {}),
      content: { 'application/json': { schema: json(ErrorEnvelope(fixed ? messages : undefined)) } },
    };
  }
  return out;
}

function parameters(op: ApiOperation): unknown[] {
  const out: unknown[] = [];
  for (const [name, p] of Object.entries(op.pathParams ?? {}))
    out.push({ name, in: 'path', required: true, description: p.description, schema: json(p.schema) });
  for (const [name, p] of Object.entries(op.queryParams ?? {}))
    out.push({ name, in: 'query', required: false, description: p.description, schema: json(p.schema) });
  return out;
}

function operation(key: string, op: ApiOperation): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(op.responses)) {
    responses[status] = {
      description: r.description,
      content: { [r.contentType ?? 'application/json']: { schema: json(r.schema) } },
    };
  }
  for (const [status, r] of Object.entries(errorResponses(op.body ? [...BODY_ERRORS, ...op.errors] : op.errors)))
    responses[status] ??= r;
  responses.default = {
    description: 'Any other error of the error table (e.g. 400 `invalid request path`, 500).',
    content: { 'application/json': { schema: json(ErrorEnvelope()) } },
  };
  const params = parameters(op);
  return {
    operationId: key.replace(/[^A-Za-z0-9]+/g, '_').replace(/_+$/, ''),
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: [op.tag],
    security: op.security === 'public' ? [] : [{ [SECURITY[op.security]]: [] }],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: op.body.optional !== true,
            content: { 'application/json': { schema: json(op.body.schema) } },
          },
        }
      : {}),
    responses,
  };
}

/** Tags in display order; only those some operation uses are listed. */
const TAGS: readonly { name: string; description: string }[] = [
  { name: 'auth', description: 'Login and the caller’s account.' },
  { name: 'sessions', description: 'Refresh tokens, sessions, WebSocket tickets.' },
  { name: 'mfa', description: 'TOTP multi-factor authentication.' },
  { name: 'nodes', description: 'Edge-node registration and key rotation.' },
  { name: 'ops', description: 'Health, readiness, keys, this document.' },
];

/** The document for `areas` (default: every area of the gateway), `version` being the package's. */
export function buildOpenApi(version: string, areas: readonly ApiOperations[] = API_AREAS): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const area of areas) {
    for (const [key, op] of Object.entries(area)) {
      const [method = '', path = ''] = key.split(' ');
      const item = (paths[path] ??= {});
      if (item[method.toLowerCase()] !== undefined) throw new Error(`duplicate operation ${key}`);
      item[method.toLowerCase()] = operation(key, op);
    }
  }
  const sorted = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    openapi: '3.1.0',
    info: { title: 'get2dial gateway', version, description: DESCRIPTION },
    tags: TAGS.filter((t) =>
      Object.values(sorted).some((item) =>
        Object.values(item).some((op) => (op as { tags: string[] }).tags.includes(t.name)),
      ),
    ),
    paths: sorted,
    components: {
      securitySchemes: {
        userToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A user access token from login, refresh or a password change.',
        },
        nodeKey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'g2dn_ node key',
          description: 'An edge node’s API key (`g2dn_` + 43 URL-safe characters).',
        },
        bootstrapToken: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Bootstrap-Token',
          description: 'AUTH_BOOTSTRAP_TOKEN.',
        },
      },
    },
  };
}

/** The served and committed serialization (docs/openapi.json): two-space indented, one trailing newline. */
export function renderOpenApi(version: string): string {
  return `${JSON.stringify(buildOpenApi(version), null, 2)}\n`;
}
