/**
 * WebSocket tickets end to end (docs/api.md, "WebSocket tickets"): the in-process gateway (real
 * Postgres and Redis) in front of the verifying stub. A ticket opens one socket, once, for the user,
 * session and tenant it was issued for; it never reaches the upstream; the socket then lives and
 * dies with the access token that obtained the ticket. WS_QUERY_TOKEN=off refuses `?token=`.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { createTokenService } from '../../gateway/auth/tokens.js';
import { createPg } from '../../gateway/store/pg.js';
import { createUserStore } from '../../gateway/store/users.js';
import { call, makeTenant, makeUser, platformTenant } from '../helpers/fixtures.js';
import { JWT_SECRET, send, startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
const ROUTES = [
  { prefix: '/api/v1', upstream: '{STUB}', auth: 'user' },
  {
    prefix: '/ws/supervisor',
    upstream: '{STUB}',
    auth: 'user',
    websocket: true,
    roles: ['supervisor', 'admin', 'platform_admin'],
  },
  { prefix: '/ws/agent', upstream: '{STUB}', auth: 'user', websocket: true },
];
let env: ProxyEnv;
/** WS_QUERY_TOKEN=off and 1 s tickets. */
let strict: ProxyEnv;

beforeAll(async () => {
  [env, strict] = await Promise.all([
    startProxyEnv(ROUTES, {}, 'ws-tickets'),
    startProxyEnv(ROUTES, { WS_QUERY_TOKEN: 'off', WS_TICKET_TTL_SECONDS: '1' }, 'ws-tickets-strict'),
  ]);
});

afterAll(async () => {
  await Promise.allSettled([env?.close(), strict?.close()]);
  await db.close();
});

async function loginAs(
  role: 'agent' | 'supervisor' | 'platform_admin' = 'agent',
  on = env,
  mustChangePassword = false,
) {
  const tenant = role === 'platform_admin' ? await platformTenant(db) : await makeTenant(db);
  const user = await makeUser(db, tenant, { role, mustChangePassword });
  const res = await call(`${on.base}/api/v1/auth/login`, {
    method: 'POST',
    json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
  });
  expect(res.status).toBe(200);
  return { tenant, user, token: res.body.data.token as string };
}

const ticketFor = (token: string, query = '', on = env) =>
  call(`${on.base}/api/v1/auth/ws-ticket${query}`, { method: 'POST', token });
async function ticket(token: string, query = '', on = env): Promise<string> {
  const res = await ticketFor(token, query, on);
  expect(res.status).toBe(200);
  return res.body.data.ticket as string;
}

/** Opens a socket; rejects with `status N` when the gateway refuses the upgrade. */
function connectWs(path: string, on = env, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(`${on.base.replace('http', 'ws')}${path}`, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      reject(new Error(`status ${res.statusCode}`));
    });
  });
}
/** The status of an upgrade attempt: 101 (then closed at once) or the refusal's status. */
async function upgradeStatus(path: string, on = env, headers: Record<string, string> = {}): Promise<number> {
  try {
    const ws = await connectWs(path, on, headers);
    ws.terminate();
    return 101;
  } catch (err) {
    const m = /status (\d{3})/.exec((err as Error).message);
    if (!m) throw err;
    return Number(m[1]);
  }
}
const next = (ws: WebSocket) =>
  new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
const closed = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );

