/**
 * Regressions from the adversarial audit: requests a Pomerium/Envoy reviewer would send, each of
 * which got past a check or answered outside the error envelope (docs/api.md). The real gateway (in process,
 * real Postgres and Redis) in front of the verifying stub, over real sockets.
 */
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser, platformTenant } from '../helpers/fixtures.js';
import { deadPort, send, startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';
import { spawnGateway, jsonLines, waitFor } from '../helpers/spawn-gateway.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let env: ProxyEnv;

beforeAll(async () => {
  env = await startProxyEnv(
    [
      { prefix: '/api/v1/edge/health', upstream: '{STUB}', auth: 'public' },
      { prefix: '/api/v1/nodes', upstream: '{STUB}', auth: 'node' },
      { prefix: '/api/v1', upstream: '{STUB}', auth: 'user' },
      { prefix: '/ws/agent', upstream: '{STUB}', auth: 'user', websocket: true },
    ],
    {},
    'audit',
  );
});

afterAll(async () => {
  await env?.close();
  await db.close();
});

async function loginAs(role: 'agent' | 'platform_admin' = 'agent') {
  const tenant = role === 'platform_admin' ? await platformTenant(db) : await makeTenant(db);
  const user = await makeUser(db, tenant, { role });
  const res = await call(`${env.base}/api/v1/auth/login`, {
    method: 'POST',
    json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
  });
  expect(res.status).toBe(200);
  return { tenant, user, token: res.body.data.token as string };
}

describe('tenant scope (docs/security-model.md): every spelling an upstream framework might read as tenant_id', () => {
  // PHP/Rails/qs read `tenant_id[]` and `tenant_id[0]` as tenant_id (PHP also `tenant.id`),
  // case-insensitive frameworks `TENANT_ID`, double-decoding ones `tenant%255Fid`, and some split
  // the query on `;`. Before the fix all of these reached the upstream unchecked.
  const spellings = (id: string) => [
    `tenant_id[]=${id}`,
    `tenant_id%5B%5D=${id}`,
    `tenant_id[0]=${id}`,
    `TENANT_ID=${id}`,
    `Tenant_Id=${id}`,
    `tenant%255Fid=${id}`,
    `tenant.id=${id}`,
    `a=1;tenant_id=${id}`,
  ];

  it('a non-admin naming another tenant under any spelling gets 403 and nothing reaches upstream', async () => {
    const { token } = await loginAs('agent');
    const other = await makeTenant(db);
    const before = env.stub.received.length;
    for (const q of spellings(other.id)) {
      const res = await send(`${env.base}/api/v1/calls?${q}`, { headers: { authorization: `Bearer ${token}` } });
      expect({ q, status: res.status, body: res.json }).toEqual({
        q,
        status: 403,
        body: { status: 'error', message: 'forbidden' },
      });
    }
    expect(env.stub.received.length).toBe(before);
  });

  it('a non-admin naming its own tenant under any spelling passes', async () => {
    const { tenant, token } = await loginAs('agent');
    for (const q of spellings(tenant.id)) {
      const res = await send(`${env.base}/api/v1/calls?${q}`, { headers: { authorization: `Bearer ${token}` } });
      expect({ q, status: res.status }).toEqual({ q, status: 200 });
    }
  });

  it('a platform admin cannot name a tenant the gateway did not act in (400), so the audit trail and headers agree', async () => {
    const { token } = await loginAs('platform_admin');
    const target = await makeTenant(db);
    const other = await makeTenant(db);
    const before = env.stub.received.length;
    for (const q of [
      `tenant_id[]=${target.id}`,
      `tenant_id=${target.id}&tenant_id[]=${other.id}`,
      `tenant_id=${target.id}&TENANT_ID=${other.id}`,
    ]) {
      const res = await send(`${env.base}/api/v1/calls?${q}`, { headers: { authorization: `Bearer ${token}` } });
      expect({ q, status: res.status, message: res.json?.message }).toEqual({
        q,
        status: 400,
        message: 'tenant_id must be given once, as tenant_id=<uuid>',
      });
    }
    expect(env.stub.received.length).toBe(before);
    // The documented form still works, and a second spelling naming the same tenant is harmless.
    const ok = await send(`${env.base}/api/v1/calls?tenant_id=${target.id}&tenant_id[]=${target.id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.json.data.identity).toMatchObject({ tenantId: target.id });
  });
});

describe('JSON bodies on gateway routes (docs/api.md): bad input is a 4xx in the envelope, never a 500', () => {
  const login = (body: Buffer | string, headers: Record<string, string> = {}) =>
    send(`${env.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : Readable.from([body]),
    });
  const invalidBody = { status: 400, json: { status: 'error', message: 'invalid request body' } };

  it('a NUL character in any string field is 400 (Postgres cannot store it: it was a 500)', async () => {
    const tenant = await makeTenant(db);
    for (const body of [
      { email: 'a\u0000b@example.test', password: 'x' },
      { email: 'a@example.test', password: 'x', tenant_domain: `${tenant.domain}\u0000` },
      { email: 'a@example.test', password: 'x\u0000' },
    ]) {
      const res = await login(JSON.stringify(body));
      expect({ status: res.status, json: res.json }).toEqual(invalidBody);
    }
    const reg = await send(`${env.base}/api/v1/nodes/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrollment_token: 'x', name: 'a\u0000' }),
    });
    expect({ status: reg.status, json: reg.json }).toEqual(invalidBody);
  });

  it('a body that is not valid UTF-8 is 400 instead of being read with U+FFFD substitutions', async () => {
    const { user } = await loginAs('agent');
    const bytes = Buffer.concat([
      Buffer.from(`{"email":"${user.email}","password":"`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const res = await login(bytes);
    expect({ status: res.status, json: res.json }).toEqual(invalidBody);
  });

  it('a Content-Encoding the gateway does not decode is 415, not read as plain JSON', async () => {
    const { user } = await loginAs('agent');
    const res = await login(JSON.stringify({ email: user.email, password: user.password }), {
      'content-encoding': 'gzip',
    });
    expect({ status: res.status, json: res.json }).toEqual({
      status: 415,
      json: { status: 'error', message: 'unsupported media type' },
    });
    const identity = await login(JSON.stringify({ email: user.email, password: user.password }), {
      'content-encoding': 'identity',
    });
    expect(identity.status).toBe(200);
  });
});

/** Writes `payload` on a fresh connection and resolves with everything the gateway answered (it closes). */
function rawExchange(payload: string): Promise<{ status: number; head: string; json: any }> {
  const { hostname, port } = new URL(env.base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(payload));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    const timer = setTimeout(() => socket.destroy(new Error(`no close; got ${JSON.stringify(data)}`)), 5000);
    socket.on('close', () => {
      clearTimeout(timer);
      const [head = '', body = ''] = data.split('\r\n\r\n');
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        // not JSON
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, json });
    });
  });
}

describe('Upgrade the gateway does not perform (RFC 9110 §7.8: ignored, the request answered as it is)', () => {
  it('curl --http2 on plain http (Upgrade: h2c) reaches its route instead of 404', async () => {
    const { tenant, token } = await loginAs('agent');
    const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
    const proxied = await rawExchange(
      `GET /api/v1/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n${h2c}\r\n`,
    );
    expect(proxied.status).toBe(200);
    expect(proxied.json.data.identity).toMatchObject({ kind: 'user', tenantId: tenant.id });
    expect(proxied.json.data.headers.upgrade).toBeUndefined();
    expect(proxied.head).toMatch(/\r\nx-request-id: /i);
    const me = await rawExchange(
      `GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n${h2c}\r\n`,
    );
    expect(me.status).toBe(200);
    // Not authenticated is still 401 in the envelope.
    const anon = await rawExchange(`GET /api/v1/calls HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`);
    expect({ status: anon.status, json: anon.json }).toEqual({
      status: 401,
      json: { status: 'error', message: 'missing or invalid authorization header' },
    });
  });

  it('a WebSocket handshake on an HTTP route is answered as that HTTP request (authenticated as usual)', async () => {
    const { token } = await loginAs('agent');
    const ws =
      'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
    expect(
      (await rawExchange(`GET /api/v1/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n${ws}\r\n`))
        .status,
    ).toBe(200);
    expect((await rawExchange(`GET /api/v1/calls HTTP/1.1\r\nHost: x\r\n${ws}\r\n`)).status).toBe(401);
    expect((await rawExchange(`GET /nowhere HTTP/1.1\r\nHost: x\r\n${ws}\r\n`)).status).toBe(404);
  });

  it('with a body it can no longer read, the request is refused with a clear 400 (login included)', async () => {
    const body = JSON.stringify({ email: 'a@example.test', password: 'x' });
    const res = await rawExchange(
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect({ status: res.status, json: res.json }).toEqual({
      status: 400,
      json: { status: 'error', message: 'upgrade not supported on a request with a body' },
    });
  });

  it('CONNECT gets 405 in the envelope instead of a silently closed socket', async () => {
    for (const target of ['evil.example:443', '/api/v1/calls']) {
      const res = await rawExchange(`CONNECT ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect({ status: res.status, json: res.json }).toEqual({
        status: 405,
        json: { status: 'error', message: 'method not allowed' },
      });
    }
  });
});

describe('a body the gateway stops reading', () => {
  it('a non-JSON body over 1 MB on login is 415 and the gateway keeps serving (the request stream is gone by then)', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await send(`${env.base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: Readable.from([Buffer.alloc(3 * 1024 * 1024, 0x61)]),
      }).catch((err: Error) => ({ status: 0, json: err.message }));
      expect([0, 415]).toContain(res.status);
    }
    expect((await send(`${env.base}/healthz`)).status).toBe(200);
  });
});

describe('5xx on gateway routes are logged with their cause (the serve process)', () => {
  it('a login that fails with 503 after its body was read writes a "request failed" line with the code and request id', async () => {
    // Redis unreachable: the login answers 503 once it has read the body (docs/operations.md).
    const gw = await spawnGateway('audit-log', {
      REDIS_URL: `redis://127.0.0.1:${await deadPort()}`,
      AUTH_JWT_SECRET: 'audit-log-secret-audit-log-secret-0123',
    });
    try {
      const res = await call(`${gw.url}/api/v1/auth/login`, {
        method: 'POST',
        json: { email: 'a@example.test', password: 'whatever-password' },
      });
      expect(res.status).toBe(503);
      const reqId = res.headers.get('x-request-id');
      const line = await waitFor(
        () => jsonLines(gw.output()).find((l) => l.msg === 'request failed' && l.reqId === reqId),
        { what: 'the request failed line' },
      );
      expect(line).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect(String(line.err)).toMatch(/redis/i);
    } finally {
      await gw.stop();
    }
  });
});

describe('CORS and WebSocket Origin (HTTP_ALLOWED_ORIGINS, docs/configuration.md)', () => {
  let cors: ProxyEnv;
  beforeAll(async () => {
    cors = await startProxyEnv(
      [
        { prefix: '/api/v1', upstream: '{STUB}', auth: 'user' },
        { prefix: '/ws/agent', upstream: '{STUB}', auth: 'user', websocket: true },
      ],
      { HTTP_ALLOWED_ORIGINS: 'https://app.example' },
      'audit-cors',
    );
  });
  afterAll(async () => {
    await cors?.close();
  });
  const preflight = (origin: string) =>
    send(`${cors.base}/api/v1/calls`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('a preflight from a listed origin is 204 with the allow headers, without auth, and never proxied', async () => {
    const before = cors.stub.received.length;
    const res = await preflight('https://app.example');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(res.headers['access-control-allow-headers']).toBe('authorization, content-type');
    expect(cors.stub.received.length).toBe(before);
  });

  it('a preflight from an unlisted origin is 403 in the envelope and the origin is never echoed', async () => {
    for (const origin of ['https://evil.example', 'null', 'https://app.example.evil.example', 'https://APP.example']) {
      const res = await preflight(origin);
      expect({ origin, status: res.status, json: res.json }).toEqual({
        origin,
        status: 403,
        json: { status: 'error', message: 'forbidden' },
      });
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['x-request-id']).toBeTruthy();
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('a WebSocket upgrade from an unlisted Origin is 403 before any authentication or upstream byte', async () => {
    const { token } = await loginAs('agent');
    const { hostname, port } = new URL(cors.base);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () =>
        socket.write(
          `GET /ws/agent?token=${token} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: https://evil.example\r\n\r\n`,
        ),
      );
      let data = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (data += d));
      socket.on('error', reject);
      socket.on('close', () => resolve(data));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 403 /);
    expect(answer).toContain('{"status":"error","message":"forbidden"}');
  });
});

describe('405 names every method the route serves (RFC 9110 §15.5.6)', () => {
  it('a GET route also serves HEAD, so Allow lists it', async () => {
    for (const path of ['/healthz', '/api/v1/auth/me', '/.well-known/jwks.json']) {
      const res = await send(`${env.base}${path}`, { method: 'DELETE' });
      expect({ path, status: res.status, allow: res.headers.allow }).toEqual({ path, status: 405, allow: 'GET, HEAD' });
    }
    const post = await send(`${env.base}/api/v1/auth/login`, { method: 'GET' });
    expect(post.headers.allow).toBe('POST');
  });
});

describe('Host (RFC 9112 §3.2: more than one, or an invalid value, is 400)', () => {
  const withHost = (hostLines: string, extra = '') =>
    rawExchange(`GET /healthz HTTP/1.1\r\n${hostLines}${extra}Connection: close\r\n\r\n`);
  it('two Host headers, userinfo, a path or a space in Host are 400 in the envelope (they reached the upstream as X-Forwarded-Host)', async () => {
    for (const lines of [
      'Host: a.example\r\nHost: b.example\r\n',
      'Host: user@evil.example\r\n',
      'Host: evil.example/x?y\r\n',
      'Host: a b\r\n',
      'Host: a.example#x\r\n',
    ]) {
      const res = await withHost(lines);
      expect({ lines, status: res.status, json: res.json }).toEqual({
        lines,
        status: 400,
        json: { status: 'error', message: 'invalid host header' },
      });
    }
  });
  it('ordinary hosts pass: name, name:port, IPv4, IPv6 literal, and HTTP/1.0 without Host', async () => {
    for (const lines of [
      'Host: gw.example\r\n',
      'Host: gw.example:8443\r\n',
      'Host: 10.0.0.1:80\r\n',
      'Host: [::1]:8080\r\n',
      'Host: xn--bcher-kva.example\r\n',
    ]) {
      expect({ lines, status: (await withHost(lines)).status }).toEqual({ lines, status: 200 });
    }
    const { hostname, port } = new URL(env.base);
    const http10 = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.write('GET /healthz HTTP/1.0\r\n\r\n'));
      let data = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (data += d));
      socket.on('error', reject);
      socket.on('close', () => resolve(data));
    });
    expect(http10).toMatch(/^HTTP\/1\.1 200 /);
  });
  it('a WebSocket upgrade with two Host headers is refused before authentication', async () => {
    const res = await rawExchange(
      'GET /ws/agent HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    expect({ status: res.status, json: res.json }).toEqual({
      status: 400,
      json: { status: 'error', message: 'invalid host header' },
    });
  });
});
