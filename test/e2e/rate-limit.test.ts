/**
 * Request limits end to end: two real gateway processes on one Postgres and one Redis with small
 * limits (RATE_LIMIT_USER=5/60, a route override of 2/60, sync every 100 ms), in front of the
 * recording upstream. The limit is shared by the two instances; past it HTTP requests and
 * WebSocket upgrades get 429 with Retry-After, RateLimit-Policy and RateLimit, and nothing reaches
 * the upstream. A third instance whose Redis is cut keeps enforcing alone and never answers 503.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser, type JsonResponse } from '../helpers/fixtures.js';
import { startGateway, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
const dir = mkdtempSync(join(tmpdir(), 'g2d-ratelimit-'));
let upstream: TestUpstream;
let relay: TcpRelay;
let a: GatewayProcess;
let b: GatewayProcess;
let lonely: GatewayProcess;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  upstream = await startTestUpstream();
  const redis = new URL(inject('redisUrl'));
  relay = await startTcpRelay(redis.hostname, Number(redis.port || 6379));
  const routes = join(dir, 'routes.json');
  writeFileSync(
    routes,
    JSON.stringify([
      { prefix: '/api/v1/reports', auth: 'user', rateLimit: { user: '2/60' } },
      { prefix: '/api/v1', auth: 'user' },
      { prefix: '/ws/agent', auth: 'user', websocket: true },
    ]),
  );
  const env = {
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `${inject('redisPrefix')}ratelimit-e2e:`,
    AUTH_JWT_SECRET: 'rate-limit-e2e-secret-rate-limit-e2e-0123',
    IDENTITY_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    AUTH_LOGIN_IP_LIMIT: '100000',
    UPSTREAM_URL: upstream.url,
    GATEWAY_ROUTES_FILE: routes,
    RATE_LIMIT_USER: '5/60',
    RATE_LIMIT_SYNC_MS: '100',
    SHUTDOWN_GRACE_SECONDS: '2',
  };
  [a, b, lonely] = await Promise.all([
    startGateway(env),
    startGateway(env),
    startGateway({ ...env, REDIS_URL: relay.via(inject('redisUrl')) }),
  ]);
});

afterAll(async () => {
  await Promise.all([a, b, lonely].filter(Boolean).map((g) => g.stop()));
  await Promise.allSettled([upstream?.stop(), relay?.close(), db.close()]);
  rmSync(dir, { recursive: true, force: true });
});

async function tokenFor(gw: GatewayProcess): Promise<string> {
  const tenant = await makeTenant(db);
  const user = await makeUser(db, tenant);
  const res = await call(`${gw.url}/api/v1/auth/login`, {
    method: 'POST',
    json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
  });
  expect(res.status).toBe(200);
  return res.body.data.token as string;
}

function expectLimited(res: JsonResponse, policy: string): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ status: 'error', message: 'too many requests' });
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.headers.get('ratelimit-policy')).toBe(policy);
  expect(res.headers.get('ratelimit')).toBe(`"user";r=0;t=${retryAfter}`);
}

describe('request limits across two instances', () => {
  it('shares RATE_LIMIT_USER between instances; past it 429 with the draft fields and nothing upstream', async () => {
    const token = await tokenFor(a);
    for (let i = 0; i < 5; i += 1) {
      const res = await call(`${(i % 2 === 0 ? a : b).url}/api/v1/things`, { token });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"user";q=5;w=60');
      expect(res.headers.get('ratelimit')).toMatch(/^"user";r=\d;t=\d+$/);
      await sleep(300); // longer than a sync interval and its round trip
    }
    const reached = upstream.received.length;
    // A served 3 and B 2: each alone would still have room, together they have none.
    expectLimited(await call(`${a.url}/api/v1/things`, { token }), '"user";q=5;w=60');
    expectLimited(await call(`${b.url}/api/v1/things`, { token }), '"user";q=5;w=60');
    expect(upstream.received.length).toBe(reached);

    // The WebSocket upgrade of the same user is limited too, before anything goes upstream.
    const ws = new WebSocket(`${b.url.replace('http', 'ws')}/ws/agent`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const refused = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        ws.once('open', () => reject(new Error('the upgrade was accepted')));
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
      },
    );
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toEqual({ status: 'error', message: 'too many requests' });
    expect(refused.headers['ratelimit-policy']).toBe('"user";q=5;w=60');
    expect(refused.headers['ratelimit']).toBe(`"user";r=0;t=${String(refused.headers['retry-after'])}`);
    expect(upstream.received.length).toBe(reached);
  });

  it('honours a route override: its own bucket and policy, the rest of the API unaffected', async () => {
    const token = await tokenFor(b);
    expect((await call(`${a.url}/api/v1/reports/daily`, { token })).status).toBe(200);
    await sleep(300);
    const second = await call(`${b.url}/api/v1/reports/daily`, { token });
    expect(second.status).toBe(200);
    expect(second.headers.get('ratelimit-policy')).toBe('"user";q=2;w=60');
    await sleep(300);
    expectLimited(await call(`${a.url}/api/v1/reports/weekly`, { token }), '"user";q=2;w=60');
    expect((await call(`${a.url}/api/v1/things`, { token })).status).toBe(200);
  });

  it('counts refusals by limit in g2d_gateway_rate_limited_total, every kind present from the start', async () => {
    const text = String((await call(`${a.url}/metrics`)).body);
    expect(text).toMatch(/^g2d_gateway_rate_limited_total\{limit="user"\} [1-9]\d*$/m);
    expect(text).toMatch(/^g2d_gateway_rate_limited_total\{limit="node"\} 0$/m);
    expect(text).toMatch(/^g2d_gateway_rate_limited_total\{limit="tenant"\} 0$/m);
  });

  it('with its Redis cut, an instance enforces the limit alone and never answers 503 for it', async () => {
    const token = await tokenFor(lonely);
    await relay.cut();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i += 1) statuses.push((await call(`${lonely.url}/api/v1/things`, { token })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    } finally {
      await relay.restore();
    }
  });
});
