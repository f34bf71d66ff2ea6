/**
 * The envelope and the auth endpoints (docs/api.md) end to end: the real `serve` process (dist/), real Postgres and Redis, real HTTP.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { migrate } from '../../gateway/store/migrate.js';
import { createDatabase, dropDatabase } from '../helpers/services.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPg } from '../../gateway/store/pg.js';
import { createUserStore } from '../../gateway/store/users.js';
import { call, makeTenant, makeUser, platformTenant, uniq } from '../helpers/fixtures.js';
import { spawnGateway, ROOT, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';

const SECRET = 'e2e-auth-secret-e2e-auth-secret-0123';
const db = createPg({ url: inject('databaseUrl'), poolSize: 4 });
const prefix = `${inject('redisPrefix')}auth:`;
let gw: GatewayProcess;
let base: string;

const login = (json: unknown, init: RequestInit = {}) =>
  call(`${base}/api/v1/auth/login`, { method: 'POST', json, ...init });

beforeAll(async () => {
  gw = await spawnGateway('auth', {
    AUTH_JWT_SECRET: SECRET,
    AUTH_LOGIN_IP_LIMIT: '100000',
    UPSTREAM_URL: 'http://127.0.0.1:9', // nothing listens: proxied calls that pass authorization get 502
  });
  base = gw.url;
});

afterAll(async () => {
  await gw?.stop();
  await db.close();
});

describe('POST /api/v1/auth/login', () => {
  it('returns the reference shape with no-store and no hash', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant, { role: 'supervisor' });
    const res = await login({ email: user.email, password: user.password, tenant_domain: tenant.domain });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(res.body.status).toBe('success');
    expect(Object.keys(res.body.data).sort()).toEqual([
      'expires_at',
      'refresh_expires_at',
      'refresh_token',
      'token',
      'user',
    ]);
    expect(res.body.data.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(res.body.data.user).toEqual({
      id: user.id,
      tenant_id: tenant.id,
      email: user.email,
      role: 'supervisor',
      status: 'active',
      must_change_password: false,
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    const claims = JSON.parse(Buffer.from(res.body.data.token.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({
      tid: tenant.id,
      sub: user.id,
      email: user.email,
      role: 'supervisor',
      iss: 'get2dial',
      aud: 'get2dial-control',
    });
    expect(claims.exp - claims.iat).toBe(43200);
  });

  it('matches the email trimmed and case-insensitively', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const res = await login({ email: `  ${user.email.toUpperCase()} `, password: user.password });
    expect(res.status).toBe(200);
    expect(res.body.data.user.id).toBe(user.id);
  });

  it.each([
    ['unknown field', { email: 'a@b.test', password: 'x', tenant: 'oops' }],
    ['missing password', { email: 'a@b.test' }],
    ['email of the wrong type', { email: 5, password: 'x' }],
    ['password of the wrong type', { email: 'a@b.test', password: ['x'] }],
    ['tenant_domain of the wrong type', { email: 'a@b.test', password: 'x', tenant_domain: 1 }],
    ['an array', [{ email: 'a@b.test', password: 'x' }]],
    ['a string', 'email'],
    ['null', null],
  ])('answers 400 invalid request body for %s', async (_name, json) => {
    const res = await login(json);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ status: 'error', message: 'invalid request body' });
  });

  it('answers 400 for malformed JSON, 415 for other media types, 413 over 1 MB', async () => {
    const malformed = await call(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"email":',
    });
    expect(malformed).toMatchObject({ status: 400, body: { status: 'error', message: 'invalid request body' } });
    const text = await call(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(text).toMatchObject({ status: 415, body: { message: 'unsupported media type' } });
    const none = await call(`${base}/api/v1/auth/login`, { method: 'POST', body: '{}' });
    expect(none.status).toBe(415);
    const huge = await login({ email: 'a@b.test', password: 'x'.repeat(1024 * 1024 + 10) });
    expect(huge).toMatchObject({ status: 413, body: { status: 'error', message: 'request body too large' } });
    const withCharset = await call(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '{"email":"nobody@x.test","password":"x"}',
    });
    expect(withCharset.status).toBe(401);
  });

  it('answers the same generic 401 for every credential failure', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const other = await makeTenant(db);
    const failures = [
      await login({ email: user.email, password: 'wrong-password' }),
      await login({ email: `nobody-${uniq()}@example.test`, password: 'whatever' }),
      await login({ email: user.email, password: user.password, tenant_domain: `${uniq('nope')}.test` }),
      await login({ email: user.email, password: user.password, tenant_domain: other.domain }),
    ];
    for (const res of failures) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ status: 'error', message: 'invalid credentials' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('resolves the tenant from the email, letting the password disambiguate', async () => {
    const email = `${uniq('shared')}@example.test`;
    const t1 = await makeTenant(db);
    const t2 = await makeTenant(db);
    const u1 = await makeUser(db, t1, { email, password: 'first-tenant-password' });
    const u2 = await makeUser(db, t2, { email, password: 'second-tenant-password' });
    expect((await login({ email, password: 'first-tenant-password' })).body.data.user.id).toBe(u1.id);
    expect((await login({ email, password: 'second-tenant-password' })).body.data.user.id).toBe(u2.id);
    // Same password in both: the earliest-created account wins, every time.
    const sameEmail = `${uniq('same')}@example.test`;
    const first = await makeUser(db, t1, { email: sameEmail, password: 'identical-password' });
    await makeUser(db, t2, { email: sameEmail, password: 'identical-password' });
    for (let i = 0; i < 2; i++)
      expect((await login({ email: sameEmail, password: 'identical-password' })).body.data.user.id).toBe(first.id);
  });

  it('refuses a disabled account with the right password (403) and the wrong one (401)', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const ok = await login({ email: user.email, password: user.password });
    await createUserStore(db).setStatus(user.id, 'disabled');
    expect(await login({ email: user.email, password: user.password, tenant_domain: tenant.domain })).toMatchObject({
      status: 403,
      body: { message: 'account disabled' },
    });
    expect((await login({ email: user.email, password: 'nope-nope-nope', tenant_domain: tenant.domain })).status).toBe(
      401,
    );
    // Tokens issued before the account was disabled stop working.
    expect((await call(`${base}/api/v1/auth/me`, { token: ok.body.data.token })).status).toBe(401);
  });
});

describe('lockout (docs/security-model.md)', () => {
  it('locks after 10 failures, even for the right password, and cli unlock clears it', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    for (let i = 0; i < 10; i++) expect((await login({ email: user.email, password: `wrong-${i}` })).status).toBe(401);
    const locked = await login({ email: user.email, password: user.password });
    expect(locked.status).toBe(403);
    expect(locked.body).toEqual({ status: 'error', message: 'account temporarily locked' });
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800);
    expect((await login({ email: user.email, password: user.password, tenant_domain: tenant.domain })).status).toBe(
      403,
    );

    const { stdout } = await promisify(execFile)(
      'node',
      ['--import', 'tsx', 'gateway/cli/main.ts', 'user', 'unlock', '--tenant', tenant.domain, '--email', user.email],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: inject('databaseUrl'),
          REDIS_URL: inject('redisUrl'),
          REDIS_KEY_PREFIX: prefix,
        },
      },
    );
    expect(JSON.parse(stdout)).toMatchObject({ unlocked: true });
    expect((await login({ email: user.email, password: user.password })).status).toBe(200);
  });

  it('locks unknown identities the same way, so the 403 reveals nothing', async () => {
    const email = `ghost-${uniq()}@example.test`;
    for (let i = 0; i < 10; i++) expect((await login({ email, password: 'guess' })).status).toBe(401);
    expect(await login({ email, password: 'guess' })).toMatchObject({
      status: 403,
      body: { message: 'account temporarily locked' },
    });
  });

  it('lets 30 parallel wrong guesses reach at most 10 password verifications', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login({ email: user.email, password: `parallel-${i}` })),
    );
    const verified = results.filter((r) => r.status === 401).length;
    const refused = results.filter((r) => r.status === 403).length;
    expect(verified).toBe(10);
    expect(refused).toBe(20);
  });

  it('resets the count on success', async () => {
    // Named: a login without tenant_domain checks the password against every account of the email,
    // so it keeps counting email-wide even when it succeeds (docs/security-model.md).
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const named = { email: user.email, tenant_domain: tenant.domain };
    for (let i = 0; i < 9; i++) await login({ ...named, password: 'wrong' });
    expect((await login({ ...named, password: user.password })).status).toBe(200);
    for (let i = 0; i < 9; i++) expect((await login({ ...named, password: 'wrong' })).status).toBe(401);
    expect((await login({ ...named, password: user.password })).status).toBe(200);
  });

  it('takes as long for an unknown email as for a wrong password (medians)', async () => {
    const tenant = await makeTenant(db);
    const users = await Promise.all(Array.from({ length: 7 }, () => makeUser(db, tenant)));
    const time = async (json: unknown) => {
      const t = performance.now();
      await login(json);
      return performance.now() - t;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (const u of users) {
      known.push(await time({ email: u.email, password: 'wrong-password-here' }));
      unknown.push(await time({ email: `nobody-${uniq()}@example.test`, password: 'wrong-password-here' }));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(unknown) / median(known);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});

describe('me, password change and logout', () => {
  it('GET /auth/me reads the user fresh from Postgres', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant, { role: 'admin' });
    const token = (await login({ email: user.email, password: user.password })).body.data.token as string;
    const me = await call(`${base}/api/v1/auth/me`, { token });
    expect(me.status).toBe(200);
    expect(me.body.data).toMatchObject({
      id: user.id,
      tenant_id: tenant.id,
      role: 'admin',
      must_change_password: false,
    });
    expect(me.body.data.password_hash).toBeUndefined();
    await db.query('UPDATE users SET must_change_password = true WHERE id = $1', [user.id]);
    expect((await call(`${base}/api/v1/auth/me`, { token })).body.data.must_change_password).toBe(true);
  });

  it('refuses missing, malformed and foreign tokens with 401 and WWW-Authenticate', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer' },
      { authorization: 'Basic YTpi' },
      { authorization: 'Bearer not.a.jwt' },
    ] as Record<string, string>[]) {
      const res = await call(`${base}/api/v1/auth/me`, { headers });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ status: 'error', message: 'missing or invalid authorization header' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('changes the password: rules, new token, every older token refused', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant, { password: 'original-password-1' });
    const first = (await login({ email: user.email, password: 'original-password-1' })).body.data.token as string;
    const second = (await login({ email: user.email, password: 'original-password-1' })).body.data.token as string;
    const change = (json: unknown, token = first) =>
      call(`${base}/api/v1/auth/me/password`, { method: 'POST', token, json });

    expect(await change({ current_password: 'wrong', new_password: 'brand-new-password-1' })).toMatchObject({
      status: 401,
      body: { message: 'invalid credentials' },
    });
    expect(await change({ current_password: 'original-password-1', new_password: 'short' })).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/at least 12/) },
    });
    expect(
      await change({ current_password: 'original-password-1', new_password: 'original-password-1' }),
    ).toMatchObject({ status: 400, body: { message: expect.stringMatching(/differ/) } });
    expect(await change({ current_password: 'original-password-1', new_password: 'password1234' })).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/common/) },
    });
    expect(await change({ current_password: 'original-password-1', new_password: 'x'.repeat(257) })).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/at most 256/) },
    });
    expect(
      (await change({ current_password: 'original-password-1', new_password: 'brand-new-password-1', extra: 1 }))
        .status,
    ).toBe(400);

    const ok = await change({ current_password: 'original-password-1', new_password: 'brand-new-password-1' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    const fresh = ok.body.data.token as string;
    expect(fresh).not.toBe(first);
    expect((await call(`${base}/api/v1/auth/me`, { token: first })).status).toBe(401);
    expect((await call(`${base}/api/v1/auth/me`, { token: second })).status).toBe(401);
    expect((await call(`${base}/api/v1/auth/me`, { token: fresh })).status).toBe(200);
    expect((await login({ email: user.email, password: 'original-password-1' })).status).toBe(401);
    expect((await login({ email: user.email, password: 'brand-new-password-1' })).status).toBe(200);
  });

  it('counts wrong current passwords toward the lockout', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const token = (await login({ email: user.email, password: user.password })).body.data.token as string;
    for (let i = 0; i < 10; i++) {
      const r = await call(`${base}/api/v1/auth/me/password`, {
        method: 'POST',
        token,
        json: { current_password: `bad-${i}`, new_password: 'another-long-password' },
      });
      expect(r.status).toBe(401);
    }
    expect((await login({ email: user.email, password: user.password })).status).toBe(403);
  });

  it('logout revokes exactly that token', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const a = (await login({ email: user.email, password: user.password })).body.data.token as string;
    const b = (await login({ email: user.email, password: user.password })).body.data.token as string;
    const out = await call(`${base}/api/v1/auth/logout`, { method: 'POST', token: a });
    expect(out.status).toBe(200);
    expect(out.body.status).toBe('success');
    expect((await call(`${base}/api/v1/auth/me`, { token: a })).status).toBe(401);
    expect((await call(`${base}/api/v1/auth/logout`, { method: 'POST', token: a })).status).toBe(401);
    expect((await call(`${base}/api/v1/auth/me`, { token: b })).status).toBe(200);
    // The audit row is written after the response (the request never waits for it).
    const logouts = async () =>
      (
        await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM auth_events WHERE user_id = $1 AND event = 'logout'",
          [user.id],
        )
      ).rows[0]!.n;
    await waitFor(async () => (await logouts()) > 0, { what: 'the logout audit row' });
    expect(await logouts()).toBe(1);
  });

  it('confines a must_change_password user to me, me/password and logout', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant, { mustChangePassword: true, password: 'temporary-password-1' });
    const res = await login({ email: user.email, password: 'temporary-password-1' });
    expect(res.body.data.user.must_change_password).toBe(true);
    const token = res.body.data.token as string;
    expect(await call(`${base}/api/v1/calls`, { token })).toMatchObject({
      status: 403,
      body: { message: 'password change required' },
    });
    expect((await call(`${base}/api/v1/auth/me`, { token })).status).toBe(200);
    const changed = await call(`${base}/api/v1/auth/me/password`, {
      method: 'POST',
      token,
      json: { current_password: 'temporary-password-1', new_password: 'permanent-password-1' },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.data.user.must_change_password).toBe(false);
    // Authorized now: the request goes upstream (nothing listens there → 502).
    expect((await call(`${base}/api/v1/calls`, { token: changed.body.data.token })).status).toBe(502);
  });

  it('writes audit events for success, failure and lockout', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    await login({ email: user.email, password: user.password });
    for (let i = 0; i < 10; i++) await login({ email: user.email, password: 'wrong' });
    // Audit rows are written after the responses: wait until the last one is in.
    const counts = async () => {
      const { rows } = await db.query<{ event: string; n: number }>(
        'SELECT event, count(*)::int AS n FROM auth_events WHERE user_id = $1 GROUP BY event',
        [user.id],
      );
      return Object.fromEntries(rows.map((r) => [r.event, r.n]));
    };
    await waitFor(async () => (await counts()).lockout === 1, { what: 'the lockout audit row' });
    await waitFor(async () => (await counts()).login_failure === 10, { what: 'ten login_failure rows' });
    expect(await counts()).toMatchObject({ login_success: 1, login_failure: 10, lockout: 1 });
  });
});

describe('request authentication and tenant scope (docs/api.md)', () => {
  let agentToken: string;
  let adminToken: string;
  let tenantId: string;

  beforeAll(async () => {
    const tenant = await makeTenant(db);
    tenantId = tenant.id;
    const agent = await makeUser(db, tenant);
    agentToken = (await login({ email: agent.email, password: agent.password })).body.data.token;
    const platform = await platformTenant(db);
    const admin = await makeUser(db, platform, { role: 'platform_admin' });
    adminToken = (await login({ email: admin.email, password: admin.password, tenant_domain: platform.domain })).body
      .data.token;
  });

  it('requires a bearer token on every /api/v1 route; ?token= is not honoured outside WebSockets', async () => {
    expect((await call(`${base}/api/v1/calls`)).status).toBe(401);
    expect((await call(`${base}/api/v1/calls?token=${agentToken}`)).status).toBe(401);
    expect((await call(`${base}/api/v1/calls`, { token: agentToken })).status).toBe(502);
  });

  it('confines other roles to their own tenant', async () => {
    const other = await makeTenant(db);
    expect(await call(`${base}/api/v1/calls?tenant_id=${other.id}`, { token: agentToken })).toMatchObject({
      status: 403,
      body: { message: 'forbidden' },
    });
    expect((await call(`${base}/api/v1/calls?tenant_id=${tenantId}`, { token: agentToken })).status).toBe(502);
    expect(
      (await call(`${base}/api/v1/calls?tenant_id=${tenantId}&tenant_id=${other.id}`, { token: agentToken })).status,
    ).toBe(400);
    expect((await call(`${base}/api/v1/calls?tenant%5Fid=${other.id}`, { token: agentToken })).status).toBe(403);
  });

  it('lets a platform admin act in an existing tenant by UUID', async () => {
    expect((await call(`${base}/api/v1/calls?tenant_id=${tenantId}`, { token: adminToken })).status).toBe(502);
    expect((await call(`${base}/api/v1/calls?tenant_id=not-a-uuid`, { token: adminToken })).status).toBe(400);
    expect(
      (await call(`${base}/api/v1/calls?tenant_id=00000000-0000-4000-8000-000000000000`, { token: adminToken })).status,
    ).toBe(404);
    expect(
      (await call(`${base}/api/v1/calls?tenant_id=${tenantId}&tenant_id=${tenantId}`, { token: adminToken })).status,
    ).toBe(400);
  });

  it('answers 404 for unknown paths and 405 with Allow for wrong methods', async () => {
    expect(await call(`${base}/nope`)).toMatchObject({ status: 404, body: { status: 'error', message: 'not found' } });
    const wrong = await call(`${base}/api/v1/auth/login`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });
});

describe('per-IP throttle and bootstrap', () => {
  it('answers 429 with Retry-After after too many failures from one IP', async () => {
    const g = await spawnGateway('auth:ip', {
      AUTH_JWT_SECRET: SECRET,
      AUTH_LOGIN_IP_LIMIT: '3',
      LOG_LEVEL: 'warn',
    });
    try {
      for (let i = 0; i < 3; i++)
        expect(
          (await call(`${g.url}/api/v1/auth/login`, { method: 'POST', json: { email: `x${i}@y.test`, password: 'p' } }))
            .status,
        ).toBe(401);
      const res = await call(`${g.url}/api/v1/auth/login`, {
        method: 'POST',
        json: { email: 'z@y.test', password: 'p' },
      });
      expect(res).toMatchObject({ status: 429, body: { status: 'error', message: 'too many requests' } });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await g.stop();
    }
  });

  it('bootstrap is 404 unless configured', async () => {
    expect((await call(`${base}/api/v1/auth/bootstrap`, { method: 'POST', json: {} })).status).toBe(404);
  });

  it('bootstrap creates the Platform tenant and first platform_admin once, then 409', async () => {
    const admin = inject('postgresAdminUrl');
    const url = await createDatabase(admin);
    const fresh = createPg({ url, poolSize: 2 });
    await migrate(fresh);
    const g = await spawnGateway('auth:boot', {
      DATABASE_URL: url,
      AUTH_JWT_SECRET: SECRET,
      AUTH_BOOTSTRAP_TOKEN: 'bootstrap-token-123456',
      AUTH_LOGIN_IP_LIMIT: '3',
      LOG_LEVEL: 'warn',
    });
    try {
      const body = { email: 'root@platform.test', password: 'platform-root-password' };
      const post = (token?: string) =>
        call(`${g.url}/api/v1/auth/bootstrap`, {
          method: 'POST',
          json: body,
          headers: token ? { 'x-bootstrap-token': token } : {},
        });
      expect((await post()).status).toBe(401);
      expect((await post('wrong-token')).status).toBe(401);
      const created = await post('bootstrap-token-123456');
      expect(created.status).toBe(201);
      expect(created.body.data.user).toMatchObject({ email: 'root@platform.test', role: 'platform_admin' });
      expect(await post('bootstrap-token-123456')).toMatchObject({ status: 409, body: { status: 'error' } });
      const signedIn = await call(`${g.url}/api/v1/auth/login`, { method: 'POST', json: body });
      expect(signedIn.body.data.user.role).toBe('platform_admin');
      const bootstraps = async () =>
        (await fresh.query<{ n: number }>("SELECT count(*)::int AS n FROM auth_events WHERE event = 'bootstrap'"))
          .rows[0]!.n;
      await waitFor(async () => (await bootstraps()) > 0, { what: 'the bootstrap audit row' });
      expect(await bootstraps()).toBe(1);
      // Wrong bootstrap tokens count toward the per-IP failure throttle: the third → 429 after.
      expect((await post('wrong-token-again')).status).toBe(401);
      const throttled = await post('bootstrap-token-123456');
      expect(throttled.status).toBe(429);
      expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await g.stop();
      await fresh.close();
      await dropDatabase(admin, url);
    }
  });
});

describe('legacy hashes and revocation reach', () => {
  it('verifies a legacy bcrypt hash and rehashes it to argon2id on login', async () => {
    const tenant = await makeTenant(db);
    const legacy = bcrypt.hashSync('legacy-bcrypt-password', 4).replace(/^\$2b\$/, '$2y$');
    const user = await makeUser(db, tenant, { passwordHash: legacy });
    expect((await login({ email: user.email, password: 'legacy-bcrypt-password' })).status).toBe(200);
    const { rows } = await db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [
      user.id,
    ]);
    expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$/);
    expect((await login({ email: user.email, password: 'legacy-bcrypt-password' })).status).toBe(200);
  });

  it("refuses a disabled user's token on proxied routes within 5 s", async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const token = (await login({ email: user.email, password: user.password })).body.data.token as string;
    expect((await call(`${base}/api/v1/calls`, { token })).status).toBe(502);
    await createUserStore(db).setStatus(user.id, 'disabled');
    const start = Date.now();
    let status = 0;
    while (Date.now() - start < 6000) {
      status = (await call(`${base}/api/v1/calls`, { token })).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(401);
    expect(Date.now() - start).toBeLessThan(5000);
  });
});
