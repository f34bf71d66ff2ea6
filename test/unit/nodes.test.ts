/** Node registration and key rotation routes in process (docs/edge-nodes.md). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEnrollmentToken, NODE_KEY_RE } from '../../gateway/auth/node-keys.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import type { Tenant } from '../../gateway/store/tenants.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { call, makeTenant } from '../helpers/fixtures.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

let t: TestApp;
let upstream: TestUpstream;
let tenant: Tenant;
const REGISTER = '/api/v1/nodes/register';
const ROTATE = '/api/v1/nodes/rotate-key';

beforeAll(async () => {
  upstream = await startTestUpstream();
  t = await startApp({ env: { UPSTREAM_URL: upstream.url, NODE_KEY_ROTATION_GRACE_SECONDS: '60' } });
  tenant = await makeTenant(t.db);
});
afterAll(async () => {
  await t?.close();
  await upstream?.stop();
});

async function enrollment(name = `edge-${Math.random().toString(36).slice(2, 8)}`, expiresInMs = 3_600_000) {
  const e = generateEnrollmentToken();
  await createNodeStore(t.db).createEnrollment({
    tenantId: tenant.id,
    name,
    tokenHash: e.hash,
    expiresAt: new Date(Date.now() + expiresInMs),
  });
  return { token: e.rawToken, name };
}

const register = (json: unknown) => call(t.url + REGISTER, { method: 'POST', json });

describe('register', () => {
  it('redeems an enrollment once: 201 with a key, then 401', async () => {
    const { token, name } = await enrollment();
    const r = await register({ enrollment_token: token, name: name.toUpperCase() });
    expect(r.status).toBe(201);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body.data).toMatchObject({ tenant_id: tenant.id, node_id: expect.any(String) });
    expect(r.body.data.api_key).toMatch(NODE_KEY_RE);
    const again = await register({ enrollment_token: token });
    expect(again.status).toBe(401);
    expect(again.body).toEqual({ status: 'error', message: 'invalid credentials' });
  });

  it('an expired enrollment → 401', async () => {
    const { token } = await enrollment(undefined, -1000);
    expect((await register({ enrollment_token: token })).status).toBe(401);
  });

  it('a name that differs from the enrollment → 409', async () => {
    const { token } = await enrollment('edge-right');
    const r = await register({ enrollment_token: token, name: 'edge-wrong' });
    expect(r.status).toBe(409);
    expect(r.body.status).toBe('error');
  });

  it.each([
    ['a malformed token', { enrollment_token: 'nope' }, 401],
    ['an empty name', { enrollment_token: `g2de_${'A'.repeat(43)}`, name: '  ' }, 400],
    ['a 201-character name', { enrollment_token: `g2de_${'A'.repeat(43)}`, name: 'n'.repeat(201) }, 400],
    ['a missing token', { name: 'x' }, 400],
    ['a number token', { enrollment_token: 5 }, 400],
  ])('%s → %i', async (_name, json, status) => {
    expect((await register(json)).status).toBe(status);
  });

  it('wrong content type → 415', async () => {
    expect(
      (await call(t.url + REGISTER, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })).status,
    ).toBe(415);
  });
});

describe('rotate-key', () => {
  async function nodeKey() {
    const { token } = await enrollment();
    return (await register({ enrollment_token: token })).body.data.api_key as string;
  }

  it('answers a new key; a retry with the previous key answers the same one; the new key retires the old', async () => {
    const old = await nodeKey();
    const first = await call(t.url + ROTATE, { method: 'POST', token: old });
    expect(first.status).toBe(200);
    const next = first.body.data.api_key as string;
    expect(next).toMatch(NODE_KEY_RE);
    expect(next).not.toBe(old);
    expect((await call(t.url + ROTATE, { method: 'POST', token: old })).body.data.api_key).toBe(next);
    expect((await call(`${t.url}/api/v1/edge/x`, { token: next })).status).toBe(200);
    expect((await call(`${t.url}/api/v1/edge/x`, { token: old })).status).toBe(401);
  });

  it('no key or an unknown key → 401', async () => {
    expect((await call(t.url + ROTATE, { method: 'POST' })).status).toBe(401);
    expect((await call(t.url + ROTATE, { method: 'POST', token: `g2dn_${'B'.repeat(43)}` })).status).toBe(401);
  });

  it('GET → 405', async () => {
    expect((await call(t.url + ROTATE)).status).toBe(405);
  });
});
