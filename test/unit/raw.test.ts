/** refuseUpgrade: a real HTTP answer in the error envelope on a raw socket, then close. */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { refuseUpgrade } from '../../gateway/http/raw.js';
import { rawExchange, statusOf } from '../helpers/app.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A TCP server that refuses whatever connects with `err`; resolves with the raw answer and the returned status. */
async function refusal(err: unknown): Promise<{ raw: string; returned: number }> {
  let returned = 0;
  server = createServer((socket) => {
    socket.once('data', () => {
      returned = refuseUpgrade(socket, err, 'req-id-12345678');
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const raw = await rawExchange(port, 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade');
  return { raw, returned };
}

describe('refuseUpgrade', () => {
  it('writes status, envelope, request id, Connection: close and Retry-After', async () => {
    const { raw, returned } = await refusal(new GatewayError('TOO_MANY_REQUESTS', { retryAfter: 3 }));
    expect(returned).toBe(429);
    expect(statusOf(raw)).toBe(429);
    expect(raw).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
    expect(raw).toContain('\r\nX-Request-Id: req-id-12345678\r\n');
    expect(raw).toContain('\r\nConnection: close\r\n');
    expect(raw).toContain('\r\nRetry-After: 3\r\n');
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(body)).toEqual({ status: 'error', message: 'too many requests' });
    expect(raw).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
  });

  it('a 401 names the Bearer scheme', async () => {
    const { raw } = await refusal(new GatewayError('UNAUTHENTICATED'));
    expect(raw).toContain('WWW-Authenticate: Bearer realm="get2dial"');
  });

  it('an unknown error is a generic 500, without its message', async () => {
    const { raw, returned } = await refusal(new Error('secret internals'));
    expect(returned).toBe(500);
    expect(raw).not.toContain('secret internals');
    expect(raw).toContain('"message":"internal server error"');
  });
});
