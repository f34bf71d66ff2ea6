/** Host validation (RFC 9112 §3.2): one Host line, and its value an authority; else 400. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatewayError } from '../../gateway/errors.js';
import { checkHost } from '../../gateway/http/host.js';
import { rawExchange, startProbe, statusOf } from '../helpers/app.js';

let probe: Awaited<ReturnType<typeof startProbe>>;

beforeAll(async () => {
  probe = await startProbe((req, res) => {
    try {
      checkHost(req);
      res.end('ok');
    } catch (err) {
      res.writeHead(isGatewayError(err) && err.code === 'INVALID_HOST' ? err.status : 500).end();
    }
  });
});
afterAll(() => probe?.close());

const status = async (hostLines: string) =>
  statusOf(await rawExchange(probe.port, `GET / HTTP/1.1\r\n${hostLines}Connection: close`));

describe('checkHost', () => {
  it.each(['example.com', 'example.com:8080', '127.0.0.1:1', '[::1]:443', 'xn--bcher-kva.example', 'a_b.internal'])(
    'accepts %s',
    async (host) => {
      expect(await status(`Host: ${host}\r\n`)).toBe(200);
    },
  );

  it.each([
    'user@evil.example',
    'example.com/path',
    'example.com?x=1',
    'example.com#f',
    'example.com:port',
    'a b',
    '[not-ip]',
    'example.com:123456',
  ])('refuses %s with INVALID_HOST', async (host) => {
    expect(await status(`Host: ${host}\r\n`)).toBe(400);
  });

  it('refuses a second Host line, whatever its case', async () => {
    expect(await status('Host: a.example\r\nhOsT: b.example\r\n')).toBe(400);
  });
});
