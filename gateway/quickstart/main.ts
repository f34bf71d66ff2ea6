/**
 * `npm start`: the whole thing on one machine with nothing installed but Node (README.md).
 * Embedded Postgres (PGlite) unless DATABASE_URL is set, the in-process auth state store unless
 * REDIS_URL is set (createApp warns that it is single-instance), dev secrets generated once under
 * the data directory, the upstream stub in process, demo data, and a banner with copy-paste
 * commands. Everything binds to 127.0.0.1 unless HOST says otherwise. Never in production.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { createApp, type App } from '../app.js';
import { createPasswordHasher } from '../auth/passwords.js';
import { loadQuickstartConfig, withOverrides } from '../config/quickstart.js';
import type { Config } from '../config/types.js';
import { createLogger } from '../ops/logger.js';
import type { EmbeddedPostgres } from '../store/embedded.js';
import { migrate } from '../store/migrate.js';
import { createPg } from '../store/pg.js';
import { renderBanner } from './banner.js';
import { removeDatabaseUrl, writeDatabaseUrl } from './runtime-file.js';
import { withDevDefaults } from './dev-defaults.js';
import { DEMO_TENANT_DOMAIN, DEMO_USERS, seedDemo, type SeedResult } from './seed.js';
import { startQuickstartStub, type QuickstartStub, type StubFactory } from './stub.js';

interface Running {
  embedded?: EmbeddedPostgres;
  /** Set once `<dataDir>/database-url` was written: removed again on the way out. */
  dataDir?: string;
  stub?: QuickstartStub;
  app?: App;
}

async function closeAll(running: Running): Promise<void> {
  // Gateway first (drains requests that still need the stub and the database), then the rest.
  await running.app?.close().catch(() => {});
  await running.stub?.close().catch(() => {});
  await running.embedded?.close().catch(() => {});
  if (running.dataDir) removeDatabaseUrl(running.dataDir);
}

async function prepareDatabase(config: Config, log: Logger): Promise<SeedResult> {
  if (!config.database.url) throw new Error('quickstart: no database URL');
  const db = createPg({
    url: config.database.url,
    poolSize: 1,
    ssl: config.database.ssl,
    applicationName: 'get2dial-quickstart',
  });
  try {
    const { applied } = await migrate(db);
    if (applied.length > 0) log.info({ applied }, 'quickstart: migrations applied');
    return await seedDemo({ db, passwords: createPasswordHasher(config.passwords), log }, config.dataDir);
  } finally {
    await db.close();
  }
}

/** The checkout this file runs from (where `npm run cli` runs, whatever the caller's directory). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The banner's admin CLI line: it runs as pasted from the checkout (the CLI reads `<dataDir>/database-url`). */
function cliLine(dataDir: string): string {
  const prefix = dataDir === join(packageRoot(), '.data') ? '' : `GATEWAY_DATA_DIR=${dataDir} `;
  return `${prefix}npm run -s cli -- node list --tenant ${DEMO_TENANT_DOMAIN}`;
}

async function start(running: Running, startedAt: number, createStub: StubFactory): Promise<void> {
  const qs = loadQuickstartConfig();
  let config = qs.config;
  const log = createLogger(config.log);

  // Said before the slow part, in plain text (the pretty log runs in a worker and may lag).
  if (!config.database.url) process.stdout.write(`starting embedded Postgres (PGlite) in ${config.dataDir}…\n`);
  const defaults = await withDevDefaults(config, log);
  config = defaults.config;
  if (defaults.embedded) {
    running.embedded = defaults.embedded;
    // The admin CLI reads it when no DATABASE_URL is set (gateway/cli/main.ts).
    writeDatabaseUrl(config.dataDir, defaults.embedded.url);
    running.dataDir = config.dataDir;
  }
  const seed = await prepareDatabase(config, log);

  let upstreamUrl = config.upstreamUrl;
  if (qs.upstreamIsStub) {
    running.stub = await startQuickstartStub(createStub, { config, port: qs.stubPort });
    upstreamUrl = running.stub.url;
    config = withOverrides(config, { upstreamUrl });
  }

  running.app = await createApp(config, { log });
  const address = await running.app.listen().catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE')
      throw new Error(`port ${config.port} on ${config.host} is in use; set PORT to another port`);
    throw err;
  });
  const host =
    address.address === '0.0.0.0' || address.address === '::'
      ? '127.0.0.1'
      : address.address.includes(':')
        ? `[${address.address}]`
        : address.address;
  const gatewayUrl = `http://${host}:${address.port}`;
  running.stub?.setGatewayUrl(gatewayUrl);
  log.info({ url: gatewayUrl }, 'gateway listening');
  // Log lines are written asynchronously (and by a worker with LOG_FORMAT=pretty): let them out
  // first, so the banner is the last thing on the screen.
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 50));

  const platformDomain = seed.platformTenant.domain;
  const users = DEMO_USERS.map((u) => (u.role === 'platform_admin' ? { ...u, tenantDomain: platformDomain } : u));
  process.stdout.write(
    renderBanner({
      gatewayUrl,
      upstreamUrl,
      upstreamIsStub: qs.upstreamIsStub,
      dataDir: config.dataDir,
      embeddedDatabase: running.embedded !== undefined,
      memoryState: running.app.state.kind === 'memory',
      users,
      node: { name: seed.node.name, apiKey: seed.node.apiKey },
      startedInMs: Date.now() - startedAt,
      cliCommand: running.embedded ? cliLine(config.dataDir) : null,
      mfaRequiredRoles: config.mfa.requiredRoles,
    }),
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A second Ctrl-C: leave now (the lock file of a dead process is taken over next start).
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'quickstart: shutting down');
    closeAll(running).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * Runs the quickstart until SIGINT/SIGTERM. `createStub` is upstream-stub/server.ts's factory,
 * passed in by bin/quickstart.cjs: the gateway itself never imports the dev stub.
 */
export async function runQuickstart(options: { createStub: StubFactory }): Promise<void> {
  const startedAt = Date.now();
  const running: Running = {};
  try {
    await start(running, startedAt, options.createStub);
  } catch (err) {
    await closeAll(running);
    // A ConfigError's message already lists every problem (docs/configuration.md).
    process.stderr.write(`get2dial quickstart: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
