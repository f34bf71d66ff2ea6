/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1) in process: the interim 100 only once the gateway wants
 * the body; a request refused before that gets its final answer without 100 and the connection
 * closes, so an unauthenticated client cannot make the gateway swallow its upload.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, statusOf, tokenFor, type TestApp, fastUser } from '../helpers/app.js';
import { makeTenant } from '../helpers/fixtures.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

let t: TestApp;
let upstream: TestUpstream;
let port: number;
let token: string;

beforeAll(async () => {
  upstream = await startTestUpstream();
  t = await startApp({ env: { UPSTREAM_URL: upstream.url } });
  port = Number(new URL(t.url).port);
  token = await tokenFor(t, await fastUser(t.db, await makeTenant(t.db)));
});
afterAll(async () => {
  await t?.close();
  await upstream?.stop();
});

/**
 * Sends the head with `Expect: 100-continue`, then the body only if `100 Continue` arrives.
 * Resolves with what the gateway wrote first and everything it wrote.
 */
function exchange(head: string, body: string): Promise<{ first: string; all: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`${head}\r\nExpect: 100-continue\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`),
    );
    let all = '';
    let first = '';
    socket.setEncoding('latin1');
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on('data', (d: string) => {
      if (first === '') {
        first = d;
        if (d.startsWith('HTTP/1.1 100')) socket.write(body);
      }
      all += d;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ first, all }));
  });
}

describe('expect-continue', () => {
  it('a gateway route asks for the body when it reads it', async () => {
    const { first, all } = await exchange(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json',
      '{"email":"x@y.z","password":"p"}',
    );
    expect(first).toMatch(/^HTTP\/1\.1 100 Continue/);
    expect(all).toMatch(/HTTP\/1\.1 401 /);
  });

  it('a gateway route refusing on headers answers at once, without 100, and closes', async () => {
    const { first } = await exchange(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain',
      'x'.repeat(100),
    );
    expect(statusOf(first)).toBe(415);
    expect(first.toLowerCase()).toContain('connection: close');
  });

  it('an unauthenticated proxied request: 401 without 100, the body never read', async () => {
    const before = upstream.received.length;
    const { first } = await exchange(
      'POST /api/v1/upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream',
      'x'.repeat(10_000),
    );
    expect(statusOf(first)).toBe(401);
    expect(upstream.received.length).toBe(before);
  });

  it('an authenticated proxied request gets 100 and reaches the upstream', async () => {
    const { first, all } = await exchange(
      `POST /api/v1/upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/octet-stream`,
      'payload',
    );
    expect(first).toMatch(/^HTTP\/1\.1 100 Continue/);
    expect(all).toMatch(/HTTP\/1\.1 200 /);
    expect(upstream.received.at(-1)?.headers).not.toHaveProperty('expect');
  });
});
