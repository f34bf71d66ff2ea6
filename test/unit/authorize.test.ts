/**
 * The authorizer of proxied routes, in process behind the default route table: user routes by
 * Bearer token, node routes by API key, public routes open; roles per route; nothing reaches the
 * upstream unless authorized.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEnrollmentToken } from '../../gateway/auth/node-keys.js';
import { startApp, tokenFor, type TestApp, fastUser } from '../helpers/app.js';
import { call, makeTenant } from '../helpers/fixtures.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';
import type { Tenant } from '../../gateway/store/tenants.js';
import { createNodeStore } from '../../gateway/store/nodes.js';

let t: TestApp;
let upstream: TestUpstream;
let tenant: Tenant;
let agentToken: string;
let supervisorToken: string;

beforeAll(async () => {
  upstream = await startTestUpstream();
  t = await startApp({ env: { UPSTREAM_URL: upstream.url, AUTH_LOGIN_IP_LIMIT: '3' } });
  tenant = await makeTenant(t.db);
  agentToken = await tokenFor(t, await fastUser(t.db, tenant, { role: 'agent' }));
  supervisorToken = await tokenFor(t, await fastUser(t.db, tenant, { role: 'supervisor' }));
});
afterAll(async () => {
  await t?.close();
  await upstream?.stop();
});

const reached = (path: string) => upstream.received.some((r) => r.path === path);

describe('user routes', () => {
  it('a valid token reaches the upstream', async () => {
    const r = await call(`${t.url}/api/v1/calls/1`, { token: agentToken });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, path: '/api/v1/calls/1' });
  });

  it.each([
    ['no header', {}],
    ['a garbage token', { authorization: 'Bearer not.a.jwt' }],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['an empty Bearer', { authorization: 'Bearer ' }],
    ['a huge header value', { authorization: `Bearer ${'a'.repeat(6000)}` }],
  ])('%s → 401, never upstream', async (_name, headers) => {
    const path = `/api/v1/u401-${Math.random().toString(36).slice(2)}`;
    const r = await call(t.url + path, { headers });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ status: 'error', message: 'missing or invalid authorization header' });
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(reached(path)).toBe(false);
  });

  it('a token whose expiry passed on the clock → 401', async () => {
    const token = await tokenFor(t, await fastUser(t.db, tenant));
    t.clock.advance(13 * 3600 * 1000);
    try {
      expect((await call(`${t.url}/api/v1/x`, { token })).status).toBe(401);
    } finally {
      t.clock.advance(-13 * 3600 * 1000);
    }
  });

  it('must_change_password → 403 on proxied routes', async () => {
    const token = await tokenFor(t, await fastUser(t.db, tenant, { mustChangePassword: true }));
    const r = await call(`${t.url}/api/v1/x`, { token });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ status: 'error', message: 'password change required' });
  });

  it('?token= on an HTTP route is no credential', async () => {
    expect((await call(`${t.url}/api/v1/x?token=${agentToken}`)).status).toBe(401);
  });

  it('?token= or ?ticket= on a plain request to a WebSocket route → 400', async () => {
    expect((await call(`${t.url}/ws/agent?token=${agentToken}`)).status).toBe(400);
    expect((await call(`${t.url}/ws/agent?ticket=g2dt_x`)).status).toBe(400);
  });

  it('route roles: an agent may not open the supervisor route, a supervisor may', async () => {
    const denied = await call(`${t.url}/ws/supervisor/x`, { token: agentToken });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({ status: 'error', message: 'forbidden' });
    expect((await call(`${t.url}/ws/supervisor/x`, { token: supervisorToken })).status).toBe(200);
  });
});

describe('public and node routes', () => {
  it('a public route needs nothing', async () => {
    expect((await call(`${t.url}/api/v1/edge/health`)).status).toBe(200);
  });

  it("a user's JWT on a node route is refused without counting toward the IP throttle", async () => {
    for (let i = 0; i < 5; i++) expect((await call(`${t.url}/api/v1/edge/x`, { token: agentToken })).status).toBe(401);
  });

  it('a registered node key reaches the upstream; unknown keys → 401, then 429 past AUTH_LOGIN_IP_LIMIT', async () => {
    const enrollment = generateEnrollmentToken();
    await createNodeStore(t.db).createEnrollment({
      tenantId: tenant.id,
      name: 'edge-a',
      tokenHash: enrollment.hash,
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    const reg = await call(`${t.url}/api/v1/nodes/register`, {
      method: 'POST',
      json: { enrollment_token: enrollment.rawToken },
    });
    expect(reg.status).toBe(201);
    const key = reg.body.data.api_key as string;
    expect((await call(`${t.url}/api/v1/edge/calls`, { token: key })).status).toBe(200);

    const wrong = `g2dn_${'A'.repeat(43)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(`${t.url}/api/v1/edge/calls`, { token: wrong })).status);
    expect(statuses.slice(0, 2)).toEqual([401, 401]);
    expect(statuses.at(-1)).toBe(429);
  });
});
