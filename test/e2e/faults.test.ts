/**
 * Fault drills (docs/operations.md) on the real `serve` process. Redis is a private redis-server the test kills
 * and restarts; Postgres is reached through a TCP relay the test cuts (the shared database is never
 * touched). Checked: the documented status for each route while a dependency is down, that nothing
 * lets a login through uncounted, and that the gateway recovers by itself when the dependency returns.
 * Also: slow, oversized and too many clients are bounded by the server's limits.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateNodeKey } from '../../gateway/auth/node-keys.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser, uniq } from '../helpers/fixtures.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { spawnGateway, jsonLines, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let redis: RedisServerProcess;
let pgRelay: TcpRelay;
let gw: GatewayProcess;

beforeAll(async () => {
  redis = await startRedisServer();
  const pgUrl = new URL(inject('databaseUrl'));
  pgRelay = await startTcpRelay(pgUrl.hostname, Number(pgUrl.port || 5432));
  gw = await spawnGateway('faults', {
    DATABASE_URL: pgRelay.via(inject('databaseUrl')),
    REDIS_URL: redis.url,
    AUTH_JWT_SECRET: 'faults-test-secret-faults-test-secret-01',
    AUTH_LOGIN_IP_LIMIT: '100000',
    // Nothing listens here: a proxied request that passed authentication answers 502.
    UPSTREAM_URL: 'http://127.0.0.1:9',
    SHUTDOWN_GRACE_SECONDS: '2',
  });
});

afterAll(async () => {
  await gw?.stop();
  await redis?.kill();
  await pgRelay?.close();
  await db.close();
});

const login = (json: unknown) => call(`${gw.url}/api/v1/auth/login`, { method: 'POST', json });
const metric = async (pattern: RegExp) =>
  Number(pattern.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1] ?? NaN);

describe('Redis down', () => {
  it('answers logins 503 at once, keeps token traffic flowing, never lets a login through uncounted, and recovers', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const creds = { email: user.email, password: user.password, tenant_domain: tenant.domain };
    const ok = await login(creds);
    expect(ok.status).toBe(200);
    const token: string = ok.body.data.token;
    const key = generateNodeKey();
    await createNodeStore(db).create({ tenantId: tenant.id, name: uniq('node'), apiKeyHash: key.hash });

    await redis.kill();

    // Lockout is never silently disabled: with the counter unreachable, the right password is refused too.
    const t0 = Date.now();
    const refused = await login(creds);
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ status: 'error', message: 'service unavailable' });
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((await login({ ...creds, password: 'wrong-password-123' })).status).toBe(503);

    // Token traffic keeps flowing: revocation checks fail open (and are counted).
    for (let i = 0; i < 3; i++) {
      const me = await call(`${gw.url}/api/v1/auth/me`, { token });
      expect(me.status).toBe(200);
      expect(me.body.data.id).toBe(user.id);
    }
    // A proxied user route gets past authentication (502: nothing listens upstream), not 401/503.
    expect((await call(`${gw.url}/api/v1/things`, { token })).status).toBe(502);
    // So does an edge node (its per-IP throttle fails open); a wrong key is still 401.
    expect(
      (await call(`${gw.url}/api/v1/edge/heartbeat`, { headers: { authorization: `Bearer ${key.rawKey}` } })).status,
    ).toBe(502);
    expect(
      (
        await call(`${gw.url}/api/v1/edge/heartbeat`, {
          headers: { authorization: `Bearer ${generateNodeKey().rawKey}` },
        })
      ).status,
    ).toBe(401);
    expect(await metric(/^g2d_gateway_fail_open_total\{dependency="redis"\} (\d+)/m)).toBeGreaterThanOrEqual(3);
    // Counted per request, logged once per 10 s: an outage does not flood the log.
    // (log lines are flushed in batches, at most ~100 ms late)
    const failedOpen = () => jsonLines(gw.output()).filter((l) => l.msg === 'revocation check failed open');
    await waitFor(() => failedOpen().length > 0, { what: 'the fail-open log line' });
    await new Promise((r) => setTimeout(r, 300));
    expect(failedOpen()).toHaveLength(1);
    expect(await metric(/^g2d_gateway_dependency_up\{dependency="redis"\} (\d+)/m)).toBe(0);

    // What needs Redis to be recorded says so instead of pretending.
    expect((await call(`${gw.url}/api/v1/auth/logout`, { method: 'POST', token })).status).toBe(503);
    expect(
      (
        await call(`${gw.url}/api/v1/auth/me/password`, {
          method: 'POST',
          token,
          json: { current_password: user.password, new_password: 'a-Brand-new-passphrase-42' },
        })
      ).status,
    ).toBe(503);
    const ready = await call(`${gw.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body.data.failed).toEqual(['redis']);

    await redis.start();
    const back = await waitFor(
      async () => {
        const r = await login(creds);
        return r.status === 200 ? r : null;
      },
      { timeoutMs: 15_000, what: 'login after Redis came back' },
    );
    expect(back.body.data.user.id).toBe(user.id);
    expect((await call(`${gw.url}/readyz`)).status).toBe(200);
    expect(gw.output()).toContain('redis unavailable');
    await waitFor(() => gw.output().includes('redis reconnected'), { what: 'the reconnected log line' });
  });
});

describe('Postgres down', () => {
  it('answers login and /auth/me 503, keeps cached node keys and tokens working, and recovers', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const creds = { email: user.email, password: user.password, tenant_domain: tenant.domain };
    const token: string = (await login(creds)).body.data.token;
    const key = generateNodeKey();
    await createNodeStore(db).create({ tenantId: tenant.id, name: uniq('node'), apiKeyHash: key.hash });
    const nodeCall = () =>
      call(`${gw.url}/api/v1/edge/heartbeat`, { headers: { authorization: `Bearer ${key.rawKey}` } });
    // Known keys and tokens pass authentication (502: nothing listens upstream); this also warms the caches.
    expect((await nodeCall()).status).toBe(502);
    expect((await call(`${gw.url}/api/v1/things`, { token })).status).toBe(502);

    await pgRelay.cut();

    const t0 = Date.now();
    const refused = await login(creds);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await call(`${gw.url}/api/v1/auth/me`, { token })).status).toBe(503);
    expect((await nodeCall()).status).toBe(502);
    expect((await call(`${gw.url}/api/v1/things`, { token })).status).toBe(502);
    const ready = await call(`${gw.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body.data).toMatchObject({ failed: ['postgres'], checks: { postgres: 'down', redis: 'up' } });
    expect((await call(`${gw.url}/healthz`)).status).toBe(200);

    await pgRelay.restore();
    await waitFor(async () => (await login(creds)).status === 200, {
      timeoutMs: 15_000,
      what: 'login after Postgres came back',
    });
    expect((await call(`${gw.url}/api/v1/auth/me`, { token })).status).toBe(200);
    expect((await call(`${gw.url}/readyz`)).status).toBe(200);
  });
});

/** Connects and resolves once the connection is up. */
async function open(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  s.resume(); // flowing, so 'end' and 'close' arrive even when nobody reads the answer
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('close', () => reject(new Error('closed before connect')));
  });
  return s;
}

