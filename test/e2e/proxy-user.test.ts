/**
 * docs/api.md end to end for authenticated traffic: real logins and node keys through the
 * in-process gateway to the verifying stub; WebSocket sockets closed 1008 on logout and expiry,
 * 1001 on shutdown.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { generateNodeKey } from '../../gateway/auth/node-keys.js';
import { createTokenService } from '../../gateway/auth/tokens.js';
import { createPg } from '../../gateway/store/pg.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import { call, makeTenant, makeUser, platformTenant, uniq } from '../helpers/fixtures.js';
import { JWT_SECRET, send, startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let env: ProxyEnv;
let wsBase: string;

beforeAll(async () => {
  env = await startProxyEnv(
    [
      { prefix: '/api/v1/nodes', upstream: '{STUB}', auth: 'node' },
      { prefix: '/api/v1/edge', upstream: '{STUB}', auth: 'node' },
      { prefix: '/api/v1', upstream: '{STUB}', auth: 'user' },
      {
        prefix: '/ws/supervisor',
        upstream: '{STUB}',
        auth: 'user',
        websocket: true,
        roles: ['supervisor', 'admin', 'platform_admin'],
      },
      { prefix: '/ws/agent', upstream: '{STUB}', auth: 'user', websocket: true },
    ],
    {},
    'proxy-user',
  );
  wsBase = env.base.replace('http', 'ws');
});

afterAll(async () => {
  await env?.close();
  await db.close();
});

async function loginAs(role: 'agent' | 'supervisor' | 'platform_admin' = 'agent') {
  const tenant = role === 'platform_admin' ? await platformTenant(db) : await makeTenant(db);
  const user = await makeUser(db, tenant, { role });
  const res = await call(`${env.base}/api/v1/auth/login`, {
    method: 'POST',
    json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
  });
  expect(res.status).toBe(200);
  return { tenant, user, token: res.body.data.token as string };
}

function connectWs(path: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(`${wsBase}${path}`, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}
const next = (ws: WebSocket) =>
  new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
const closed = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );

describe('user routes', () => {
  it('the stub sees the verified user; the bearer token never goes upstream', async () => {
    const { tenant, user, token } = await loginAs('supervisor');
    const res = await send(`${env.base}/api/v1/calls?limit=5`, {
      headers: { authorization: `Bearer ${token}`, 'x-g2d-tenant-id': 'evil' },
    });
    expect(res.status).toBe(200);
    expect(res.json.data.identity).toMatchObject({
      kind: 'user',
      tenantId: tenant.id,
      userId: user.id,
      email: user.email,
      role: 'supervisor',
    });
    const seen = res.json.data.headers;
    expect(seen.authorization).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain(token);
    expect(seen).toMatchObject({
      'x-g2d-auth': 'user',
      'x-g2d-tenant-id': tenant.id,
      'x-g2d-user-id': user.id,
      'x-g2d-role': 'supervisor',
    });
    expect(seen['x-g2d-acting-tenant-id']).toBeUndefined();
  });

  it('a platform admin acting in another tenant: tenant is the target, home tenant in X-G2D-Acting-Tenant-Id', async () => {
    const { tenant: home, token } = await loginAs('platform_admin');
    const target = await makeTenant(db);
    const res = await send(`${env.base}/api/v1/calls?tenant_id=${target.id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(res.json.data.identity).toMatchObject({
      kind: 'user',
      tenantId: target.id,
      actingTenantId: home.id,
      role: 'platform_admin',
    });
    expect(res.json.data.headers['x-g2d-acting-tenant-id']).toBe(home.id);
  });

  it('no token, or ?token= on an HTTP route, never reaches the stub', async () => {
    const { token } = await loginAs();
    const before = env.stub.received.length;
    expect((await send(`${env.base}/api/v1/calls`)).status).toBe(401);
    expect((await send(`${env.base}/api/v1/calls?token=${token}`)).status).toBe(401);
    expect(env.stub.received.length).toBe(before);
  });
});

describe('node routes', () => {
  it('the stub sees the verified node; the key never goes upstream', async () => {
    const tenant = await makeTenant(db);
    const key = generateNodeKey();
    const node = await createNodeStore(db).create({ tenantId: tenant.id, name: uniq('edge'), apiKeyHash: key.hash });
    const res = await send(`${env.base}/api/v1/edge/desired-state`, {
      headers: { authorization: `Bearer ${key.rawKey}`, 'x-g2d-user-id': 'evil' },
    });
    expect(res.status).toBe(200);
    expect(res.json.data.identity).toMatchObject({ kind: 'node', tenantId: tenant.id, nodeId: node.id });
    expect(res.json.data.headers['x-g2d-node-id']).toBe(node.id);
    expect(res.json.data.headers['x-g2d-user-id']).toBeUndefined();
    expect(JSON.stringify(res.json.data.headers)).not.toContain(key.rawKey);
  });
});

describe('user WebSockets', () => {
  it('?token= authenticates the upgrade and is removed before the upstream', async () => {
    const { user, token } = await loginAs();
    const ws = await connectWs(`/ws/agent/stream?token=${token}&room=7`);
    ws.send('whoami');
    const who = JSON.parse(await next(ws));
    expect(who.identity).toMatchObject({ kind: 'user', userId: user.id, role: 'agent' });
    expect(who.url).toBe('/ws/agent/stream?room=7');
    expect(JSON.stringify(who.headers)).not.toContain(token);
    ws.close();
  });

  it('?token= on a plain HTTP request to a WebSocket route is refused, so the token never goes upstream', async () => {
    const { token } = await loginAs();
    const before = env.stub.received.length;
    const plain = await send(`${env.base}/ws/agent/history?token=${token}`);
    expect(plain.status).toBe(400);
    expect(plain.json).toEqual({ status: 'error', message: 'token is accepted only on websocket upgrades' });
    const both = await send(`${env.base}/ws/agent/history?token=${token}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(both.status).toBe(400);
    expect(env.stub.received.length).toBe(before);
    const header = await send(`${env.base}/ws/agent/history`, { headers: { authorization: `Bearer ${token}` } });
    expect(header.status).toBe(200);
    expect(JSON.stringify(header.json)).not.toContain(token);
  });

  it('the Authorization header works too, and route roles are enforced before any byte goes upstream', async () => {
    const { token } = await loginAs('agent');
    const before = env.stub.received.length;
    await expect(connectWs('/ws/supervisor', { authorization: `Bearer ${token}` })).rejects.toThrow('status 403');
    await expect(connectWs('/ws/agent')).rejects.toThrow('status 401');
    expect(env.stub.received.length).toBe(before);
    const ws = await connectWs('/ws/agent', { authorization: `Bearer ${token}` });
    ws.close();
  });

  it('logout closes the open socket with 1008 within the revalidation period', async () => {
    const { token } = await loginAs();
    const ws = await connectWs(`/ws/agent?token=${token}`);
    const done = closed(ws);
    const out = await call(`${env.base}/api/v1/auth/logout`, { method: 'POST', token });
    expect(out.status).toBe(200);
    const started = Date.now();
    expect((await done).code).toBe(1008);
    expect(Date.now() - started).toBeLessThan(12_000);
  }, 20_000);

  it('an expiring token closes the socket with 1008 at its exp', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const tokens = createTokenService({ ...env.app.config.jwt, secret: JWT_SECRET, ttlSeconds: 2 });
    const { token } = await tokens.mint({ userId: user.id, tenantId: tenant.id, email: user.email, role: 'agent' });
    const ws = await connectWs(`/ws/agent?token=${token}`);
    expect(await closed(ws)).toEqual({ code: 1008, reason: 'token expired' });
  }, 10_000);

  it('shutdown closes proxied sockets with 1001 (docs/operations.md)', async () => {
    const { token } = await loginAs();
    const ws = await connectWs(`/ws/agent?token=${token}`);
    const done = closed(ws);
    await env.app.close();
    expect((await done).code).toBe(1001);
  }, 20_000);
});
