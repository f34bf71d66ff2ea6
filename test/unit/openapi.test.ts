/**
 * The OpenAPI document (docs/api.md): valid OpenAPI 3.1 (checked offline against the schema the
 * validator package ships), every schema in it compiles as JSON Schema 2020-12, the committed
 * docs/openapi.json is exactly what the code generates (`npm run openapi` refreshes it), every
 * gateway-owned handler but /metrics is documented and nothing else is, and the body schemas
 * refuse what the hand-written checks refused.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { packageVersion } from '../../gateway/config/build-info.js';
import { GatewayError } from '../../gateway/errors.js';
import { checkBody } from '../../gateway/http/body.js';
import { buildOpenApi, renderOpenApi } from '../../gateway/http/openapi.js';
import { LoginBody, LogoutBody, RefreshBody } from '../../gateway/http/schemas/auth.js';
import { RegisterBody } from '../../gateway/http/schemas/nodes.js';

const ROOT = join(import.meta.dirname, '..', '..');
const doc = buildOpenApi(packageVersion()) as { paths: Record<string, Record<string, Record<string, unknown>>> };

/** Every JSON Schema object inside the document (request bodies, responses, parameters). */
function schemas(): [string, object][] {
  const out: [string, object][] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      const body = op.requestBody as { content: Record<string, { schema: object }> } | undefined;
      if (body) for (const c of Object.values(body.content)) out.push([`${where} body`, c.schema]);
      for (const [status, r] of Object.entries(
        op.responses as Record<string, { content: Record<string, { schema: object }> }>,
      )) {
        for (const c of Object.values(r.content)) out.push([`${where} ${status}`, c.schema]);
      }
      for (const p of (op.parameters ?? []) as { name: string; schema: object }[])
        out.push([`${where} ?${p.name}`, p.schema]);
    }
  }
  return out;
}

/** `METHOD /path` of every handler-map key in the gateway's route files (literal or `${SESSIONS}`). */
function declaredRoutes(): string[] {
  const files = [
    ...readdirSync(join(ROOT, 'gateway/routes')).map((f) => `gateway/routes/${f}`),
    'gateway/ops/health.ts',
  ];
  const found: string[] = [];
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const constants = new Map(
      [...text.matchAll(/const ([A-Z_]+) = '(\/[^']*)';/g)].map((m) => [m[1] as string, m[2] as string]),
    );
    for (const m of text.matchAll(/^\s+\[?['`](GET|POST|PUT|PATCH|DELETE) ([^'`]+)['`]\]?: async/gm)) {
      found.push(
        `${m[1]} ${(m[2] as string).replace(/\$\{([A-Z_]+)\}/g, (_, name: string) => constants.get(name) ?? name)}`,
      );
    }
  }
  return found.sort();
}

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('holds only schemas that compile as JSON Schema 2020-12 (strict)', () => {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats.default(ajv);
    const all = schemas();
    expect(all.length).toBeGreaterThan(40);
    for (const [where, schema] of all) expect(() => ajv.compile(schema), where).not.toThrow();
  });

  it('is committed as docs/openapi.json exactly as generated (run `npm run openapi`)', () => {
    expect(readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8')).toBe(renderOpenApi(packageVersion()));
  });

  it('documents every gateway-owned handler except /metrics, and nothing else', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const declared = declaredRoutes().filter((r) => r !== 'GET /metrics');
    expect(declared.length).toBeGreaterThan(10);
    expect(documented.sort()).toEqual(declared);
  });

  it('names the security scheme of every authenticated operation and leaves /metrics out', () => {
    expect(doc.paths['/metrics']).toBeUndefined();
    expect(doc.paths['/api/v1/auth/me']?.get?.security).toEqual([{ userToken: [] }]);
    expect(doc.paths['/api/v1/nodes/rotate-key']?.post?.security).toEqual([{ nodeKey: [] }]);
    expect(doc.paths['/api/v1/auth/login']?.post?.security).toEqual([]);
  });
});

describe('body schemas', () => {
  const refused = (value: unknown, schema: Parameters<typeof checkBody>[1]) => {
    try {
      checkBody(value, schema);
    } catch (err) {
      return err instanceof GatewayError ? `${err.status} ${err.publicMessage}` : String(err);
    }
    return 'accepted';
  };

  it('refuse unknown fields, wrong types, missing fields, non-objects and NUL with 400 invalid request body', () => {
    const bad = '400 invalid request body';
    expect(refused({ email: 'a@b', password: 'p', extra: 1 }, LoginBody)).toBe(bad);
    expect(refused({ email: 'a@b', password: 1 }, LoginBody)).toBe(bad);
    expect(refused({ email: 'a@b' }, LoginBody)).toBe(bad);
    expect(refused(JSON.parse('{"email":"a@b","password":"p","__proto__":{}}'), LoginBody)).toBe(bad);
    expect(refused([], LoginBody)).toBe(bad);
    expect(refused('x', LoginBody)).toBe(bad);
    expect(refused({ email: 'a\u0000@b', password: 'p' }, LoginBody)).toBe(bad);
    expect(refused({ refresh_token: null }, RefreshBody)).toBe(bad);
    expect(refused({ all: 'yes' }, LogoutBody)).toBe(bad);
  });

  it('treat null as an absent optional field', () => {
    const body = checkBody({ email: 'a@b', password: 'p', tenant_domain: null }, LoginBody);
    expect(body).toEqual({ email: 'a@b', password: 'p' });
    expect('tenant_domain' in body).toBe(false);
    expect(checkBody({ all: null }, LogoutBody)).toEqual({});
  });

  it('hold a node name to what the nodes table stores: 1 to 200 characters, not only whitespace', () => {
    const token = 'g2de_x';
    expect(refused({ enrollment_token: token, name: 'edge-01' }, RegisterBody)).toBe('accepted');
    expect(refused({ enrollment_token: token, name: 'n'.repeat(200) }, RegisterBody)).toBe('accepted');
    // Code points, as Postgres length() counts them: 200 emoji are 400 UTF-16 units.
    expect(refused({ enrollment_token: token, name: '😀'.repeat(200) }, RegisterBody)).toBe('accepted');
    expect(refused({ enrollment_token: token, name: 'n'.repeat(201) }, RegisterBody)).toBe('400 invalid request body');
    expect(refused({ enrollment_token: token, name: '' }, RegisterBody)).toBe('400 invalid request body');
    expect(refused({ enrollment_token: token, name: ' \t ' }, RegisterBody)).toBe('400 invalid request body');
  });
});

describe('MFA area', () => {
  it('lists the second-factor endpoints', () => {
    for (const path of [
      '/api/v1/auth/mfa/totp/setup',
      '/api/v1/auth/mfa/totp/confirm',
      '/api/v1/auth/mfa/totp',
      '/api/v1/auth/mfa/verify',
    ])
      expect(doc.paths[path]).toBeDefined();
  });
});
