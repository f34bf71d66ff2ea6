/**
 * The whole gateway in process for unit tests of routes, auth and proxy modules: `createApp` on port
 * 0 with the in-process (memory) auth state store and a manual clock, against a database of its own
 * on the run's real Postgres (created and migrated here, dropped by `close()`). No process boundary,
 * no Redis: where those matter, test/e2e/ spawns the real thing (spawn-gateway.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createApp, type App } from '../../gateway/app.js';
import { createPasswordHasher } from '../../gateway/auth/passwords.js';
import type { Clock } from '../../gateway/clock.js';
import { loadConfig } from '../../gateway/config/index.js';
import { createLogger } from '../../gateway/ops/logger.js';
import { createMemoryStateStore } from '../../gateway/store/memory.js';
import { migrate } from '../../gateway/store/migrate.js';
import { createPg, type Db } from '../../gateway/store/pg.js';
import type { Tenant } from '../../gateway/store/tenants.js';
import { makeUser } from './fixtures.js';
import { createDatabase, dropDatabase } from './services.js';

export const APP_JWT_SECRET = 'unit-app-secret-unit-app-secret-0123456789';

/** Cheapest argon2 parameters: unit tests check behaviour, not hashing cost. */
export const FAST_ARGON2 = { PASSWORD_ARGON2_MEMORY_KIB: '1024', PASSWORD_ARGON2_TIME_COST: '1' } as const;

export interface TestApp {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly app: App;
  /** The clock every part of the app reads: move it to expire tokens, lockouts, tickets. */
  readonly clock: TestClock;
  /** A second connection to the app's own database, for fixtures and checks. */
  readonly db: Db;
  readonly databaseUrl: string;
  close(): Promise<void>;
}

/**
 * The injected clock: follows real time shifted by whatever `advance` added (rows Postgres stamps
 * with now() stay in order with it), or stands still at a time `freeze` set.
 */
export interface TestClock extends Clock {
  advance(ms: number): void;
  freeze(ms?: number): void;
}

export function testClock(): TestClock {
  let offset = 0;
  let frozen: number | null = null;
  return {
    now: () => frozen ?? Date.now() + offset,
    advance(ms) {
      if (frozen !== null) frozen += ms;
      else offset += ms;
    },
    freeze(ms) {
      frozen = ms ?? Date.now() + offset;
    },
  };
}

export interface StartAppOptions {
  /** Environment overrides on top of the test defaults (routes file, limits, secrets…). */
  readonly env?: Record<string, string>;
  /**
   * `fresh` (default): a migrated database of its own, dropped by close(). `shared`: the run's
   * database (faster; for apps that write nothing another test file could trip over).
   */
  readonly database?: 'fresh' | 'shared';
  /** A route table (GATEWAY_ROUTES_FILE), written to a temporary file removed by close(). */
  readonly routes?: readonly unknown[];
}

/** A migrated database of its own on the run's Postgres. */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = inject('postgresAdminUrl');
  const url = await createDatabase(admin);
  const db = createPg({ url, poolSize: 1 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  return { url, drop: () => dropDatabase(admin, url) };
}

/**
 * Starts the gateway in process. Defaults: NODE_ENV=test, silent logs, fast argon2, a generous
 * per-IP login limit, memory state store on the injected clock, a fresh database.
 */
export async function startApp(options: StartAppOptions = {}): Promise<TestApp> {
  const database =
    options.database === 'shared' ? { url: inject('databaseUrl'), drop: async () => {} } : await freshDatabase();
  const clock = testClock();
  const routesDir = options.routes ? mkdtempSync(join(tmpdir(), 'g2d-unit-routes-')) : null;
  if (routesDir) writeFileSync(join(routesDir, 'routes.json'), JSON.stringify(options.routes));
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: database.url,
    AUTH_JWT_SECRET: APP_JWT_SECRET,
    AUTH_LOGIN_IP_LIMIT: '100000',
    LOG_LEVEL: 'silent',
    ...FAST_ARGON2,
    ...(routesDir ? { GATEWAY_ROUTES_FILE: join(routesDir, 'routes.json') } : {}),
    // Platform admins log in with a password alone unless a test asks for the MFA requirement.
    AUTH_MFA_REQUIRED_ROLES: '',
    ...options.env,
  });
  const log = createLogger({ level: 'silent', format: 'json' });
  const app = await createApp(config, { log, clock, state: createMemoryStateStore(clock) });
  const address = await app.listen();
  const db = createPg({ url: database.url, poolSize: 2 });
  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    clock,
    db,
    databaseUrl: database.url,
    async close() {
      await app.close();
      await db.close();
      await database.drop().catch(() => {});
      if (routesDir) rmSync(routesDir, { recursive: true, force: true });
    },
  };
}

/**
 * A bare node:http server on port 0 whose handler exercises one module against real requests
 * (client-ip, host, cors, body…): what the module sees is what a socket delivered.
 */
export async function startProbe(
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(599, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes `head` (request line and headers, CRLF-separated, without the blank line) and `body` raw; resolves with everything read until close. */
export function rawExchange(port: number, head: string, body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\n\r\n${body}`));
    let data = '';
    socket.setEncoding('latin1');
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(data));
  });
}

/** The status code of a raw HTTP/1.1 answer (0 when none). */
export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  return m ? Number(m[1]) : 0;
}

/** Logs `user` in through the app's own login route and returns the access token. */
export async function tokenFor(
  t: Pick<TestApp, 'url'>,
  user: { email: string; password: string },
  tenantDomain?: string,
): Promise<string> {
  const res = await fetch(`${t.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: user.email,
      password: user.password,
      ...(tenantDomain ? { tenant_domain: tenantDomain } : {}),
    }),
  });
  const body = (await res.json()) as { data?: { token?: string } };
  if (res.status !== 200 || !body.data?.token) throw new Error(`login failed for ${user.email}: ${res.status}`);
  return body.data.token;
}

const fastHasher = createPasswordHasher(loadConfig(FAST_ARGON2).passwords);

/**
 * fixtures.makeUser with a hash of FAST_ARGON2 cost: every later verify of it is cheap too (argon2
 * reads its parameters from the hash), and an app started by startApp does not rehash it.
 */
export async function fastUser(
  db: Db,
  tenant: Tenant,
  options: Omit<Parameters<typeof makeUser>[2] & object, 'passwordHash'> = {},
): Promise<Awaited<ReturnType<typeof makeUser>>> {
  const password = options.password ?? `pw-${randomBytes(8).toString('hex')}`;
  return makeUser(db, tenant, { ...options, password, passwordHash: await fastHasher.hash(password) });
}
