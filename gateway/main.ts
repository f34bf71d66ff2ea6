/**
 * Process entry for `npm run serve`: load config, build the app, listen, drain on SIGTERM/SIGINT.
 * With GATEWAY_WORKERS > 1 this process supervises that many workers (ops/cluster.ts), each of
 * which runs this same entry as a complete gateway. The only place that calls process.exit.
 */
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config/index.js';
import { isClusterWorker, isSupervisor, onPrimaryShutdown, superviseWorkers } from './ops/cluster.js';
import { createLogger } from './ops/logger.js';
import { createMetrics, serveClusterMetrics } from './ops/metrics.js';

async function main(): Promise<void> {
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
  if (isSupervisor(config.workers)) {
    serveClusterMetrics();
    process.exit(await superviseWorkers({ workers: config.workers, log, graceMs: config.shutdownGraceSeconds * 1000 }));
  }
  const app = await createApp(config, { log, metrics: createMetrics({ clusterWorker: isClusterWorker() }) });
  const address = await app.listen();
  log.info({ host: address.address, port: address.port, ...(config.workers > 1 ? {} : { pid: process.pid }) }, 'gateway listening');

  // SPEC §10: the first SIGTERM/SIGINT drains (readiness 503, stop accepting, finish in-flight
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
    setTimeout(() => {
      log.error('drain overran its deadline: exiting');
      process.exit(1);
    }, config.shutdownGraceSeconds * 1000 + 10_000).unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (isClusterWorker()) onPrimaryShutdown((reason) => stop(reason, false));
}

main().catch((err: unknown) => {
  process.stderr.write(`get2dial-gateway: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
