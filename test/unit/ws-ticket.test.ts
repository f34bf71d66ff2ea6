/** POST /api/v1/auth/ws-ticket in process: a single-use ticket for one WebSocket, bound to a tenant. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { TICKET_RE } from '../../gateway/auth/ws-tickets.js';
import type { Tenant } from '../../gateway/store/tenants.js';
import { startApp, tokenFor, type TestApp, fastUser } from '../helpers/app.js';
import { call, makeTenant, platformTenant } from '../helpers/fixtures.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

let t: TestApp;
let upstream: TestUpstream;
let tenant: Tenant;
let token: string;
const TICKET = '/api/v1/auth/ws-ticket';

beforeAll(async () => {
  upstream = await startTestUpstream();
  t = await startApp({ env: { UPSTREAM_URL: upstream.url, WS_TICKET_TTL_SECONDS: '10' } });
  tenant = await makeTenant(t.db);
  token = await tokenFor(t, await fastUser(t.db, tenant));
});
afterAll(async () => {
  await t?.close();
  await upstream?.stop();
});

/** Opens ws://…/ws/agent?ticket=…; resolves with 'open' or the refusal status. */
function open(query: string): Promise<'open' | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/ws/agent?${query}`);
    ws.once('open', () => {
      ws.close();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', () => undefined);
  });
}

const issue = async (path = TICKET, tk = token) => call(t.url + path, { method: 'POST', token: tk });

describe('ws-ticket', () => {
  it('issues a ticket that opens one WebSocket, once', async () => {
    const r = await issue();
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body.data.ticket).toMatch(TICKET_RE);
    expect(Date.parse(r.body.data.expires_at)).toBeGreaterThan(Date.now());
    expect(await open(`ticket=${r.body.data.ticket}`)).toBe('open');
    expect(await open(`ticket=${r.body.data.ticket}`)).toBe(401);
  });

  it('a ticket past its TTL on the clock → 401', async () => {
    const { ticket } = (await issue()).body.data;
    t.clock.advance(11_000);
    expect(await open(`ticket=${ticket}`)).toBe(401);
  });

  it('a ticket beside a token is ambiguous → 400', async () => {
    const { ticket } = (await issue()).body.data;
    expect(await open(`ticket=${ticket}&token=${token}`)).toBe(400);
  });

  it('no token → 401; a must-change-password token → 403', async () => {
    expect((await call(t.url + TICKET, { method: 'POST' })).status).toBe(401);
    const pending = await tokenFor(t, await fastUser(t.db, tenant, { mustChangePassword: true }));
    const r = await issue(TICKET, pending);
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ status: 'error', message: 'password change required' });
  });

  it('tenant_id follows the tenant-scope rules', async () => {
    const other = await makeTenant(t.db);
    expect((await issue(`${TICKET}?tenant_id=${other.id}`)).status).toBe(403);
    const admin = await tokenFor(t, await fastUser(t.db, await platformTenant(t.db), { role: 'platform_admin' }));
    expect((await issue(`${TICKET}?tenant_id=${other.id}`, admin)).status).toBe(200);
    expect((await issue(`${TICKET}?tenant_id=nope`, admin)).status).toBe(400);
  });

  it('a body is discarded, GET → 405', async () => {
    expect(
      (
        await call(t.url + TICKET, {
          method: 'POST',
          token,
          body: 'x'.repeat(10_000),
          headers: { 'content-type': 'text/plain' },
        })
      ).status,
    ).toBe(200);
    expect((await call(t.url + TICKET, { token })).status).toBe(405);
  });
});
