/** The signed-in user's endpoints in process: GET me, POST me/password, POST logout. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserStore } from '../../gateway/store/users.js';
import type { Tenant } from '../../gateway/store/tenants.js';
import { startApp, tokenFor, type TestApp, fastUser } from '../helpers/app.js';
import { call, makeTenant } from '../helpers/fixtures.js';

let t: TestApp;
let tenant: Tenant;
const ME = '/api/v1/auth/me';
const PASSWORD = '/api/v1/auth/me/password';
const LOGOUT = '/api/v1/auth/logout';

beforeAll(async () => {
  t = await startApp({ env: { AUTH_LOCKOUT_MAX_ATTEMPTS: '2', AUTH_LOCKOUT_SECONDS: '60' } });
  tenant = await makeTenant(t.db);
});
afterAll(() => t?.close());

async function signedIn(options: { mustChangePassword?: boolean } = {}) {
  const user = await fastUser(t.db, tenant, options);
  return { user, token: await tokenFor(t, user) };
}

describe('GET me', () => {
  it('answers the user fresh from the database, not cached', async () => {
    const { user, token } = await signedIn();
    const r = await call(t.url + ME, { token });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({
      id: user.id,
      email: user.email,
      tenant_id: tenant.id,
      must_change_password: false,
    });
    expect(r.body.data).not.toHaveProperty('password_hash');
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  it('stays open while a password change is required', async () => {
    const { token } = await signedIn({ mustChangePassword: true });
    expect((await call(t.url + ME, { token })).body.data.must_change_password).toBe(true);
  });

  it('401 without a token, and once the user is disabled', async () => {
    expect((await call(t.url + ME)).status).toBe(401);
    const { user, token } = await signedIn();
    await createUserStore(t.db).setStatus(user.id, 'disabled');
    t.clock.advance(6_000);
    expect((await call(t.url + ME, { token })).status).toBe(401);
  });
});

describe('POST me/password', () => {
  it('changes the password: a new token works, every earlier one stops', async () => {
    const { user, token } = await signedIn();
    const next = 'a-much-better-passphrase-2026';
    const r = await call(t.url + PASSWORD, {
      method: 'POST',
      token,
      json: { current_password: user.password, new_password: next },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect((await call(t.url + ME, { token })).status).toBe(401);
    expect((await call(t.url + ME, { token: r.body.data.token })).status).toBe(200);
    expect(await tokenFor(t, { email: user.email, password: next })).toBeTruthy();
  });

  it('clears must_change_password', async () => {
    const { user, token } = await signedIn({ mustChangePassword: true });
    const r = await call(t.url + PASSWORD, {
      method: 'POST',
      token,
      json: { current_password: user.password, new_password: 'another-good-passphrase-9' },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.user.must_change_password).toBe(false);
  });

  it.each([
    ['too short', 'short', 'new password must be at least'],
    ['too common', 'password1234', 'new password is too common'],
  ])('policy: %s → 400 naming the rule', async (_name, next, message) => {
    const { user, token } = await signedIn();
    const r = await call(t.url + PASSWORD, {
      method: 'POST',
      token,
      json: { current_password: user.password, new_password: next },
    });
    expect(r.status).toBe(400);
    expect(r.body.status).toBe('error');
    expect(r.body.message).toContain(message);
  });

  it('the same password again → 400', async () => {
    const { user, token } = await signedIn();
    const r = await call(t.url + PASSWORD, {
      method: 'POST',
      token,
      json: { current_password: user.password, new_password: user.password },
    });
    expect(r.status).toBe(400);
  });

  it('a wrong current password is a 401 that counts toward the lockout', async () => {
    const { user, token } = await signedIn();
    const wrong = { current_password: 'not-it', new_password: 'a-fine-new-passphrase-1' };
    expect((await call(t.url + PASSWORD, { method: 'POST', token, json: wrong })).status).toBe(401);
    expect(
      (await call(t.url + PASSWORD, { method: 'POST', token, json: { ...wrong, current_password: 'x'.repeat(5000) } }))
        .status,
    ).toBe(401);
    const locked = await call(t.url + PASSWORD, {
      method: 'POST',
      token,
      json: { ...wrong, current_password: user.password },
    });
    expect(locked.status).toBe(403);
    expect(locked.body).toEqual({ status: 'error', message: 'account temporarily locked' });
  });

  it.each([
    ['a missing field', { current_password: 'x' }],
    ['an extra field', { current_password: 'x', new_password: 'y', role: 'admin' }],
    ['a wrong type', { current_password: 'x', new_password: 12345678 }],
  ])('%s → 400', async (_name, json) => {
    const { token } = await signedIn();
    const r = await call(t.url + PASSWORD, { method: 'POST', token, json });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ status: 'error', message: 'invalid request body' });
  });

  it('wrong content type → 415, no token → 401', async () => {
    const { token } = await signedIn();
    expect(
      (await call(t.url + PASSWORD, { method: 'POST', token, body: 'x', headers: { 'content-type': 'text/plain' } }))
        .status,
    ).toBe(415);
    expect((await call(t.url + PASSWORD, { method: 'POST', json: {} })).status).toBe(401);
  });
});

describe('POST logout', () => {
  it('revokes the presented token only', async () => {
    const { user, token } = await signedIn();
    const other = await tokenFor(t, user);
    const r = await call(t.url + LOGOUT, { method: 'POST', token });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'success', data: { logged_out: true } });
    expect((await call(t.url + ME, { token })).status).toBe(401);
    expect((await call(t.url + LOGOUT, { method: 'POST', token })).status).toBe(401);
    expect((await call(t.url + ME, { token: other })).status).toBe(200);
  });

  it('GET logout → 405 with Allow: POST', async () => {
    const r = await call(t.url + LOGOUT);
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('POST');
  });
});
