/**
 * WebSocket upgrade queries reach the upstream byte for byte, as HTTP queries do: only the
 * gateway's own credential parameters are removed; nothing is re-encoded, reordered or merged.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';

let env: ProxyEnv;

beforeAll(async () => {
  env = await startProxyEnv(
    [
      { prefix: '/ws/pub', upstream: '{STUB}', auth: 'public', websocket: true },
      { prefix: '/api/v1/pub', upstream: '{STUB}', auth: 'public' },
    ],
    {},
    'proxy-ws-query',
  );
});

afterAll(async () => {
  await env?.close();
});

/** A raw upgrade (the query exactly as written, bytes ≥ 0x80 included); resolves once the 101 arrived, with the status. */
function rawUpgrade(target: Buffer): Promise<number> {
  const { port } = new URL(env.base);
  return new Promise((resolve) => {
    const s = connect(Number(port), '127.0.0.1', () => {
      s.write(
        Buffer.concat([
          Buffer.from('GET '),
          target,
          Buffer.from(
            ' HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
          ),
        ]),
      );
    });
    let data = '';
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('\r\n\r\n')) s.destroy();
    });
    const done = () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0));
    s.on('close', done);
    s.on('error', done);
  });
}

/** An HTTP GET whose request-target is written as given (a URL string would be re-encoded by the client); resolves with the JSON body. */
function rawGet(target: string): Promise<{ data: { query: string } }> {
  const { hostname, port } = new URL(env.base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path: target, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.end();
  });
}

const QUERIES: [string, string][] = [
  ['a=%2F&b=+&c', 'a=%2F&b=+&c'],
  ['a=1&a=2&b=&c=&a=3', 'a=1&a=2&b=&c=&a=3'],
  ["q='x'&r=(y)!*~&s=%27", "q='x'&r=(y)!*~&s=%27"],
  ['e=%C3%A9&f=%e2%82%ac&g=%7e', 'e=%C3%A9&f=%e2%82%ac&g=%7e'],
  ['z=1&y=2&x=3', 'z=1&y=2&x=3'],
  ['a=1&&b=2&', 'a=1&&b=2&'],
  ['h=a|b^c{d}', 'h=a|b^c{d}'],
  ['k="v"<w>`', 'k="v"<w>`'],
  ['token=abc&room=1&%74oken=def&ticket=t&TOKEN=x', 'room=1'],
];

describe('WebSocket upgrade queries byte for byte', () => {
  it.each(QUERIES)('?%s', async (query, expected) => {
    const before = env.stub.received.length;
    expect(await rawUpgrade(Buffer.from(`/ws/pub/room?${query}`, 'latin1'))).toBe(101);
    const seen = env.stub.received.slice(before).at(-1);
    expect(seen).toBe(`/ws/pub/room?${expected}`);
    // …exactly what an HTTP request with the same query delivers.
    expect((await rawGet(`/api/v1/pub/echo?${query}`)).data.query).toBe(expected);
  });

  it('raw (unencoded) UTF-8 in a request-target is refused by the HTTP parser, for upgrades and requests alike', async () => {
    const before = env.stub.received.length;
    expect(await rawUpgrade(Buffer.concat([Buffer.from('/ws/pub/room?name='), Buffer.from('é', 'utf8')]))).toBe(400);
    expect(env.stub.received.length).toBe(before);
  });
});