describe('POST /api/v1/auth/ws-ticket', () => {
  it('issues an opaque ticket valid for at most 30 s, no-store, stored in Redis only as a digest', async () => {
    const { token } = await loginAs();
    const before = Date.now();
    const res = await ticketFor(token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.data).toEqual({
      ticket: expect.stringMatching(/^g2dt_[A-Za-z0-9_-]{43}$/),
      expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    const expiresAt = Date.parse(res.body.data.expires_at);
    expect(expiresAt).toBeGreaterThan(before);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30_000);
    const redis = new Redis(inject('redisUrl'));
    try {
      const prefix = env.app.config.redis.keyPrefix;
      const digest = createHash('sha256').update(res.body.data.ticket).digest('hex');
      expect(await redis.exists(`${prefix}wst:${digest}`)).toBe(1);
      const ttl = await redis.ttl(`${prefix}wst:${digest}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(30);
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.join('\n')).not.toContain(res.body.data.ticket);
    } finally {
      redis.disconnect();
    }
  });

  it('needs a valid access token in the Authorization header; POST only; password change first', async () => {
    expect((await call(`${env.base}/api/v1/auth/ws-ticket`, { method: 'POST' })).status).toBe(401);
    const { token } = await loginAs();
    expect((await call(`${env.base}/api/v1/auth/ws-ticket?token=${token}`, { method: 'POST' })).status).toBe(401);
    expect((await call(`${env.base}/api/v1/auth/ws-ticket`, { token })).status).toBe(405);
    const pending = await loginAs('agent', env, true);
    const refused = await ticketFor(pending.token);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ status: 'error', message: 'password change required' });
  });

  it('tenant scope as on proxied routes: a platform admin may name a tenant, anyone else only their own', async () => {
    const admin = await loginAs('platform_admin');
    const target = await makeTenant(db);
    const agent = await loginAs('agent');
    expect((await ticketFor(agent.token, `?tenant_id=${target.id}`)).status).toBe(403);
    expect((await ticketFor(agent.token, `?tenant_id=${agent.tenant.id}`)).status).toBe(200);
    expect((await ticketFor(admin.token, '?tenant_id=not-a-uuid')).status).toBe(400);
    expect((await ticketFor(admin.token, '?tenant_id=00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await ticketFor(admin.token, `?tenant_id=${target.id}&tenant_id=${target.id}`)).status).toBe(400);

    // The ticket carries the tenant decided at issue: the upstream sees it, and the admin's home tenant as acting.
    const ws = await connectWs(`/ws/supervisor/live?ticket=${await ticket(admin.token, `?tenant_id=${target.id}`)}`);
    ws.send('whoami');
    const who = JSON.parse(await next(ws));
    expect(who.identity).toMatchObject({
      kind: 'user',
      tenantId: target.id,
      actingTenantId: admin.tenant.id,
      userId: admin.user.id,
      role: 'platform_admin',
    });
    expect(who.headers['x-g2d-acting-tenant-id']).toBe(admin.tenant.id);
    ws.close();
    // An upgrade naming another tenant than the ticket's, under any spelling, is refused.
    const other = await makeTenant(db);
    expect(
      await upgradeStatus(
        `/ws/supervisor?ticket=${await ticket(admin.token, `?tenant_id=${target.id}`)}&tenant_id=${other.id}`,
      ),
    ).toBe(403);
    expect(await upgradeStatus(`/ws/supervisor?ticket=${await ticket(admin.token)}&TENANT_ID=${target.id}`)).toBe(403);
    expect(
      await upgradeStatus(
        `/ws/supervisor?ticket=${await ticket(admin.token, `?tenant_id=${target.id}`)}&tenant_id=${target.id}`,
      ),
    ).toBe(101);
  });
});

describe('/ws/*?ticket=', () => {
  it('authenticates the upgrade once; the ticket never goes upstream; a second use is 401', async () => {
    const { user, token } = await loginAs();
    const t = await ticket(token);
    const ws = await connectWs(`/ws/agent/stream?room=7&ticket=${t}`);
    ws.send('whoami');
    const who = JSON.parse(await next(ws));
    expect(who.identity).toMatchObject({ kind: 'user', userId: user.id, role: 'agent' });
    expect(who.url).toBe('/ws/agent/stream?room=7');
    expect(JSON.stringify(who)).not.toContain(t);
    expect(JSON.stringify(who)).not.toContain(token);
    ws.close();
    expect(await upgradeStatus(`/ws/agent/stream?ticket=${t}`)).toBe(401);
  });

  it('the parameter name is judged after percent-decoding, and the encoded spelling is stripped too', async () => {
    const { token } = await loginAs();
    const t = await ticket(token);
    const ws = await connectWs(`/ws/agent?%74icket=${t}&a=1`);
    ws.send('whoami');
    const who = JSON.parse(await next(ws));
    expect(who.url).toBe('/ws/agent?a=1');
    ws.close();
  });

  it('ambiguous credentials are refused with 400: two tickets, ticket with token, ticket with Authorization', async () => {
    const { token } = await loginAs();
    const [a, b] = [await ticket(token), await ticket(token)];
    expect(await upgradeStatus(`/ws/agent?ticket=${a}&ticket=${b}`)).toBe(400);
    expect(await upgradeStatus(`/ws/agent?ticket=${a}&token=${token}`)).toBe(400);
    expect(await upgradeStatus(`/ws/agent?ticket=${a}`, env, { authorization: `Bearer ${token}` })).toBe(400);
    // Basic credentials a browser adds by itself are no gateway credential: the ticket decides.
    expect(await upgradeStatus(`/ws/agent?ticket=${a}`, env, { authorization: 'Basic dXNlcjpwYXNz' })).toBe(101);
  });

  it('on a plain HTTP request to a WebSocket route a ticket is refused (400) and never forwarded', async () => {
    const { token } = await loginAs();
    const t = await ticket(token);
    const before = env.stub.received.length;
    const res = await send(`${env.base}/ws/agent/history?ticket=${t}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ status: 'error', message: 'ticket is accepted only on websocket upgrades' });
    expect(env.stub.received.length).toBe(before);
  });

  it('route roles still apply: an agent ticket cannot open /ws/supervisor', async () => {
    const { token } = await loginAs('agent');
    expect(await upgradeStatus(`/ws/supervisor?ticket=${await ticket(token)}`)).toBe(403);
  });

  it('junk, empty and huge tickets get 400/401, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.constantFrom(
            '',
            'g2dt_',
            `g2dt_${'A'.repeat(43)}`,
            `g2dt_${'A'.repeat(44)}`,
            `g2dt_${'!'.repeat(43)}`,
            'x'.repeat(6000),
            'eyJhbGciOiJIUzI1NiJ9.e30.x',
          ),
        ),
        async (junk) => {
          const status = await upgradeStatus(`/ws/agent?ticket=${encodeURIComponent(junk)}`);
          expect([400, 401]).toContain(status);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a ticket whose token was revoked (logout) before use → 401', async () => {
    const { token } = await loginAs();
    const t = await ticket(token);
    expect((await call(`${env.base}/api/v1/auth/logout`, { method: 'POST', token })).status).toBe(200);
    expect(await upgradeStatus(`/ws/agent?ticket=${t}`)).toBe(401);
  });

  it('a ticket whose user was disabled before use → 401 (within the 5 s status bound)', async () => {
    const { user, token } = await loginAs();
    const t = await ticket(token);
    await createUserStore(db).setStatus(user.id, 'disabled');
    await new Promise((r) => setTimeout(r, 5_000));
    expect(await upgradeStatus(`/ws/agent?ticket=${t}`)).toBe(401);
  }, 15_000);

  it('the ticket socket closes with 1008 when the access token is revoked (periodic re-check)', async () => {
    const { token } = await loginAs();
    const ws = await connectWs(`/ws/agent?ticket=${await ticket(token)}`);
    const done = closed(ws);
    expect((await call(`${env.base}/api/v1/auth/logout`, { method: 'POST', token })).status).toBe(200);
    expect((await done).code).toBe(1008);
  }, 20_000);

  it('the ticket socket closes with 1008 at the expiry of the access token that obtained the ticket', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const tokens = createTokenService({ ...env.app.config.jwt, secret: JWT_SECRET, ttlSeconds: 2 });
    const { token } = await tokens.mint({ userId: user.id, tenantId: tenant.id, email: user.email, role: 'agent' });
    const res = await ticketFor(token);
    // The ticket never outlives its token.
    expect(Date.parse(res.body.data.expires_at)).toBeLessThanOrEqual(Date.now() + 2_000);
    const ws = await connectWs(`/ws/agent?ticket=${res.body.data.ticket}`);
    expect(await closed(ws)).toEqual({ code: 1008, reason: 'token expired' });
  }, 10_000);
});

describe('WS_QUERY_TOKEN=off, WS_TICKET_TTL_SECONDS=1', () => {
  it('refuses ?token= on upgrades with 400; the Authorization header and tickets still work', async () => {
    const { token } = await loginAs('agent', strict);
    expect(await upgradeStatus(`/ws/agent?token=${token}`, strict)).toBe(400);
    expect(await upgradeStatus(`/ws/agent?%74oken=${token}`, strict)).toBe(400);
    expect(await upgradeStatus('/ws/agent', strict, { authorization: `Bearer ${token}` })).toBe(101);
    expect(await upgradeStatus(`/ws/agent?ticket=${await ticket(token, '', strict)}`, strict)).toBe(101);
  });

  it('an expired ticket → 401', async () => {
    const { token } = await loginAs('agent', strict);
    const res = await ticketFor(token, '', strict);
    expect(Date.parse(res.body.data.expires_at)).toBeLessThanOrEqual(Date.now() + 1_000);
    await new Promise((r) => setTimeout(r, 1_300));
    expect(await upgradeStatus(`/ws/agent?ticket=${res.body.data.ticket}`, strict)).toBe(401);
  });
});
