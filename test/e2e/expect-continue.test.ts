/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1) is answered only after authentication: a request
 * without a valid token gets its 401 at once, no `100 Continue`, and the connection closes with
 * its body unread; an authenticated one gets `100 Continue`, sends its body and is proxied.
 * Gateway-owned routes answer 100 when they read the body. Raw sockets: fetch hides the 100.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser } from '../helpers/fixtures.js';
import { startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let env: ProxyEnv;
let user: { email: string; password: string; domain: string; token: string };

beforeAll(async () => {
  env = await startProxyEnv([{ prefix: '/api/v1', upstream: '{STUB}', auth: 'user' }], {}, 'expect-continue');
  const tenant = await makeTenant(db);
  const made = await makeUser(db, tenant);
  const login = await call(`${env.base}/api/v1/auth/login`, {
    method: 'POST',
    json: { email: made.email, password: made.password, tenant_domain: tenant.domain },
  });
  expect(login.status).toBe(200);
  user = { email: made.email, password: made.password, domain: tenant.domain, token: login.body.data.token as string };
});

afterAll(async () => {
  await env?.close();
  await db.close();
});

/** A raw connection that records what the gateway wrote and when it closed. */
interface Raw {
  readonly socket: Socket;
  text(): string;
  /** Resolves once `pattern` is in what was received (rejects after `ms`). */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  /** Resolves when the gateway ended or closed the connection (rejects after `ms`). */
  closed(ms?: number): Promise<void>;
}

function open(head: string): Promise<Raw> {
  const { hostname, port } = new URL(env.base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(head);
      resolve(raw);
    });
    let data = '';
    let ended = false;
    const listeners = new Set<() => void>();
    const notify = () => listeners.forEach((l) => l());
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      data += d;
      notify();
    });
    socket.on('end', () => {
      ended = true;
      notify();
    });
    socket.on('close', () => {
      ended = true;
      notify();
    });
    socket.on('error', (err) => {
      ended = true;
      notify();
      reject(err);
    });
    const until = (done: () => boolean, ms: number, what: string) =>
      new Promise<void>((res, rej) => {
        if (done()) return res();
        const timer = setTimeout(() => {
          listeners.delete(check);
          rej(new Error(`timed out waiting for ${what}; received ${JSON.stringify(data.slice(0, 300))}`));
        }, ms);
        const check = () => {
          if (!done()) return;
          clearTimeout(timer);
          listeners.delete(check);
          res();
        };
        listeners.add(check);
      });
    const raw: Raw = {
      socket,
      text: () => data,
      waitFor: async (pattern, ms = 3000) => {
        await until(() => pattern.test(data), ms, String(pattern));
        return data;
      },
      closed: (ms = 3000) => until(() => ended, ms, 'the connection to close'),
    };
  });
}

const headOf = (method: string, path: string, headers: Record<string, string>) =>
  `${method} ${path} HTTP/1.1\r\nHost: gateway.test\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

const bodyOf = (text: string) => text.slice(text.indexOf('\r\n\r\n', text.lastIndexOf('HTTP/1.1 ')) + 4);

describe('Expect: 100-continue on a proxied user route', () => {
  it.each([
    ['no token', {}],
    ['an invalid token', { Authorization: 'Bearer not.a.token' }],
  ])('%s: 401 at once, no 100 Continue, connection closed with the body unread', async (_name, auth) => {
    const received = env.stub.received.length;
    const started = Date.now();
    const c = await open(
      headOf('PUT', '/api/v1/stream/upload', {
        ...auth,
        Expect: '100-continue',
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(10 * 1024 ** 3),
      }),
    );
    const text = await c.waitFor(/\r\n\r\n[\s\S]*\}/);
    await c.closed();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(text).not.toMatch(/100 Continue/i);
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text).toMatch(/\r\nconnection: close\r\n/i);
    expect(text).toMatch(/\r\nwww-authenticate: Bearer/i);
    expect(JSON.parse(bodyOf(text))).toEqual({ status: 'error', message: 'missing or invalid authorization header' });
    expect(env.stub.received.length).toBe(received);
    c.socket.destroy();
  });

  it('a valid token: 100 Continue, then the body goes upstream and the response comes back', async () => {
    const body = randomBytes(256 * 1024);
    const c = await open(
      headOf('PUT', '/api/v1/stream/upload', {
        Authorization: `Bearer ${user.token}`,
        Expect: '100-continue',
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(body.length),
        Connection: 'close',
      }),
    );
    const interim = await c.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    expect(interim).not.toMatch(/HTTP\/1\.1 [2-5]\d\d /);
    c.socket.write(body);
    const text = await c.waitFor(/HTTP\/1\.1 200 [\s\S]*\r\n\r\n[\s\S]*\}\}/);
    expect(JSON.parse(bodyOf(text)).data).toEqual({
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
    });
    c.socket.destroy();
  });
});

describe('Expect: 100-continue on gateway-owned routes', () => {
  it('login: 100 Continue, then the JSON body is read and a token comes back', async () => {
    const json = JSON.stringify({ email: user.email, password: user.password, tenant_domain: user.domain });
    const c = await open(
      headOf('POST', '/api/v1/auth/login', {
        Expect: '100-continue',
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(json)),
        Connection: 'close',
      }),
    );
    await c.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    c.socket.write(json);
    const text = await c.waitFor(/HTTP\/1\.1 200 [\s\S]*\r\n\r\n\{[\s\S]*\}\}\s*$/);
    expect(typeof JSON.parse(bodyOf(text)).data.token).toBe('string');
    c.socket.destroy();
  });

  it('me/password without a token: 401, no 100 Continue, closed', async () => {
    const c = await open(
      headOf('POST', '/api/v1/auth/me/password', {
        Expect: '100-continue',
        'Content-Type': 'application/json',
        'Content-Length': '100000',
      }),
    );
    const text = await c.waitFor(/\r\n\r\n[\s\S]*\}/);
    await c.closed();
    expect(text).not.toMatch(/100 Continue/i);
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
  });

  it('login with a non-JSON Content-Type: 415, no 100 Continue, closed without waiting for the body', async () => {
    const c = await open(
      headOf('POST', '/api/v1/auth/login', {
        Expect: '100-continue',
        'Content-Type': 'text/plain',
        'Content-Length': '500000',
      }),
    );
    const text = await c.waitFor(/\r\n\r\n[\s\S]*\}/);
    await c.closed();
    expect(text).not.toMatch(/100 Continue/i);
    expect(text).toMatch(/^HTTP\/1\.1 415 /);
  });
});
