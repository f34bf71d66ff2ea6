/**
 * Real answers against the served OpenAPI document (docs/api.md): the real `serve` process (dist/),
 * real Postgres and Redis. Each gateway-owned endpoint is exercised for its success and main error
 * cases, and every answer's body is validated (ajv, JSON Schema 2020-12) against the schema the
 * document gives for that path, method, status and content type — `default` when it names none.
 * Its own database, so bootstrap can run once.
 */
import { randomInt } from 'node:crypto';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateEnrollmentToken } from '../../gateway/auth/node-keys.js';
import { base32Decode, totp } from '../../gateway/auth/totp.js';
import { migrate } from '../../gateway/store/migrate.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import { createPg, type Db } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser, uniq, type JsonResponse } from '../helpers/fixtures.js';
import { createDatabase, dropDatabase } from '../helpers/services.js';
import { startGateway, type GatewayProcess } from '../helpers/spawn-gateway.js';

type Doc = {
  paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: object }> }> }>>;
};

const BOOTSTRAP = 'openapi-bootstrap-token-0123456789';
const adminUrl = inject('postgresAdminUrl');
let databaseUrl: string;
let db: Db;
let gw: GatewayProcess;
let doc: Doc;
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats.default(ajv);
const compiled = new Map<object, ValidateFunction>();
/** `METHOD path status` of every answer checked, to prove each operation's success was seen. */
const seen = new Set<string>();

const ip = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

/** Calls the gateway and validates the answer against the document; `path` is the documented one. */
async function api(
  method: string,
  documented: string,
  init: RequestInit & { json?: unknown; token?: string; url?: string; from?: string } = {},
): Promise<JsonResponse> {
  const headers = new Headers(init.headers);
  headers.set('x-forwarded-for', init.from ?? ip());
  const res = await call(`${gw.url}${init.url ?? documented}`, { ...init, method, headers });
  const op = doc.paths[documented]?.[method.toLowerCase()];
  expect(op, `${method} ${documented} is documented`).toBeDefined();
  const response = op?.responses[String(res.status)] ?? op?.responses.default;
  expect(response, `${method} ${documented} → ${res.status} is documented`).toBeDefined();
  const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
  const media = response?.content[type];
  expect(media, `${method} ${documented} → ${res.status} documents ${type}`).toBeDefined();
  let validate = compiled.get(media!.schema);
  if (!validate) {
    validate = ajv.compile(media!.schema);
    compiled.set(media!.schema, validate);
  }
  const ok = validate(res.body);
  expect(
    ok,
    `${method} ${documented} → ${res.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(res.body)}`,
  ).toBe(true);
  seen.add(`${method} ${documented} ${res.status}`);
  return res;
}