/** Sends one request on a fresh socket and resolves with what came back before the socket closed. */
function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(request));
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', () => resolve(data));
    s.on('close', () => resolve(data));
  });
}

describe('slow, oversized and too many clients', () => {
  let limited: GatewayProcess;
  beforeAll(async () => {
    limited = await spawnGateway('limits', {
      AUTH_JWT_SECRET: 'faults-test-secret-faults-test-secret-01',
      GATEWAY_HEADERS_TIMEOUT_MS: '1000',
      GATEWAY_REQUEST_TIMEOUT_MS: '2000',
      GATEWAY_MAX_CONNECTIONS: '4',
      SHUTDOWN_GRACE_SECONDS: '1',
    });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  it('drops connections beyond GATEWAY_MAX_CONNECTIONS and serves again once they close', async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => open(limited.port)));
    const extra = await exchange(limited.port, 'GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n');
    expect(extra).toBe('');
    for (const s of held) s.destroy();
    await waitFor(
      async () =>
        (await exchange(limited.port, 'GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n')).startsWith(
          'HTTP/1.1 200',
        ),
      { what: 'service after connections closed' },
    );
  });

  it('answers 431 to oversized headers', async () => {
    const raw = await exchange(
      limited.port,
      `GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(raw).toMatch(/^HTTP\/1\.1 431 /);
    expect(raw).toContain('"message":"request header fields too large"');
  });

  it('cuts a client that trickles its headers (slowloris) after GATEWAY_HEADERS_TIMEOUT_MS', async () => {
    const s = await open(limited.port);
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.write('GET /healthz HTTP/1.1\r\nHost: gw\r\n');
    let n = 0;
    const trickle = setInterval(() => {
      if (!s.destroyed && s.writable) s.write(`X-Slow-${n++}: a\r\n`);
    }, 200);
    try {
      await Promise.race([
        closed,
        new Promise((_, reject) => setTimeout(() => reject(new Error('slow client was never cut')), 10_000)),
      ]);
    } finally {
      clearInterval(trickle);
      s.destroy();
    }
    expect(data === '' || data.startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('cuts a client that trickles its body past GATEWAY_REQUEST_TIMEOUT_MS', async () => {
    const s = await open(limited.port);
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.write(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    );
    const trickle = setInterval(() => {
      if (!s.destroyed && s.writable) s.write(' ');
    }, 200);
    try {
      await Promise.race([
        closed,
        new Promise((_, reject) => setTimeout(() => reject(new Error('slow body was never cut')), 10_000)),
      ]);
    } finally {
      clearInterval(trickle);
      s.destroy();
    }
    // The cut request still gets its access line, saying what cut it (408: the request timeout, not
    // the client), and no error line.
    await waitFor(
      () =>
        jsonLines(limited.output()).some((l) => l.msg === 'request' && l.route === '/api/v1/auth' && l.status === 408),
      { what: '408 access line' },
    );
    expect(jsonLines(limited.output()).some((l) => l.msg === 'request failed')).toBe(false);
  });
});

describe('upstream down, slow or dying', () => {
  let upstream: TestUpstream;
  let proxied: GatewayProcess;
  let dir: string;
  beforeAll(async () => {
    upstream = await startTestUpstream();
    dir = mkdtempSync(join(tmpdir(), 'g2d-faults-'));
    const routes = join(dir, 'routes.json');
    writeFileSync(routes, JSON.stringify([{ prefix: '/api/v1/slow', upstream: upstream.url, auth: 'public' }]));
    proxied = await spawnGateway('upstream-faults', {
      AUTH_JWT_SECRET: 'faults-test-secret-faults-test-secret-01',
      GATEWAY_ROUTES_FILE: routes,
      UPSTREAM_TIMEOUT_MS: '1000',
      SHUTDOWN_GRACE_SECONDS: '1',
    });
  });
  afterAll(async () => {
    await proxied?.stop();
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 504 quickly when the upstream stalls past UPSTREAM_TIMEOUT_MS', async () => {
    expect((await call(`${proxied.url}/api/v1/slow/ok`)).status).toBe(200);
    const t0 = Date.now();
    const res = await call(`${proxied.url}/api/v1/slow/stall`);
    expect(res.status).toBe(504);
    expect(res.body).toEqual({ status: 'error', message: 'gateway timeout' });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('never passes a truncated body off as complete when the upstream dies mid-response', async () => {
    const res = await fetch(`${proxied.url}/api/v1/slow/die`, {
      headers: { 'x-request-id': 'faults-upstream-dies-01' },
    });
    expect(res.status).toBe(200); // the head was already relayed
    await expect(res.text()).rejects.toThrow();
    // Logged and counted as the upstream failure that cut it (502), not as a client abort (499).
    const line = await waitFor(
      () => jsonLines(proxied.output()).find((l) => l.msg === 'request' && l.reqId === 'faults-upstream-dies-01'),
      { what: 'the access line' },
    );
    expect(line.status).toBe(502);
  });

  it('answers 502 at once while the upstream is down, and recovers when it is back', async () => {
    await upstream.stop();
    const t0 = Date.now();
    const res = await call(`${proxied.url}/api/v1/slow/ok`);
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ status: 'error', message: 'bad gateway' });
    expect(Date.now() - t0).toBeLessThan(2000);
    await upstream.start();
    await waitFor(async () => (await call(`${proxied.url}/api/v1/slow/ok`)).status === 200, {
      what: 'proxying after the upstream came back',
    });
    const text = await (await fetch(`${proxied.url}/metrics`)).text();
    expect(text).toMatch(/g2d_gateway_upstream_duration_seconds_count\{route="\/api\/v1\/slow"\} [1-9]/);
    expect(text).toMatch(/g2d_gateway_http_requests_total\{route="\/api\/v1\/slow",method="GET",status="504"\} 1/);
    expect(text).toMatch(/g2d_gateway_http_requests_total\{route="\/api\/v1\/slow",method="GET",status="502"\} [1-9]/);
  });
});
