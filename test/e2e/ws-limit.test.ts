/**
 * WS_MAX_PER_IDENTITY: one identity (a user id across all its tokens, a node id) holds at most that
 * many proxied WebSockets on an instance; the next upgrade gets 429 in the error envelope before
 * anything reaches the upstream, and a slot frees when a socket closes. Limit 3 here.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { generateNodeKey } from '../../gateway/auth/node-keys.js';
import { createPg } from '../../gateway/store/pg.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import { call, makeTenant, makeUser, uniq } from '../helpers/fixtures.js';
import { startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';

const LIMIT = 3;
const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let env: ProxyEnv;
let wsBase: string;
const opened: WebSocket[] = [];

beforeAll(async () => {
  env = await startProxyEnv(
    [
      { prefix: '/api/v1/edge/stream', upstream: '{STUB}', auth: 'node', websocket: true },
      { prefix: '/ws/agent', upstream: '{STUB}', auth: 'user', websocket: true },
    ],
    { WS_MAX_PER_IDENTITY: String(LIMIT) },
    'ws-limit',
  );
  wsBase = env.base.replace('http', 'ws');
});

afterAll(async () => {
  for (const ws of opened) ws.terminate();
  await env?.close();
  await db.close();
});

async function login(user: { email: string; password: string }, domain: string): Promise<string> {
  const res = await call(`${env.base}/api/v1/auth/login`, {
    method: 'POST',
    json: { email: user.email, password: user.password, tenant_domain: domain },
  });
  expect(res.status).toBe(200);
  return res.body.data.token as string;
}

type Outcome = { open: WebSocket } | { status: number; body: unknown; headers: Record<string, unknown> };

function upgrade(path: string, token: string): Promise<Outcome> {
  const ws = new WebSocket(`${wsBase}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      opened.push(ws);
      resolve({ open: ws });
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body), headers: res.headers }));
    });
  });
}

const isOpen = (o: Outcome): o is { open: WebSocket } => 'open' in o;
const closed = (ws: WebSocket) =>
  new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.once('close', () => resolve())));

describe('WebSockets per identity', () => {
  it(`a user holds at most ${LIMIT}, across tokens; the next gets 429 before the upstream, and closing one frees a slot`, async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const tokens = [await login(user, tenant.domain), await login(user, tenant.domain)];
    const sockets: WebSocket[] = [];
    for (let i = 0; i < LIMIT; i += 1) {
      const o = await upgrade('/ws/agent', tokens[i % 2] as string);
      expect(isOpen(o)).toBe(true);
      if (isOpen(o)) sockets.push(o.open);
    }
    const reached = env.stub.received.length;
    const refused = await upgrade('/ws/agent', tokens[1] as string);
    expect(refused).toMatchObject({ status: 429, body: { status: 'error', message: 'too many requests' } });
    expect(env.stub.received.length).toBe(reached);

    // Another user of the same tenant has slots of its own.
    const other = await makeUser(db, tenant);
    expect(isOpen(await upgrade('/ws/agent', await login(other, tenant.domain)))).toBe(true);

    const first = sockets[0] as WebSocket;
    first.close();
    await closed(first);
    // The gateway frees the slot when it sees the close, right after the client does.
    let again: Outcome = { status: 0, body: null, headers: {} };
    for (let attempt = 0; attempt < 20 && !isOpen(again); attempt += 1) {
      again = await upgrade('/ws/agent', tokens[0] as string);
      if (!isOpen(again)) await new Promise((r) => setTimeout(r, 50));
    }
    expect(isOpen(again)).toBe(true);
    expect(await upgrade('/ws/agent', tokens[0] as string)).toMatchObject({ status: 429 });
  });

  it(`a node holds at most ${LIMIT}`, async () => {
    const tenant = await makeTenant(db);
    const key = generateNodeKey();
    await createNodeStore(db).create({ tenantId: tenant.id, name: uniq('edge'), apiKeyHash: key.hash });
    for (let i = 0; i < LIMIT; i += 1) expect(isOpen(await upgrade('/api/v1/edge/stream', key.rawKey))).toBe(true);
    expect(await upgrade('/api/v1/edge/stream', key.rawKey)).toMatchObject({
      status: 429,
      body: { status: 'error', message: 'too many requests' },
    });
  });

  it('a refused upgrade counts in g2d_gateway_websocket_limited_total', async () => {
    const res = await call(`${env.base}/metrics`);
    expect(String(res.body)).toMatch(/^g2d_gateway_websocket_limited_total [1-9]\d*$/m);
  });
});
