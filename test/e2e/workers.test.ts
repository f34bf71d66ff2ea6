/**
 * GATEWAY_WORKERS (node:cluster) on the real `serve` process: two workers share the port, a
 * worker that dies is replaced while the others keep serving, /metrics aggregates every worker,
 * and SIGTERM drains each worker and exits 0.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser } from '../helpers/fixtures.js';
import { spawnGateway, exited, jsonLines, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let gw: GatewayProcess;

beforeAll(async () => {
  gw = await spawnGateway('workers', {
    AUTH_LOGIN_IP_LIMIT: '100000',
    GATEWAY_WORKERS: '2',
    SHUTDOWN_GRACE_SECONDS: '3',
  });
});

afterAll(async () => {
  await gw?.stop('SIGKILL');
  await db.close();
});

/** Worker pids that said "gateway listening", in order. */
const listening = () =>
  jsonLines(gw.output())
    .filter((l) => l.msg === 'gateway listening')
    .map((l) => l.pid as number);

/** One request on its own connection (so the cluster may hand it to any worker). */
function fresh(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: gw.port, path, agent: false, timeout: 5000, headers: { connection: 'close' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer within 5 s`)));
    req.end();
  });
}

describe('GATEWAY_WORKERS=2', () => {
  it('runs two workers on one port that behave as one gateway', async () => {
    const pids = await waitFor(() => (new Set(listening()).size >= 2 ? listening() : null), {
      what: 'two workers listening',
    });
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(gw.child.pid);
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const token: string = (
      await call(`${gw.url}/api/v1/auth/login`, {
        method: 'POST',
        json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
      })
    ).body.data.token;
    const statuses = await Promise.all(
      Array.from({ length: 10 }, () =>
        call(`${gw.url}/api/v1/auth/me`, { token, headers: { 'x-probe': '1' } }).then((r) => r.status),
      ),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
  });

  it('aggregates /metrics over every worker', async () => {
    const text0 = await (await fetch(`${gw.url}/metrics`)).text();
    const before = Number(
      /g2d_gateway_http_requests_total\{route="\/readyz",method="GET",status="200"\} (\d+)/.exec(text0)?.[1] ?? 0,
    );
    for (let i = 0; i < 20; i++) expect(await fresh('/readyz')).toBe(200);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toContain(`g2d_gateway_http_requests_total{route="/readyz",method="GET",status="200"} ${before + 20}`);
    expect(text).toContain('g2d_gateway_dependency_up{dependency="postgres"} 1');
    expect(text).toContain('g2d_gateway_dependency_up{dependency="redis"} 1');
  });

  it('replaces a worker that dies while the other keeps serving', async () => {
    const [victim] = listening() as [number];
    process.kill(victim, 'SIGKILL');
    // (A connection the primary hands over in the instant before it learns of the death is lost
    // with the worker — node:cluster's round-robin handoff; the balancer's retry covers it.)
    await waitFor(() => gw.output().includes('worker exited unexpectedly'), { what: 'the primary noticing' });
    for (let i = 0; i < 10; i++) expect(await fresh('/healthz')).toBe(200);
    await waitFor(() => listening().length >= 3, { what: 'a replacement worker', timeoutMs: 20_000 });
    for (let i = 0; i < 10; i++) expect(await fresh('/healthz')).toBe(200);
    expect(gw.child.exitCode).toBeNull();
  });

  it('drains every worker on SIGTERM and exits 0', async () => {
    const exit = exited(gw);
    gw.child.kill('SIGTERM');
    expect(await exit).toBe(0);
    const lines = jsonLines(gw.output());
    expect(lines.filter((l) => l.msg === 'drained').length).toBeGreaterThanOrEqual(2);
  });
});
