/**
 * The WebSocket proxy in process, in front of a real echo upstream on port 0: frames both ways,
 * close codes relayed, handshakes checked before the upstream is dialled, per-identity limit,
 * unreachable upstream as 502.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { deadPort } from '../helpers/proxy-env.js';
import { rawExchange, startApp, statusOf, tokenFor, type TestApp, fastUser } from '../helpers/app.js';
import { makeTenant } from '../helpers/fixtures.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';
import { waitFor } from '../helpers/spawn-gateway.js';

let t: TestApp;
let upstream: TestUpstream;
let token: string;
let wsBase: string;

beforeAll(async () => {
  upstream = await startTestUpstream();
  const dead = await deadPort();
  t = await startApp({
    env: { WS_MAX_PER_IDENTITY: '2' },
    routes: [
      { prefix: '/ws/dead', upstream: `http://127.0.0.1:${dead}`, auth: 'user', websocket: true },
      { prefix: '/ws/agent', upstream: upstream.url, auth: 'user', websocket: true },
    ],
  });
  wsBase = t.url.replace('http', 'ws');
  token = await tokenFor(t, await fastUser(t.db, await makeTenant(t.db)));
});
afterAll(async () => {
  await t?.close();
  await upstream?.stop();
});

function connect(path: string, tk = token): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsBase}${path}`, { headers: tk ? { authorization: `Bearer ${tk}` } : {} });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', () => resolve(0));
  });
}

describe('createWsProxy', () => {
  it('relays text and binary frames both ways', async () => {
    const ws = (await connect('/ws/agent')) as WebSocket;
    const echoes: string[] = [];
    ws.on('message', (data: Buffer, isBinary) => echoes.push(`${isBinary ? 'bin' : 'txt'}:${data.toString()}`));
    ws.send('hello');
    ws.send(Buffer.from('bytes'), { binary: true });
    await waitFor(() => echoes.length === 2, { timeoutMs: 10_000, what: 'echoes' });
    expect(echoes).toEqual(['txt:hello', 'bin:bytes']);
    ws.close(1000);
  });

  it('relays an application close code to the upstream', async () => {
    const ws = (await connect('/ws/agent')) as WebSocket;
    const before = upstream.wsCloses.length;
    ws.close(4001, 'bye');
    await waitFor(() => upstream.wsCloses.length > before, { timeoutMs: 10_000, what: 'upstream close' });
    expect(upstream.wsCloses.at(-1)).toBe(4001);
  });

  it('no token → 401; the query token works on upgrades', async () => {
    expect(await connect('/ws/agent', '')).toBe(401);
    const ws = await connect(`/ws/agent?token=${token}`, '');
    expect(ws).toBeInstanceOf(WebSocket);
    (ws as WebSocket).close();
  });

  it('an invalid handshake → 400 before any upstream is dialled', async () => {
    const port = Number(new URL(t.url).port);
    const raw = await rawExchange(
      port,
      `GET /ws/agent HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}`,
    );
    expect(statusOf(raw)).toBe(400);
    expect(raw).toContain('"message":"invalid websocket handshake"');
  });

  it('an unreachable upstream → 502', async () => {
    expect(await connect('/ws/dead')).toBe(502);
  });

  it('WS_MAX_PER_IDENTITY: the next socket of the same identity → 429 until one closes', async () => {
    const own = await tokenFor(t, await fastUser(t.db, await makeTenant(t.db)));
    const a = (await connect('/ws/agent', own)) as WebSocket;
    const b = (await connect('/ws/agent', own)) as WebSocket;
    expect(await connect('/ws/agent', own)).toBe(429);
    a.close();
    const c = await waitFor(
      async () => {
        const r = await connect('/ws/agent', own);
        return r instanceof WebSocket ? r : null;
      },
      { timeoutMs: 10_000, what: 'a free slot' },
    );
    b.close();
    c.close();
  });
});
