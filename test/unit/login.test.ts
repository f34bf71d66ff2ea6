/** POST /api/v1/auth/login in process: answers, envelopes, bad input and lockout on a moved clock. */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserStore } from '../../gateway/store/users.js';
import { startApp, type TestApp, fastUser } from '../helpers/app.js';
import { call, makeTenant, uniq } from '../helpers/fixtures.js';
import type { Tenant } from '../../gateway/store/tenants.js';

let t: TestApp;
let tenant: Tenant;
const LOGIN = '/api/v1/auth/login';

beforeAll(async () => {
  t = await startApp({ env: { AUTH_LOCKOUT_MAX_ATTEMPTS: '3', AUTH_LOCKOUT_SECONDS: '60' } });
  tenant = await makeTenant(t.db);
});
afterAll(() => t?.close());

const login = (json: unknown, init: RequestInit = {}) => call(t.url + LOGIN, { method: 'POST', json, ...init });

describe('login', () => {
  it('answers a token and the public user, never cached', async () => {
    const u = await fastUser(t.db, tenant);
    const r = await login({ email: u.email, password: u.password, tenant_domain: tenant.domain });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('success');
    expect(r.body.data.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(r.body.data.user).toMatchObject({ id: u.id, email: u.email, role: 'agent' });
    expect(r.body.data.user).not.toHaveProperty('password_hash');
    expect(r.headers.get('cache-control')).toBe('no-store');
    const me = await call(`${t.url}/api/v1/auth/me`, { token: r.body.data.token });
    expect(me.status).toBe(200);
  });

  it('finds the tenant from the email alone', async () => {
    const u = await fastUser(t.db, tenant);
    expect((await login({ email: u.email.toUpperCase(), password: u.password })).status).toBe(200);
  });

  it('answers the same 401 for a wrong password, an unknown email and an unknown domain', async () => {
    const u = await fastUser(t.db, tenant);
    const answers = await Promise.all([
      login({ email: u.email, password: 'wrong-password' }),
      login({ email: `${uniq('nobody')}@example.test`, password: 'whatever' }),
      login({ email: u.email, password: u.password, tenant_domain: 'no-such-domain.test' }),
    ]);
    for (const r of answers) {
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ status: 'error', message: 'invalid credentials' });
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('refuses a disabled account with 403 account disabled', async () => {
    const u = await fastUser(t.db, tenant);
    await createUserStore(t.db).setStatus(u.id, 'disabled');
    const r = await login({ email: u.email, password: u.password, tenant_domain: tenant.domain });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ status: 'error', message: 'account disabled' });
  });

  it('locks after the configured failures and opens again when the clock passes the window', async () => {
    const u = await fastUser(t.db, tenant);
    for (let i = 0; i < 3; i++)
      expect((await login({ email: u.email, password: 'nope', tenant_domain: tenant.domain })).status).toBe(401);
    const locked = await login({ email: u.email, password: u.password, tenant_domain: tenant.domain });
    expect(locked.status).toBe(403);
    expect(locked.body).toEqual({ status: 'error', message: 'account temporarily locked' });
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    t.clock.advance(61_000);
    expect((await login({ email: u.email, password: u.password, tenant_domain: tenant.domain })).status).toBe(200);
  });
});

describe('login bad input', () => {
  const cases: [string, RequestInit, number, string][] = [
    ['no content type', { body: '{"email":"a@b.c","password":"x"}' }, 415, 'unsupported media type'],
    ['text/plain', { body: '{}', headers: { 'content-type': 'text/plain' } }, 415, 'unsupported media type'],
    [
      'gzip-coded JSON',
      { body: '{}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } },
      415,
      'unsupported media type',
    ],
    [
      'malformed JSON',
      { body: '{"email":', headers: { 'content-type': 'application/json' } },
      400,
      'invalid request body',
    ],
    ['an array', { body: '[]', headers: { 'content-type': 'application/json' } }, 400, 'invalid request body'],
    [
      'invalid UTF-8',
      {
        body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
        headers: { 'content-type': 'application/json' },
      },
      400,
      'invalid request body',
    ],
  ];
  for (const [name, init, status, message] of cases) {
    it(`${name} → ${status}`, async () => {
      const r = await call(t.url + LOGIN, { method: 'POST', ...init });
      expect(r.status).toBe(status);
      expect(r.body).toEqual({ status: 'error', message });
    });
  }

  const bodies: [string, unknown][] = [
    ['an unknown field', { email: 'a@b.c', password: 'x', admin: true }],
    ['a missing password', { email: 'a@b.c' }],
    ['a number for the email', { email: 42, password: 'x' }],
    ['NUL in the email', { email: 'a\u0000@b.c', password: 'x' }],
  ];
  for (const [name, json] of bodies) {
    it(`${name} → 400`, async () => {
      const r = await login(json);
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ status: 'error', message: 'invalid request body' });
    });
  }

  it('a body over 1 MB → 413', async () => {
    const r = await login({ email: 'a@b.c', password: 'x'.repeat(1024 * 1024 + 10) });
    expect(r.status).toBe(413);
    expect(r.body).toEqual({ status: 'error', message: 'request body too large' });
  });

  it('huge but well-formed credentials are an ordinary 401', async () => {
    const r = await login({ email: `${'a'.repeat(5000)}@b.c`, password: 'p'.repeat(100_000) });
    expect(r.status).toBe(401);
  });

  it('GET on the login path → 405 with Allow', async () => {
    const r = await call(t.url + LOGIN);
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
  });
});

describe('login under arbitrary input', () => {
  it('any body, any content type: a documented 4xx in the envelope, never a 5xx', async () => {
    const body = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record({
          email: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
          password: fc.oneof(fc.string(), fc.boolean()),
        })
        .map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a).toString('latin1')),
    );
    const type = fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      '',
    );
    await fc.assert(
      fc.asyncProperty(body, type, async (b, ct) => {
        const r = await call(t.url + LOGIN, { method: 'POST', body: b, headers: ct ? { 'content-type': ct } : {} });
        expect([400, 401, 403, 413, 415]).toContain(r.status);
        expect(r.body).toEqual({ status: 'error', message: expect.any(String) });
      }),
      { numRuns: 60 },
    );
  });
});
