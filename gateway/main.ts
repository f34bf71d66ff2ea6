/**
 * Process entry for `npm run serve`: load config, build the app, listen, drain on SIGTERM/SIGINT.
 * With GATEWAY_WORKERS > 1 this process supervises that many workers (ops/cluster.ts), each of
 * which runs this same entry as a complete gateway. The only place that calls process.exit.
 */
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config/index.js';
import { isClusterWorker, isSupervisor, onPrimaryShutdown, superviseWorkers } from './ops/cluster.js';
import { createLogger } from './ops/logger.js';
import { createMetrics, serveClusterMetrics } from './ops/metrics.js';
import { withDevDefaults, withDevSecrets } from './quickstart/dev-defaults.js';
import { migrate } from './store/migrate.js';
import { createPg } from './store/pg.js';

async function main(): Promise<void> {
  // SIGHUP re-reads GATEWAY_ROUTES_FILE and the previous-key lists (docs/operations.md). Handled
  // from the first moment, so one that arrives while the gateway starts (a supervisor forwarding
  // it to a worker still booting) is ignored instead of ending the process, SIGHUP's default.
  let onHangUp = (): void => {};
  process.on('SIGHUP', () => onHangUp());
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`get2dial-gateway: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  // Several processes write to one stdout in cluster mode: each line says which one.
  const log = createLogger({ ...config.log, ...(config.workers > 1 ? { base: { pid: process.pid } } : {}) });
  for (const warning of config.warnings) log.warn(warning);
  if (isSupervisor(config.workers)) {
    if (!config.production && !config.database.url) {
      process.stderr.write(
        'get2dial-gateway: GATEWAY_WORKERS > 1 needs DATABASE_URL: the embedded development database serves one process\n',
      );
      process.exit(1);
    }
    // Generated development secrets are written once here, so the workers all read the same ones.
    await withDevSecrets(config, log);
    serveClusterMetrics();
    process.exit(await superviseWorkers({ workers: config.workers, log, graceMs: config.shutdownGraceSeconds * 1000 }));
  }
  // Outside production, a missing secret or database gets its development default (docs/configuration.md).
  const defaults = await withDevDefaults(config, log);
  if (defaults.embedded) await migrateEmbedded(defaults.config, log);
  const app = await createApp(defaults.config, { log, metrics: createMetrics({ clusterWorker: isClusterWorker() }) });
  const address = await app.listen();
  log.info(
    { host: address.address, port: address.port, ...(config.workers > 1 ? {} : { pid: process.pid }) },
    'gateway listening',
  );

  // docs/operations.md: the first SIGTERM/SIGINT drains (readiness 503, stop accepting, finish in-flight
  // requests within SHUTDOWN_GRACE_SECONDS, WebSockets closed with 1001) and exits 0. A second
  // signal, or a drain that overruns its deadline by 10 s, exits at once with 1.
  let stopping = false;
  const stop = (signal: string, isSignal = true) => {
    if (stopping) {
      // A drain request from the primary after Ctrl-C reached this worker too is not a second signal.
      if (!isSignal) return;
      log.warn({ signal }, 'second signal: exiting without finishing the drain');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, graceSeconds: config.shutdownGraceSeconds }, 'shutting down');
    setTimeout(
      () => {
        log.error('drain overran its deadline: exiting');
        process.exit(1);
      },
      config.shutdownGraceSeconds * 1000 + 10_000,
    ).unref();
    app
      .close()
      .then(() => defaults.embedded?.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err: String(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  onHangUp = () => {
    if (!stopping) void app.reload();
  };
  if (isClusterWorker()) onPrimaryShutdown((reason) => stop(reason, false));
}

/** The embedded database has no `cli migrate` to run against it: it is migrated on start. */
async function migrateEmbedded(config: Config, log: Logger): Promise<void> {
  const db = createPg({ url: config.database.url ?? '', poolSize: 1, applicationName: 'get2dial-migrate' });
  try {
    const { applied } = await migrate(db);
    if (applied.length > 0) log.info({ applied }, 'embedded database migrated');
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`get2dial-gateway: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
