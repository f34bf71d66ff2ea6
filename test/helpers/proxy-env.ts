/**
 * The real gateway in process (createApp on port 0, real Postgres and Redis) in front of the real
 * upstream stub, which verifies the gateway's assertions through its JWKS URL. Plus small raw-HTTP
 * helpers: fetch cannot send hop-by-hop headers or ambiguous paths, and buffers nothing we stream.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { inject } from 'vitest';
import { createApp, type App } from '../../gateway/app.js';
import { loadConfig } from '../../gateway/config/index.js';
import { createLogger } from '../../gateway/ops/logger.js';
import { createStub, type Stub } from '../../upstream-stub/server.js';

export const AUDIENCE = 'get2dial-upstream';
export const JWT_SECRET = 'proxy-e2e-secret-proxy-e2e-secret-0123456789';

export interface ProxyEnv {
  readonly app: App;
  readonly stub: Stub;
  /** http://127.0.0.1:<gateway port> */
  readonly base: string;
  /** A port nothing listens on. */
  readonly deadPort: number;
  close(): Promise<void>;
}

/** A port that was free a moment ago (bound, then released). */
export async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * Starts the stub, then the gateway with a route table (`{STUB}` and `{DEAD}` in upstream URLs are
 * replaced), then points the stub at the gateway's JWKS.
 */
export async function startProxyEnv(
  routes: unknown[],
  env: Record<string, string> = {},
  label = 'proxy',
): Promise<ProxyEnv> {
  let base = '';
  const stub = await createStub({ audience: AUDIENCE, jwksUrl: () => `${base}/.well-known/jwks.json` });
  const dead = await deadPort();
  const dir = mkdtempSync(join(tmpdir(), 'g2d-routes-'));
  const file = join(dir, 'routes.json');
  writeFileSync(
    file,
    JSON.stringify(routes).replaceAll('{STUB}', stub.url).replaceAll('{DEAD}', `http://127.0.0.1:${dead}`),
  );
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `${inject('redisPrefix')}${label}:`,
    AUTH_JWT_SECRET: JWT_SECRET,
    AUTH_LOGIN_IP_LIMIT: '100000',
    IDENTITY_AUDIENCE: AUDIENCE,
    GATEWAY_ROUTES_FILE: file,
    LOG_LEVEL: 'silent',
    // Platform admins here sign in with a password alone (test/e2e/mfa.test.ts covers the default).
    AUTH_MFA_REQUIRED_ROLES: '',
    ...env,
  });
  const app = await createApp(config, { log: createLogger({ level: 'silent', format: 'json' }) });
  const address = await app.listen();
  base = `http://127.0.0.1:${address.port}`;
  return {
    app,
    stub,
    base,
    deadPort: dead,
    async close() {
      await app.close();
      await stub.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  json: any;
}

/** node:http request (no agent: one connection per call), optional streamed body; buffers the (small) answer. */
export function send(
  url: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: Readable | string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        let json: unknown = null;
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    if (options.body === undefined) req.end();
    else if (typeof options.body === 'string') req.end(options.body);
    else options.body.pipe(req);
  });
}

/** Opens a response without reading it (the caller streams the body). */
export function open(
  url: string,
  options: { method?: string; headers?: OutgoingHttpHeaders } = {},
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, resolve);
    req.on('error', reject);
    req.end();
  });
}

/** Writes a raw request-target the way an attacker would (no client-side normalization); resolves with the status. */
export function rawStatus(base: string, target: string, extra = ''): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${extra}Connection: close\r\n\r\n`);
    });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : 0);
    });
  });
}
