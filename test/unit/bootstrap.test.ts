/** POST /api/v1/auth/bootstrap in process: first platform admin once, behind AUTH_BOOTSTRAP_TOKEN. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, tokenFor, type TestApp } from '../helpers/app.js';
import { call } from '../helpers/fixtures.js';

let t: TestApp;
const BOOTSTRAP = '/api/v1/auth/bootstrap';
const TOKEN = 'bootstrap-token-0123456789abcdef';

beforeAll(async () => {
  t = await startApp({ env: { AUTH_BOOTSTRAP_TOKEN: TOKEN, AUTH_LOGIN_IP_LIMIT: '3' } });
});
afterAll(() => t?.close());

const bootstrap = (json: unknown, token: string | null = TOKEN) =>
  call(t.url + BOOTSTRAP, { method: 'POST', json, headers: token === null ? {} : { 'x-bootstrap-token': token } });

describe('bootstrap', () => {
  it('refuses bad input with 400 before creating anything', async () => {
    expect((await bootstrap({ email: 'not-an-email', password: 'a-good-long-passphrase-1' })).status).toBe(400);
    const weak = await bootstrap({ email: 'root@example.test', password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.body.message).toContain('new password');
    expect(
      (await bootstrap({ email: 'root@example.test', password: 'a-good-long-passphrase-1', extra: 1 })).status,
    ).toBe(400);
    expect(
      (await call(t.url + BOOTSTRAP, { method: 'POST', body: '{}', headers: { 'x-bootstrap-token': TOKEN } })).status,
    ).toBe(415);
  });

  it('creates the Platform tenant and the first platform_admin, who can log in', async () => {
    const r = await bootstrap({
      email: ' Root@Example.test ',
      password: 'a-good-long-passphrase-1',
      tenant_domain: 'platform.example.test',
    });
    expect(r.status).toBe(201);
    expect(r.body.data.tenant).toMatchObject({ domain: 'platform.example.test', name: 'Platform' });
    expect(r.body.data.user).toMatchObject({ email: 'root@example.test', role: 'platform_admin' });
    expect(await tokenFor(t, { email: 'root@example.test', password: 'a-good-long-passphrase-1' })).toBeTruthy();
  });

  it('answers 409 once a platform admin exists', async () => {
    const r = await bootstrap({ email: 'second@example.test', password: 'a-good-long-passphrase-2' });
    expect(r.status).toBe(409);
    expect(r.body).toEqual({ status: 'error', message: 'already bootstrapped' });
  });

  it('a missing or wrong token → 401, then 429 past the per-IP limit', async () => {
    const body = { email: 'x@example.test', password: 'a-good-long-passphrase-3' };
    expect((await bootstrap(body, null)).status).toBe(401);
    expect((await bootstrap(body, 'wrong')).status).toBe(401);
    expect((await bootstrap(body, TOKEN.slice(0, -1) + 'X')).status).toBe(401);
    const throttled = await bootstrap(body, 'wrong');
    expect(throttled.status).toBe(429);
    expect(throttled.body).toEqual({ status: 'error', message: 'too many requests' });
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('bootstrap without AUTH_BOOTSTRAP_TOKEN', () => {
  it('does not exist: 404', async () => {
    const other = await startApp({ database: 'shared' });
    try {
      const r = await call(other.url + BOOTSTRAP, {
        method: 'POST',
        json: {},
        headers: { 'x-bootstrap-token': TOKEN },
      });
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ status: 'error', message: 'not found' });
    } finally {
      await other.close();
    }
  });
});
