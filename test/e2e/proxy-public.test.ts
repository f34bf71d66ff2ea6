/**
 * docs/api.md end to end over real sockets: the gateway in process in front of the real stub, which
 * verifies every request through the gateway's JWKS. Public routes need no login, so this file
 * covers the proxy itself: identity injection, spoofing, path tricks, streaming, errors, WebSockets.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { pseudoRandomDigest, pseudoRandomStream } from '../../upstream-stub/random.js';
import { open, rawStatus, send, startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';

const MB = 1024 * 1024;
let env: ProxyEnv;
let pub: string;
// An upstream that is no WebSocket server: it answers the upgrade with a plain 200 (Node's default).
const plain = createServer((_req, res) => res.end('not a websocket server'));

beforeAll(async () => {
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  const plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  env = await startProxyEnv(
    [
      { prefix: '/ws/plain', upstream: plainUrl, auth: 'public', websocket: true },
      { prefix: '/api/v1/pub', upstream: '{STUB}', auth: 'public' },
      { prefix: '/api/v1/down', upstream: '{DEAD}', auth: 'public' },
      { prefix: '/ws/pub', upstream: '{STUB}', auth: 'public', websocket: true },
      { prefix: '/ws/down', upstream: '{DEAD}', auth: 'public', websocket: true },
      { prefix: '/api/v1', upstream: '{STUB}', auth: 'user' },
    ],
    { UPSTREAM_TIMEOUT_MS: '1500' },
    'proxy-public',
  );
  pub = `${env.base}/api/v1/pub`;
});

afterAll(async () => {
  await env?.close();
  await new Promise((resolve) => plain.close(resolve));
});

describe('HTTP proxy: identity', () => {
  it('the stub verifies a public identity; path, query and request id arrive as sent', async () => {
    const res = await send(`${pub}/echo?b=2&a=%20x`, { headers: { 'x-request-id': 'client-request-0001' } });
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('client-request-0001');
    const data = res.json.data;
    expect(data.identity).toMatchObject({ kind: 'public' });
    expect(data.path).toBe('/api/v1/pub/echo');
    expect(data.query).toBe('b=2&a=%20x');
    expect(data.headers['x-request-id']).toBe('client-request-0001');
    expect(data.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(data.headers['x-forwarded-proto']).toBe('http');
    expect(data.headers['x-forwarded-host']).toBe(new URL(env.base).host);
    expect(data.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  });

  it('serves the JWKS the stub verifies with', async () => {
    const res = await send(`${env.base}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/jwk-set+json');
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    expect(res.json.keys[0]).toMatchObject({
      kty: 'OKP',
      crv: 'Ed25519',
      alg: 'EdDSA',
      use: 'sig',
      kid: expect.any(String),
    });
    expect(res.json.keys[0].d).toBeUndefined();
  });

  it('spoofed x-g2d-* headers (any case, underscores) never reach the stub', async () => {
    const res = await send(`${pub}/echo`, {
      headers: {
        'X-G2D-Tenant-Id': 'evil-tenant',
        'x-g2d-user-id': 'evil-user',
        'X-G2D-Auth': 'user',
        'X-G2D-Role': 'platform_admin',
        'x-g2d-identity': 'forged.jws.value',
        x_g2d_role: 'admin',
        X_G2D_TENANT_ID: 'evil-tenant',
        'x-g2d_user_email': 'evil@example.com',
        'X-Forwarded-For': '6.6.6.6',
        Forwarded: 'for=6.6.6.6',
      },
    });
    expect(res.status).toBe(200);
    const seen = res.json.data.headers as Record<string, string>;
    const ours = Object.keys(seen)
      .filter((k) => /^x[-_]g2d[-_]/i.test(k))
      .sort();
    expect(ours).toEqual(['x-g2d-auth', 'x-g2d-identity']);
    expect(seen['x-g2d-auth']).toBe('public');
    expect(JSON.stringify(seen)).not.toMatch(/evil|forged|6\.6\.6\.6/);
  });

  it('headers named in Connection are dropped, others pass', async () => {
    const res = await send(`${pub}/echo`, {
      headers: {
        Connection: 'keep-alive, X-Drop-Me, x-also',
        'X-Drop-Me': '1',
        'X-Also': '2',
        'X-Keep': '3',
        TE: 'trailers',
      },
    });
    const seen = res.json.data.headers;
    expect(seen['x-drop-me']).toBeUndefined();
    expect(seen['x-also']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['x-keep']).toBe('3');
  });

  it('a request without the gateway (straight to the stub) is refused as unsigned', async () => {
    const res = await send(`${env.stub.url}/api/v1/pub/echo`, { headers: { 'x-g2d-auth': 'public' } });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ status: 'error', message: 'unsigned or invalid identity' });
  });
});

describe('HTTP proxy: path tricks never reach an upstream (docs/api.md)', () => {
  const tricks = [
    '/api/v1/pub/../down/x',
    '/api/v1/pub/%2e%2e/down/x',
    '/api/v1/pub/.%2E/down',
    '/api/v1/pub%2f..%2fdown',
    '/api/v1/pub/x%5c..%5c..%5cauth',
    '/api/v1/pub/x\\..\\down',
    '/api/v1/pub//echo',
    '/api/v1/pub/echo%00',
    '/api/v1/pub/echo;x=1',
    '/api/v1/pub/%zz',
    '/api/v1/pub/%ff',
    '/api/v1/pub/./echo',
  ];
  it.each(tricks)('%s → 400', async (target) => {
    const before = env.stub.received.length;
    expect(await rawStatus(env.base, target)).toBe(400);
    expect(env.stub.received.length).toBe(before);
  });

  it('case and segment boundaries: /api/v1/pubx is the user route (401), /API/v1/pub is 404', async () => {
    const before = env.stub.received.length;
    expect(await rawStatus(env.base, '/api/v1/pubx/echo')).toBe(401);
    expect(await rawStatus(env.base, '/API/v1/pub/echo')).toBe(404);
    expect(env.stub.received.length).toBe(before);
  });

  it('an encoded but unambiguous path is canonicalised and sent upstream in that form', async () => {
    const res = await send(`${env.base}/api/v1/%70ub/ech%6F`);
    expect(res.status).toBe(200);
    expect(res.json.data.path).toBe('/api/v1/pub/echo');
  });
});

describe('HTTP proxy: streaming both ways without buffering', () => {
  it('100 MB upload (Content-Length) arrives intact, memory stays flat', async () => {
    const size = 100 * MB;
    const expected = await pseudoRandomDigest('up-100', size);
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const res = await send(`${pub}/stream/upload`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: pseudoRandomStream('up-100', size),
    });
    clearInterval(sampler);
    expect(res.status).toBe(200);
    expect(res.json.data).toEqual({ bytes: size, sha256: expected });
    // Everything (client, gateway, stub) shares this process: buffering 100 MB anywhere would show.
    expect(peak - rss0).toBeLessThan(80 * MB);
  }, 60_000);

  it('chunked upload (no Content-Length) arrives intact', async () => {
    const size = 8 * MB + 123;
    const res = await send(`${pub}/stream/upload`, {
      method: 'POST',
      headers: { 'transfer-encoding': 'chunked' },
      body: pseudoRandomStream('up-chunked', size),
    });
    expect(res.json.data).toEqual({ bytes: size, sha256: await pseudoRandomDigest('up-chunked', size) });
  });

  it('100 MB download streams through with a matching SHA-256, memory stays flat', async () => {
    const size = 100 * MB;
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const res = await open(`${pub}/stream/download?bytes=${size}&seed=down-100`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(size));
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      hash.update(chunk);
      if ((bytes & 0xfffff) < chunk.length) peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(bytes).toBe(size);
    expect(hash.digest('hex')).toBe(res.headers['x-content-sha256']);
    expect(res.headers['x-content-sha256']).toBe(await pseudoRandomDigest('down-100', size));
    expect(peak - rss0).toBeLessThan(80 * MB);
  }, 60_000);

  it('chunked download, HEAD, 304 and 204 keep their framing', async () => {
    const chunked = await send(`${pub}/stream/download?bytes=${MB + 7}&seed=c&chunked=1`);
    expect(chunked.headers['transfer-encoding']).toBe('chunked');
    expect(createHash('sha256').update(chunked.body).digest('hex')).toBe(chunked.headers['x-content-sha256']);

    const head = await send(`${pub}/stream/download?bytes=5000&seed=h`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('5000');
    expect(head.body.length).toBe(0);

    const notModified = await send(`${pub}/status/304`, { headers: { 'if-none-match': '"stub"' } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe('"stub"');
    expect(notModified.body.length).toBe(0);

    const noContent = await send(`${pub}/status/204`, { method: 'DELETE' });
    expect(noContent.status).toBe(204);
    const teapot = await send(`${pub}/status/418`);
    expect(teapot.status).toBe(418);
    expect(teapot.headers['x-request-id']).toBeTruthy();
  });
});

describe('HTTP proxy: upstream failures', () => {
  it('upstream down → 502 bad gateway in the envelope', async () => {
    const res = await send(`${env.base}/api/v1/down/x`, { headers: { 'x-request-id': 'client-request-0502' } });
    expect(res.status).toBe(502);
    expect(res.json).toEqual({ status: 'error', message: 'bad gateway' });
    expect(res.headers['x-request-id']).toBe('client-request-0502');
  });

  it('slow upstream (no headers within UPSTREAM_TIMEOUT_MS) → 504 gateway timeout', async () => {
    const res = await send(`${pub}/slow?ms=5000`);
    expect(res.status).toBe(504);
    expect(res.json).toEqual({ status: 'error', message: 'gateway timeout' });
  });

  it('an upstream that stalls after the headers: the client connection is cut, never a silently short body', async () => {
    const outcome = await send(`${pub}/slow?ms=5000&stage=body`).then(
      () => 'completed',
      (err: NodeJS.ErrnoException) => err.code ?? err.message,
    );
    expect(outcome).not.toBe('completed');
  });
});

describe('WebSocket proxy (public route)', () => {
  function connectWs(path: string, protocols?: string[]): Promise<WebSocket> {
    const ws = new WebSocket(`${env.base.replace('http', 'ws')}${path}`, protocols);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    });
  }
  const next = (ws: WebSocket) =>
    new Promise<{ data: Buffer; isBinary: boolean }>((resolve) =>
      ws.once('message', (data: Buffer, isBinary) => resolve({ data, isBinary })),
    );
  const closed = (ws: WebSocket) =>
    new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );

  it('echoes text and binary frames with their type; ?token= is removed upstream; subprotocol negotiated', async () => {
    const ws = await connectWs('/ws/pub/room?token=secret-value&room=1&%74oken=again', ['chat.v2', 'chat.v1']);
    expect(ws.protocol).toBe('chat.v2');
    ws.send('hello');
    expect(await next(ws)).toEqual({ data: Buffer.from('hello'), isBinary: false });
    ws.send(Buffer.from([0, 1, 2, 255]));
    expect(await next(ws)).toEqual({ data: Buffer.from([0, 1, 2, 255]), isBinary: true });
    ws.send('whoami');
    const who = JSON.parse((await next(ws)).data.toString());
    expect(who.identity).toMatchObject({ kind: 'public' });
    expect(who.url).toBe('/ws/pub/room?room=1');
    expect(who.protocol).toBe('chat.v2');
    expect(JSON.stringify(who.headers)).not.toContain('secret-value');
    const done = closed(ws);
    ws.close(1000, 'bye');
    expect((await done).code).toBe(1000);
  });

  it('relays the upstream close code and reason', async () => {
    const ws = await connectWs('/ws/pub/room');
    const done = closed(ws);
    ws.send('close 4001 upstream says bye');
    expect(await done).toEqual({ code: 4001, reason: 'upstream says bye' });
  });

  it('large frames in both directions survive backpressure', async () => {
    const ws = await connectWs('/ws/pub/bulk');
    const payload = Buffer.alloc(900 * 1024, 7);
    let got = 0;
    const all = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        got += data.length;
        if (got === payload.length * 20) resolve();
      }),
    );
    for (let i = 0; i < 20; i++) ws.send(payload);
    await all;
    ws.close();
  });

  it('upstream down → the upgrade is answered 502 and nothing is switched', async () => {
    await expect(connectWs('/ws/down/x')).rejects.toThrow('status 502');
  });

  it('an upstream that answers the upgrade without 101 → 502, and the gateway keeps serving', async () => {
    await expect(connectWs('/ws/plain/x')).rejects.toThrow('status 502');
    await expect(connectWs('/ws/plain/y')).rejects.toThrow('status 502');
    expect((await send(`${pub}/echo`)).status).toBe(200);
  });

  it('a malformed handshake is refused before the upstream is dialled', async () => {
    const before = env.stub.received.length;
    const status = await rawStatus(
      env.base,
      '/ws/pub/x',
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n',
    );
    expect(status).toBe(400);
    expect(env.stub.received.length).toBe(before);
  });
});
