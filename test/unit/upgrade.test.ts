/**
 * Upgrades the gateway does not perform (h2c, WebSocket handshakes on HTTP routes) are answered
 * as the plain request; with a body they are a 400; CONNECT is a 405. In process, on raw sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter } from '../../gateway/http/router.js';
import { isWebSocketUpgradeForRoute } from '../../gateway/http/upgrade.js';
import { DEFAULT_PROXY_ROUTES } from '../../gateway/config/index.js';
import { rawExchange, startApp, statusOf, tokenFor, type TestApp, fastUser } from '../helpers/app.js';
import { makeTenant } from '../helpers/fixtures.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

let t: TestApp;
let upstream: TestUpstream;
let token: string;
let port: number;

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

const WS_HEADERS =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13';
const body = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as unknown;

describe('upgrades the gateway ignores', () => {
  it('h2c on a gateway route: answered as the plain request, then closed', async () => {
    const raw = await rawExchange(
      port,
      `GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nAuthorization: Bearer ${token}`,
    );
    expect(statusOf(raw)).toBe(200);
    expect(raw.toLowerCase()).toContain('connection: close');
  });

  it('a WebSocket handshake on an HTTP route reaches the route as a plain request', async () => {
    const raw = await rawExchange(
      port,
      `GET /api/v1/plain HTTP/1.1\r\nHost: x\r\n${WS_HEADERS}\r\nAuthorization: Bearer ${token}`,
    );
    expect(statusOf(raw)).toBe(200);
    expect(upstream.received.at(-1)?.path).toBe('/api/v1/plain');
  });

  it('…and without a token it is the usual 401', async () => {
    const raw = await rawExchange(port, `GET /api/v1/plain HTTP/1.1\r\nHost: x\r\n${WS_HEADERS}`);
    expect(statusOf(raw)).toBe(401);
    expect(body(raw)).toEqual({ status: 'error', message: 'missing or invalid authorization header' });
  });

  it('an ignored upgrade with a body → 400, never a hang', async () => {
    const raw = await rawExchange(
      port,
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Type: application/json\r\nContent-Length: 2',
      '{}',
    );
    expect(statusOf(raw)).toBe(400);
    expect(body(raw)).toEqual({ status: 'error', message: 'upgrade not supported on a request with a body' });
  });

  it('CONNECT → 405 in the envelope', async () => {
    const raw = await rawExchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443');
    expect(statusOf(raw)).toBe(405);
    expect(body(raw)).toEqual({ status: 'error', message: 'method not allowed' });
  });
});

describe('isWebSocketUpgradeForRoute', () => {
  const router = createRouter(DEFAULT_PROXY_ROUTES);
  const req = (url: string, upgrade?: string) => ({ url, headers: upgrade === undefined ? {} : { upgrade } }) as never;
  it('only a websocket upgrade to a websocket route', () => {
    expect(isWebSocketUpgradeForRoute(req('/ws/agent', 'websocket'), router)).toBe(true);
    expect(isWebSocketUpgradeForRoute(req('/ws/agent?x=1', 'h2c, WebSocket'), router)).toBe(true);
    expect(isWebSocketUpgradeForRoute(req('/api/v1/x', 'websocket'), router)).toBe(false);
    expect(isWebSocketUpgradeForRoute(req('/ws/agent', 'h2c'), router)).toBe(false);
    expect(isWebSocketUpgradeForRoute(req('/ws/agent'), router)).toBe(false);
  });
  it('an invalid path counts as one (the upgrade path refuses it)', () => {
    expect(isWebSocketUpgradeForRoute(req('/ws/%2e%2e/%00', 'websocket'), router)).toBe(true);
  });
});