beforeAll(async () => {
  databaseUrl = await createDatabase(adminUrl);
  db = createPg({ url: databaseUrl, poolSize: 2 });
  await migrate(db);
  gw = await startGateway({
    DATABASE_URL: databaseUrl,
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `${inject('redisPrefix')}openapi:`,
    AUTH_JWT_SECRET: 'openapi-e2e-secret-0123456789abcdef',
    AUTH_BOOTSTRAP_TOKEN: BOOTSTRAP,
    AUTH_LOGIN_IP_LIMIT: '3',
    AUTH_LOCKOUT_MAX_ATTEMPTS: '3',
    TRUSTED_PROXIES: '127.0.0.1/32',
    UPSTREAM_URL: 'http://127.0.0.1:9',
  });
  const res = await fetch(`${gw.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  doc = (await res.json()) as Doc;
});

afterAll(async () => {
  await gw?.stop();
  await db?.close();
  if (databaseUrl) await dropDatabase(adminUrl, databaseUrl).catch(() => {});
});

describe('answers match the OpenAPI document', () => {
  it('ops: healthz, readyz, jwks, the document itself', async () => {
    await api('GET', '/healthz');
    await api('GET', '/readyz');
    const jwks = await api('GET', '/.well-known/jwks.json');
    expect(jwks.headers.get('content-type')).toBe('application/jwk-set+json');
    const self = await api('GET', '/openapi.json');
    expect(self.body).toEqual(doc);
    expect(self.headers.get('cache-control')).toBe('public, max-age=300');
  });

  it('bootstrap: 401 wrong token, 400/415 bad bodies, 201, then 409', async () => {
    const path = '/api/v1/auth/bootstrap';
    const body = { email: `${uniq('root')}@example.test`, password: 'a-long-unusual-passphrase-42' };
    await api('POST', path, { json: body, headers: { 'x-bootstrap-token': 'wrong' } });
    expect(
      (await api('POST', path, { json: { ...body, extra: 1 }, headers: { 'x-bootstrap-token': BOOTSTRAP } })).status,
    ).toBe(400);
    expect(
      (
        await api('POST', path, {
          body: 'x',
          headers: { 'content-type': 'text/plain', 'x-bootstrap-token': BOOTSTRAP },
        })
      ).status,
    ).toBe(415);
    expect(
      (await api('POST', path, { json: { ...body, password: 'short' }, headers: { 'x-bootstrap-token': BOOTSTRAP } }))
        .status,
    ).toBe(400);
    expect(
      (await api('POST', path, { json: { ...body, tenant_name: null }, headers: { 'x-bootstrap-token': BOOTSTRAP } }))
        .status,
    ).toBe(201);
    expect((await api('POST', path, { json: body, headers: { 'x-bootstrap-token': BOOTSTRAP } })).status).toBe(409);
  });

  it('login, me, sessions, ws-ticket, refresh, password change and logout', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant, { role: 'admin' });
    const creds = { email: user.email, password: user.password, tenant_domain: tenant.domain };
    expect((await api('POST', '/api/v1/auth/login', { json: { ...creds, password: 'wrong' } })).status).toBe(401);
    expect((await api('POST', '/api/v1/auth/login', { json: { ...creds, mfa: 1 } })).status).toBe(400);
    expect(
      (await api('POST', '/api/v1/auth/login', { json: { email: 'x'.repeat(1024 * 1024), password: 'p' } })).status,
    ).toBe(413);
    const login = await api('POST', '/api/v1/auth/login', { json: creds });
    expect(login.status).toBe(200);
    const { token, refresh_token: refresh } = login.body.data as { token: string; refresh_token: string };

    expect((await api('GET', '/api/v1/auth/me', { token })).status).toBe(200);
    expect((await api('GET', '/api/v1/auth/me')).status).toBe(401);
    const list = await api('GET', '/api/v1/auth/sessions', { token });
    expect(list.status).toBe(200);
    expect((await api('GET', '/api/v1/auth/sessions')).status).toBe(401);
    expect((await api('POST', '/api/v1/auth/ws-ticket', { token })).status).toBe(200);
    expect((await api('POST', '/api/v1/auth/ws-ticket')).status).toBe(401);
    expect(
      (
        await api('POST', '/api/v1/auth/ws-ticket', {
          token,
          url: `/api/v1/auth/ws-ticket?tenant_id=${crypto.randomUUID()}`,
        })
      ).status,
    ).toBe(403);

    const refreshed = await api('POST', '/api/v1/auth/refresh', { json: { refresh_token: refresh } });
    expect(refreshed.status).toBe(200);
    expect((await api('POST', '/api/v1/auth/refresh', { json: { refresh_token: 'g2dr_unknown' } })).status).toBe(401);
    expect((await api('POST', '/api/v1/auth/refresh', { json: {} })).status).toBe(400);

    // A second session to end by id; an unknown id is 404.
    const other = await api('POST', '/api/v1/auth/login', { json: creds });
    const otherSid = (
      (await api('GET', '/api/v1/auth/sessions', { token: other.body.data.token as string })).body.data as {
        id: string;
        current: boolean;
      }[]
    ).find((s) => s.current)?.id;
    expect(
      (await api('DELETE', '/api/v1/auth/sessions/{id}', { token, url: `/api/v1/auth/sessions/${otherSid}` })).status,
    ).toBe(200);
    expect(
      (
        await api('DELETE', '/api/v1/auth/sessions/{id}', {
          token,
          url: `/api/v1/auth/sessions/${crypto.randomUUID()}`,
        })
      ).status,
    ).toBe(404);

    const change = (json: unknown, t = token) => api('POST', '/api/v1/auth/me/password', { json, token: t });
    expect((await change({ current_password: user.password, new_password: 'password1234' })).status).toBe(400);
    expect(
      (await change({ current_password: 'wrong-current', new_password: 'another-long-passphrase-7' })).status,
    ).toBe(401);
    const changed = await change({ current_password: user.password, new_password: 'another-long-passphrase-7' });
    expect(changed.status).toBe(200);
    const fresh = changed.body.data.token as string;

    expect((await api('POST', '/api/v1/auth/logout', { token: fresh, json: { all: 'yes' } })).status).toBe(400);
    expect((await api('POST', '/api/v1/auth/logout', { token: fresh, json: { all: true } })).status).toBe(200);
    expect((await api('POST', '/api/v1/auth/logout', { token: fresh })).status).toBe(401);
  });

  it('login: 403 locked and 429 throttled carry the documented envelope', async () => {
    const email = `${uniq('nobody')}@example.test`;
    const from = ip();
    for (let i = 0; i < 3; i++)
      expect((await api('POST', '/api/v1/auth/login', { json: { email, password: 'wrong' } })).status).toBe(401);
    const locked = await api('POST', '/api/v1/auth/login', { json: { email, password: 'wrong' } });
    expect(locked.status).toBe(403);
    for (let i = 0; i < 3; i++)
      await api('POST', '/api/v1/auth/refresh', { json: { refresh_token: 'g2dr_nope' }, from });
    expect((await api('POST', '/api/v1/auth/refresh', { json: { refresh_token: 'g2dr_nope' }, from })).status).toBe(
      429,
    );
  });

  it('nodes: register 201, 401 bad token, 400 bad name; rotate-key 200 and 401', async () => {
    const tenant = await makeTenant(db);
    const token = generateEnrollmentToken();
    await createNodeStore(db).createEnrollment({
      tenantId: tenant.id,
      name: 'edge-openapi',
      tokenHash: token.hash,
      expiresAt: new Date(Date.now() + 60_000),
    });
    expect(
      (await api('POST', '/api/v1/nodes/register', { json: { enrollment_token: token.rawToken, name: ' ' } })).status,
    ).toBe(400);
    expect((await api('POST', '/api/v1/nodes/register', { json: { enrollment_token: 'g2de_unknown' } })).status).toBe(
      401,
    );
    const reg = await api('POST', '/api/v1/nodes/register', { json: { enrollment_token: token.rawToken } });
    expect(reg.status).toBe(201);
    expect((await api('POST', '/api/v1/nodes/rotate-key', { token: reg.body.data.api_key as string })).status).toBe(
      200,
    );
    expect((await api('POST', '/api/v1/nodes/rotate-key')).status).toBe(401);
  });

  it('mfa: setup, confirm, the login challenge, verify, turning it off; 409 and 401 on the way', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const creds = { email: user.email, password: user.password, tenant_domain: tenant.domain };
    const token = (await api('POST', '/api/v1/auth/login', { json: creds })).body.data.token as string;
    expect((await api('POST', '/api/v1/auth/mfa/totp/confirm', { token, json: { code: '123456' } })).status).toBe(409);
    const setup = await api('POST', '/api/v1/auth/mfa/totp/setup', { token });
    expect(setup.status).toBe(200);
    const secret = base32Decode(setup.body.data.secret as string)!;
    const confirmed = await api('POST', '/api/v1/auth/mfa/totp/confirm', {
      token,
      json: { code: totp(secret, Date.now()) },
    });
    expect(confirmed.status).toBe(200);
    const recovery = confirmed.body.data.recovery_codes as string[];
    const challenge = await api('POST', '/api/v1/auth/login', { json: creds });
    expect(challenge.body.data.mfa_required).toBe(true);
    expect((await api('POST', '/api/v1/auth/mfa/verify', { json: { mfa_token: 'nope', code: '000000' } })).status).toBe(
      401,
    );
    const verified = await api('POST', '/api/v1/auth/mfa/verify', {
      json: { mfa_token: challenge.body.data.mfa_token, code: recovery[0] },
    });
    expect(verified.status).toBe(200);
    const off = await api('DELETE', '/api/v1/auth/mfa/totp', {
      token: verified.body.data.token as string,
      json: { code: recovery[1] },
    });
    expect(off.status).toBe(200);
  });

  it('saw every documented operation succeed', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) {
        const ok = [...seen].some((s) => s.startsWith(`${method.toUpperCase()} ${path} 2`));
        expect(ok, `${method.toUpperCase()} ${path}`).toBe(true);
      }
    }
  });
});
