/**
 * Operations (docs/operations.md) end to end on the real `serve` process: /healthz, /readyz (200, then 503
 * naming Redis while a private redis-server is down, then 200 again without a restart), /metrics
 * after real traffic (documented names, bounded labels, no raw paths), and the access log line
 * (request id, route group, status, latency, trace id), and the W3C trace id followed from the
 * caller through the log line to the upstream.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPg } from '../../gateway/store/pg.js';
import { GATEWAY_ROUTES, DEFAULT_PROXY_ROUTES } from '../../gateway/config/index.js';
import { call, makeTenant, makeUser } from '../helpers/fixtures.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { spawnGateway, jsonLines, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let redis: RedisServerProcess;
let gw: GatewayProcess;

beforeAll(async () => {
  redis = await startRedisServer();
  gw = await spawnGateway('ops', {
    REDIS_URL: redis.url,
    AUTH_JWT_SECRET: 'ops-test-secret-ops-test-secret-0123456',
    AUTH_LOGIN_IP_LIMIT: '100000',
    UPSTREAM_URL: 'http://127.0.0.1:9',
  });
});

afterAll(async () => {
  await gw?.stop();
  await redis?.kill();
  await db.close();
});

describe('health', () => {
  it('GET /healthz answers 200 ok, uncached, with a request id', async () => {
    const res = await call(`${gw.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'success', data: { status: 'ok' } });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect((await fetch(`${gw.url}/healthz`, { method: 'HEAD' })).status).toBe(200);
  });

  it('GET /readyz answers 200 with each dependency up', async () => {
    const res = await call(`${gw.url}/readyz`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'success', data: { status: 'ready', checks: { postgres: 'up', redis: 'up' } } });
  });

  it('POST /readyz is 405, not a proxied call', async () => {
    const res = await call(`${gw.url}/readyz`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('metrics', () => {
  it('exposes the documented names after traffic, with route groups instead of raw paths', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const login = (password: string) =>
      call(`${gw.url}/api/v1/auth/login`, {
        method: 'POST',
        json: { email: user.email, password, tenant_domain: tenant.domain },
      });
    expect((await login(user.password)).status).toBe(200);
    expect((await login('wrong-password-123')).status).toBe(401);
    expect((await call(`${gw.url}/api/v1/customers/4711/secret-name`)).status).toBe(401);
    expect((await call(`${gw.url}/api/v1/customers/4712`, { token: 'not.a.jwt' })).status).toBe(401);
    expect((await call(`${gw.url}/nothing/here/${Date.now()}`)).status).toBe(404);
    expect(
      (await call(`${gw.url}/api/v1/edge/status`, { headers: { authorization: 'Bearer g2dn_unknown_key_value' } }))
        .status,
    ).toBe(401);

    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of [
      'g2d_gateway_http_requests_total',
      'g2d_gateway_http_request_duration_seconds_bucket',
      'g2d_gateway_upstream_duration_seconds',
      'g2d_gateway_login_total',
      'g2d_gateway_lockouts_total',
      'g2d_gateway_node_auth_failures_total',
      'g2d_gateway_token_rejections_total',
      'g2d_gateway_websockets_open',
      'g2d_gateway_dependency_up',
      'g2d_gateway_fail_open_total',
      'g2d_gateway_password_hash_queue',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/g2d_gateway_login_total\{outcome="success"\} [1-9]/);
    expect(text).toMatch(/g2d_gateway_login_total\{outcome="invalid"\} [1-9]/);
    expect(text).toMatch(/g2d_gateway_token_rejections_total\{reason="missing"\} [1-9]/);
    expect(text).toMatch(/g2d_gateway_token_rejections_total\{reason="malformed"\} [1-9]/);
    expect(text).toMatch(/g2d_gateway_http_requests_total\{route="\/api\/v1\/auth",method="POST",status="401"\} [1-9]/);
    expect(text).toMatch(/g2d_gateway_http_requests_total\{route="unmatched",method="GET",status="404"\} [1-9]/);
    expect(text).toContain('g2d_gateway_dependency_up{dependency="postgres"} 1');

    // Bounded cardinality: every route label is a configured prefix or one of two fixed words.
    const allowed = new Set(
      [...GATEWAY_ROUTES, ...DEFAULT_PROXY_ROUTES].map((r) => r.prefix).concat(['unmatched', 'invalid']),
    );
    const routes = [...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]);
    expect(routes.length).toBeGreaterThan(0);
    for (const r of routes) expect(allowed.has(r as string)).toBe(true);
    expect(text).not.toContain('4711');
    expect(text).not.toContain('secret-name');
    expect(text).not.toContain('/nothing/here');
    const methods = new Set([...text.matchAll(/method="([^"]*)"/g)].map((m) => m[1]));
    for (const m of methods) expect(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER']).toContain(m);
  });

  it('labels unknown methods OTHER', async () => {
    await fetch(`${gw.url}/api/v1/things`, { method: 'PROPFIND' });
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/g2d_gateway_http_requests_total\{route="\/api\/v1",method="OTHER",status="401"\} [1-9]/);
    expect(text).not.toContain('PROPFIND');
  });
});

describe('access log', () => {
  it('writes one line per request with request id, route group, status, latency and the trace id', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await call(`${gw.url}/api/v1/customers/99`, {
      headers: { traceparent, 'x-request-id': 'ops-test-request-0001' },
    });
    expect(res.status).toBe(401);
    const line = await waitFor(
      () => jsonLines(gw.output()).find((l) => l.reqId === 'ops-test-request-0001' && l.msg === 'request'),
      { what: 'access line' },
    );
    expect(line).toMatchObject({
      trace: '4bf92f3577b34da6a3ce929d0e0e4736',
      route: '/api/v1',
      status: 401,
      method: 'GET',
      url: '/api/v1/customers/99',
    });
    expect(typeof line.ms).toBe('number');
    expect(
      jsonLines(gw.output()).filter((l) => l.reqId === 'ops-test-request-0001' && l.msg === 'request'),
    ).toHaveLength(1);

    await call(`${gw.url}/healthz`, { headers: { 'x-request-id': 'ops-test-request-0002' } });
    const fresh = await waitFor(() => jsonLines(gw.output()).find((l) => l.reqId === 'ops-test-request-0002'), {
      what: 'access line',
    });
    expect(fresh.trace).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('readiness follows Redis', () => {
  it('answers 503 naming redis while it is down, and 200 again once it is back (no restart)', async () => {
    await redis.kill();
    const down = await call(`${gw.url}/readyz`);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      status: 'error',
      message: 'service unavailable',
      data: { status: 'unavailable', failed: ['redis'], checks: { postgres: 'up', redis: 'down' } },
    });
    expect((await call(`${gw.url}/healthz`)).status).toBe(200);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toContain('g2d_gateway_dependency_up{dependency="redis"} 0');

    await redis.start();
    const up = await waitFor(
      async () => {
        const r = await call(`${gw.url}/readyz`);
        return r.status === 200 ? r : null;
      },
      { timeoutMs: 15_000, what: 'readyz 200 after Redis came back' },
    );
    expect(up.body.data.checks).toEqual({ postgres: 'up', redis: 'up' });
    const after = await (await fetch(`${gw.url}/metrics`)).text();
    expect(after).toContain('g2d_gateway_dependency_up{dependency="redis"} 1');
  });
});

describe('trace context end to end', () => {
  let upstream: TestUpstream;
  let traced: GatewayProcess;
  let dir: string;
  beforeAll(async () => {
    upstream = await startTestUpstream();
    dir = mkdtempSync(join(tmpdir(), 'g2d-ops-'));
    const routes = join(dir, 'routes.json');
    writeFileSync(routes, JSON.stringify([{ prefix: '/api/v1/traced', upstream: upstream.url, auth: 'public' }]));
    traced = await spawnGateway('ops-trace', {
      AUTH_JWT_SECRET: 'ops-test-secret-ops-test-secret-0123456',
      GATEWAY_ROUTES_FILE: routes,
    });
  });
  afterAll(async () => {
    await traced?.stop();
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const seen = (requestId: string) => upstream.received.find((r) => r.headers['x-request-id'] === requestId);
  const accessLine = (requestId: string) =>
    waitFor(() => jsonLines(traced.output()).find((l) => l.reqId === requestId && l.msg === 'request'), {
      what: `access line ${requestId}`,
    });

  it("continues the caller's trace: same trace id upstream and in the log, the gateway's own span as parent", async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await call(`${traced.url}/api/v1/traced/x`, {
      headers: { traceparent, tracestate: 'vendor=abc', 'x-request-id': 'trace-test-request-01' },
    });
    expect(res.status).toBe(200);
    const got = seen('trace-test-request-01');
    expect(got?.headers.traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(got?.headers.traceparent).not.toBe(traceparent);
    expect(got?.headers.tracestate).toBe('vendor=abc');
    expect((await accessLine('trace-test-request-01')).trace).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('starts a trace when the caller sent none (or an invalid one) and logs the id the upstream got', async () => {
    for (const [id, headers] of [
      ['trace-test-request-02', {}],
      ['trace-test-request-03', { traceparent: 'not-a-traceparent' }],
    ] as const) {
      expect(
        (await call(`${traced.url}/api/v1/traced/y`, { headers: { ...headers, 'x-request-id': id } })).status,
      ).toBe(200);
      const sent = String(seen(id)?.headers.traceparent);
      expect(sent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect((await accessLine(id)).trace).toBe(sent.split('-')[1]);
    }
  });
});
