/**
 * CORS on proxied responses with HTTP_ALLOWED_ORIGINS set: an upstream's Access-Control-* headers
 * reach only listed origins (never an unlisted one, nor a request without Origin), the gateway's
 * Access-Control-Allow-Origin wins, and Vary / Access-Control-Expose-Headers are merged with the
 * upstream's, never replaced.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterResponseHeaders } from '../../gateway/proxy/headers.js';
import { send, startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';

const LISTED = 'https://app.example.com';
let env: ProxyEnv;
let upstream: Server;

beforeAll(async () => {
  // An upstream that runs its own (permissive) CORS, as many frameworks do by default.
  upstream = createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/json',
      vary: 'Accept-Encoding',
      'access-control-allow-origin': '*',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'X-Total-Count',
    });
    res.end('{"status":"success","data":{}}');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  env = await startProxyEnv(
    [{ prefix: '/api/v1/pub', upstream: url, auth: 'public' }],
    { HTTP_ALLOWED_ORIGINS: LISTED },
    'proxy-cors',
  );
});

afterAll(async () => {
  await env?.close();
  await new Promise((resolve) => upstream.close(resolve));
});

const accessControl = (headers: Record<string, unknown>) =>
  Object.keys(headers).filter((k) => k.startsWith('access-control-'));
const varyOf = (v: unknown) =>
  String(v)
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .sort();

describe('upstream CORS headers under HTTP_ALLOWED_ORIGINS', () => {
  it('an unlisted origin gets none of them; Vary keeps Origin and the upstream’s Accept-Encoding', async () => {
    const res = await send(`${env.base}/api/v1/pub/x`, { headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(200);
    expect(accessControl(res.headers)).toEqual([]);
    expect(varyOf(res.headers.vary)).toEqual(['accept-encoding', 'origin']);
  });

  it('a request without Origin gets none of them either', async () => {
    const res = await send(`${env.base}/api/v1/pub/x`);
    expect(accessControl(res.headers)).toEqual([]);
    expect(varyOf(res.headers.vary)).toEqual(['accept-encoding', 'origin']);
  });

  it('a listed origin: the gateway’s Allow-Origin, the upstream’s other headers, merged lists', async () => {
    const res = await send(`${env.base}/api/v1/pub/x`, { headers: { origin: LISTED } });
    expect(res.headers['access-control-allow-origin']).toBe(LISTED);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(String(res.headers['access-control-expose-headers'])).toMatch(/X-Request-Id.*X-Total-Count/);
    expect(varyOf(res.headers.vary)).toEqual(['accept-encoding', 'origin']);
  });

  it('without an allow-list the upstream’s CORS passes as it is (its own business)', () => {
    const out = filterResponseHeaders({ 'access-control-allow-origin': '*', vary: 'Accept-Encoding' }, 'id', {
      dropAccessControl: false,
      res: { getHeader: (n) => (n === 'vary' ? 'Origin' : undefined) },
    });
    expect(out['access-control-allow-origin']).toBe('*');
    expect(out.vary).toBe('Origin, Accept-Encoding');
  });
});
