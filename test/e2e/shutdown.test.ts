/**
 * Graceful shutdown (docs/operations.md) on the real `serve` process: SIGTERM → readiness 503, no new
 * connections, requests already in flight finish (with `Connection: close`), idle keep-alive
 * connections do not hold the exit back, exit code 0; past SHUTDOWN_GRACE_SECONDS a stuck request
 * is cut and the process still exits 0. Proxied: a slow upstream request in flight completes, and
 * open WebSockets are closed with 1001 on both sides.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser } from '../helpers/fixtures.js';
import { spawnGateway, exited, jsonLines, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
const started: GatewayProcess[] = [];

afterAll(async () => {
  await Promise.all(started.map((g) => g.stop('SIGKILL')));
  await db.close();
});

async function gateway(extra: Record<string, string> = {}): Promise<GatewayProcess> {
  const gw = await spawnGateway('shutdown', {
    UPSTREAM_URL: 'http://127.0.0.1:9',
    ...extra,
  });
  started.push(gw);
  return gw;
}

/** A raw client connection: write pieces of a request by hand, collect whatever comes back. */
async function rawClient(port: number): Promise<{ socket: Socket; response: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const response = new Promise<string>((resolve) => {
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.on('error', () => resolve(data));
    socket.on('close', () => resolve(data));
  });
  return { socket, response };
}

function parse(raw: string): { status: number; headers: Record<string, string>; body: any } {
  const [head = '', body = ''] = raw.split('\r\n\r\n', 2);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let parsed: unknown = body;
  try {
    parsed = JSON.parse(body);
  } catch {
    // not JSON
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: parsed };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SIGTERM', () => {
  it('finishes in-flight requests, answers readyz 503, refuses new connections, exits 0', async () => {
    const gw = await gateway({ SHUTDOWN_GRACE_SECONDS: '20' });
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);

    // An in-flight login: headers and half of the body are in, the rest comes after SIGTERM.
    const body = JSON.stringify({ email: user.email, password: user.password, tenant_domain: tenant.domain });
    const login = await rawClient(gw.port);
    login.socket.write(
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
        body.slice(0, 10),
    );
    // A readiness probe whose request has begun (so it is not an idle connection) and ends during the drain.
    const probe = await rawClient(gw.port);
    probe.socket.write('GET /readyz HTTP/1.1\r\nHost: gw\r\n');
    await sleep(300); // let the gateway read both partial requests

    const exit = exited(gw);
    gw.child.kill('SIGTERM');
    await waitFor(() => gw.output().includes('draining'), { what: 'drain log line' });
    expect(await refused(gw.port)).toBe(true);

    probe.socket.write('\r\n');
    const ready = parse(await probe.response);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'error', message: 'service unavailable', data: { status: 'draining' } });
    expect(ready.headers.connection).toBe('close');

    login.socket.write(body.slice(10));
    const answered = parse(await login.response);
    expect(answered.status).toBe(200);
    expect(answered.body.data.user.id).toBe(user.id);
    expect(answered.headers.connection).toBe('close');

    expect(await exit).toBe(0);
    expect(gw.output()).toContain('"msg":"drained"');
  });

  it('does not wait on idle keep-alive connections', async () => {
    const gw = await gateway({ SHUTDOWN_GRACE_SECONDS: '20' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: gw.port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    const t0 = Date.now();
    const exit = exited(gw);
    gw.child.kill('SIGTERM');
    expect(await exit).toBe(0);
    // Far below the 20 s grace: the idle socket was closed, not waited for.
    expect(Date.now() - t0).toBeLessThan(10_000);
    agent.destroy();
  });

  it('cuts a request that outlives SHUTDOWN_GRACE_SECONDS and still exits 0', async () => {
    const gw = await gateway({ SHUTDOWN_GRACE_SECONDS: '1' });
    const stuck = await rawClient(gw.port);
    stuck.socket.write(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"em',
    );
    await sleep(300);
    const exit = exited(gw);
    gw.child.kill('SIGTERM');
    expect(await exit).toBe(0);
    await stuck.response; // the connection was closed by the gateway
    expect(stuck.socket.destroyed || stuck.socket.readableEnded).toBe(true);
    expect(gw.output()).toContain('grace period over');
    expect(jsonLines(gw.output()).some((l) => l.msg === 'request' && l.status === 499)).toBe(true);
  });

  it('exits 1 at once on a second signal', async () => {
    const gw = await gateway({ SHUTDOWN_GRACE_SECONDS: '30' });
    const stuck = await rawClient(gw.port);
    stuck.socket.write(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"em',
    );
    await sleep(300);
    const exit = exited(gw);
    gw.child.kill('SIGTERM');
    await waitFor(() => gw.output().includes('draining'), { what: 'drain log line' });
    gw.child.kill('SIGINT');
    expect(await exit).toBe(1);
    stuck.socket.destroy();
  });
});

describe('SIGTERM with proxied traffic', () => {
  let upstream: TestUpstream;
  let dir: string;
  let routes: string;
  beforeAll(async () => {
    upstream = await startTestUpstream();
    dir = mkdtempSync(join(tmpdir(), 'g2d-shutdown-'));
    routes = join(dir, 'routes.json');
    writeFileSync(
      routes,
      JSON.stringify([
        { prefix: '/api/v1/slow', upstream: upstream.url, auth: 'public' },
        { prefix: '/ws/echo', upstream: upstream.url, auth: 'public', websocket: true },
      ]),
    );
  });
  afterAll(async () => {
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets a slow proxied request in flight finish with 200, then exits 0', async () => {
    const gw = await gateway({ GATEWAY_ROUTES_FILE: routes, SHUTDOWN_GRACE_SECONDS: '20' });
    const before = upstream.received.length;
    const inFlight = call(`${gw.url}/api/v1/slow/wait?ms=1500`);
    await waitFor(() => upstream.received.length > before, { what: 'the request to reach the upstream' });
    const exit = exited(gw);
    gw.child.kill('SIGTERM');
    await waitFor(() => gw.output().includes('draining'), { what: 'drain log line' });
    expect(await refused(gw.port)).toBe(true);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, path: '/api/v1/slow/wait' });
    expect(await exit).toBe(0);
  });

  it('closes proxied WebSockets with 1001 (going away) and exits 0', async () => {
    const gw = await gateway({ GATEWAY_ROUTES_FILE: routes, SHUTDOWN_GRACE_SECONDS: '20' });
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws/echo`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const echoed = new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
    ws.send('hello');
    expect(await echoed).toBe('hello');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const exit = exited(gw);
    const t0 = Date.now();
    gw.child.kill('SIGTERM');
    expect(await closed).toBe(1001);
    expect(await exit).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000); // not held for the 20 s grace by an open socket
    await waitFor(() => upstream.wsCloses.includes(1001), { what: 'upstream side closed with 1001' });
  });
});
