/**
 * The HTTP proxy in process, in front of a real upstream on port 0: identity headers injected and
 * spoofs stripped, hop-by-hop headers dropped, bodies streamed both ways, and upstream failures as
 * 502/504 envelopes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadPort, send } from '../helpers/proxy-env.js';
import { startApp, tokenFor, type TestApp, fastUser } from '../helpers/app.js';
import { call, makeTenant } from '../helpers/fixtures.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

let t: TestApp;
let upstream: TestUpstream;
let token: string;
let userId: string;

beforeAll(async () => {
  upstream = await startTestUpstream();
  const dead = await deadPort();
  t = await startApp({
    env: { UPSTREAM_TIMEOUT_MS: '500' },
    routes: [
      { prefix: '/dead', upstream: `http://127.0.0.1:${dead}`, auth: 'public' },
      { prefix: '/pub', upstream: upstream.url, auth: 'public' },
      { prefix: '/api/v1', upstream: upstream.url, auth: 'user' },
    ],
  });
  const user = await fastUser(t.db, await makeTenant(t.db), { role: 'agent' });
  userId = user.id;
  token = await tokenFor(t, user);
});
afterAll(async () => {
  await t?.close();
  await upstream?.stop();
});

const last = () => upstream.received.at(-1)!;

describe('createHttpProxy', () => {
  it('forwards path and query as sent, with a signed identity and the request id', async () => {
    const r = await call(`${t.url}/api/v1/items/7?b=2&a=%20`, {
      token,
      headers: { 'x-request-id': 'client-req-0001' },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toBe('client-req-0001');
    const h = last().headers;
    expect(last().path).toBe('/api/v1/items/7');
    expect(h['x-g2d-user-id']).toBe(userId);
    expect(h['x-g2d-role']).toBe('agent');
    expect(typeof h['x-g2d-identity']).toBe('string');
    expect(h['x-request-id']).toBe('client-req-0001');
  });

  it('strips identity headers a client tries to send, in every spelling', async () => {
    await send(`${t.url}/api/v1/spoof`, {
      headers: {
        authorization: `Bearer ${token}`,
        'X-G2D-Role': 'platform_admin',
        x_g2d_tenant_id: 'evil',
        'X-g2d_User-Id': 'someone',
      },
    });
    const h = last().headers;
    expect(h['x-g2d-role']).toBe('agent');
    expect(h['x-g2d-user-id']).toBe(userId);
    expect(h).not.toHaveProperty('x_g2d_tenant_id');
    expect(JSON.stringify(h)).not.toContain('evil');
  });

  it('drops hop-by-hop headers and those Connection nominates', async () => {
    await send(`${t.url}/pub/hop`, {
      headers: {
        connection: 'close, x-secret-hop',
        'x-secret-hop': '1',
        te: 'trailers',
        'proxy-authorization': 'Basic x',
        'x-kept': 'yes',
      },
    });
    const h = last().headers;
    expect(h['x-kept']).toBe('yes');
    expect(h).not.toHaveProperty('x-secret-hop');
    expect(h).not.toHaveProperty('proxy-authorization');
  });

  it('public routes carry a public identity, never a user', async () => {
    await call(`${t.url}/pub/x`, { token });
    expect(last().headers['x-g2d-auth']).toBe('public');
    expect(last().headers).not.toHaveProperty('x-g2d-user-id');
  });

  it('streams a request body upstream', async () => {
    const r = await send(`${t.url}/pub/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'x'.repeat(200_000),
    });
    expect(r.status).toBe(200);
  });

  it('an unreachable upstream → 502 envelope', async () => {
    const r = await call(`${t.url}/dead/x`);
    expect(r.status).toBe(502);
    expect(r.body).toEqual({ status: 'error', message: 'bad gateway' });
  });

  it('an upstream slower than UPSTREAM_TIMEOUT_MS → 504 envelope', async () => {
    const r = await call(`${t.url}/pub/stall`);
    expect(r.status).toBe(504);
    expect(r.body).toEqual({ status: 'error', message: 'gateway timeout' });
  });

  it('an upstream dying mid-body cuts the response, never a 200 that looks whole', async () => {
    const outcome = await send(`${t.url}/pub/die`).then(
      (r) => (r.body.length < 1000 ? 'short' : 'whole'),
      () => 'cut',
    );
    expect(outcome).not.toBe('whole');
  });
});
