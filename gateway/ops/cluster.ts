/**
 * GATEWAY_WORKERS > 1 (node:cluster): several gateway processes on one host share the listening
 * port, so one instance uses more than one core. Each worker is a complete gateway with its own
 * pools (DB_POOL_SIZE each); everything that matters is in Redis and Postgres already (docs/scale-out.md),
 * so it makes no difference which worker serves a request. Measured on the 2-core machine with a
 * trivial upstream and autocannon on the same host (-c 64, 10 s, six paired runs on a busy box):
 * token-authenticated proxied requests ≈ 1.2–1.9× the single-process rate. Default stays 1: on a
 * host whose cores already run other replicas or the upstream, more workers only add contention.
 *
 * The primary only supervises: it forwards a drain request to every worker on SIGTERM/SIGINT,
 * restarts a worker that dies unexpectedly (giving up when they crash in a loop), and answers the
 * workers' request for cluster-wide metrics (ops/metrics.ts). It never serves traffic itself.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

/** IPC message from the primary: drain and exit, like a first SIGTERM. */
export const SHUTDOWN_MESSAGE = 'g2d:shutdown';

export interface SupervisorOptions {
  readonly workers: number;
  readonly log: Logger;
  /** The workers' drain deadline; a worker still alive this long (+ margin) after the signal is killed. */
  readonly graceMs: number;
  /** Restarts allowed per minute before the primary gives up and exits 1. */
  readonly maxRestartsPerMinute?: number;
}

/** True in the process that should supervise workers rather than serve. */
export function isSupervisor(workers: number): boolean {
  return workers > 1 && cluster.isPrimary;
}

/** True in a cluster worker (drain requests and metrics come through IPC). */
export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/**
 * Forks `workers` gateway processes (this same entry point) and supervises them. Resolves with
 * the exit code for the primary: 0 when every worker drained and exited 0 after a signal, else 1.
 */
export function superviseWorkers(options: SupervisorOptions): Promise<number> {
  const { workers, log, graceMs } = options;
  const maxRestarts = options.maxRestartsPerMinute ?? workers * 3;
  const live = new Set<Worker>();
  const restarts: number[] = [];
  let stopping = false;
  let failed = false;

  return new Promise<number>((resolve) => {
    let settled = false;
    const finish = (code: number) => {
      if (settled) return;
      settled = true;
      resolve(code);
    };

    const fork = () => {
      const worker = cluster.fork();
      live.add(worker);
      worker.on('exit', (code, signal) => onExit(worker, code, signal));
    };

    function onExit(worker: Worker, code: number | null, signal: string | null): void {
      live.delete(worker);
      if (stopping) {
        if (code !== 0) failed = true;
        if (live.size === 0) finish(failed ? 1 : 0);
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts.length > 0 && (restarts[0] as number) < now - 60_000) restarts.shift();
      if (restarts.length > maxRestarts) {
        log.fatal({ restarts: restarts.length }, 'workers keep dying: giving up');
        stop('crash loop', 1);
        return;
      }
      log.error({ pid: worker.process.pid, code, signal }, 'worker exited unexpectedly: starting another');
      setTimeout(() => {
        if (!stopping) fork();
      }, 500).unref();
    }

    function stop(reason: string, exitCode = 0): void {
      if (stopping) {
        log.warn({ reason }, 'second signal: killing workers');
        for (const w of live) w.process.kill('SIGKILL');
        finish(1);
        return;
      }
      stopping = true;
      if (exitCode !== 0) failed = true;
      log.info({ reason, workers: live.size }, 'shutting down workers');
      for (const w of live) {
        if (w.isConnected()) w.send({ type: SHUTDOWN_MESSAGE });
        else w.process.kill('SIGTERM');
      }
      setTimeout(() => {
        log.error({ left: live.size }, 'workers overran the drain deadline: killing them');
        for (const w of live) w.process.kill('SIGKILL');
        finish(1);
      }, graceMs + 15_000).unref();
      if (live.size === 0) finish(failed ? 1 : 0);
    }

    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    // Each worker holds its own route table and keys: a reload is theirs to do.
    process.on('SIGHUP', () => {
      for (const w of live) w.process.kill('SIGHUP');
    });
    for (let i = 0; i < workers; i++) fork();
    log.info({ workers, pid: process.pid }, 'gateway primary: workers starting');
  });
}

/** In a worker: calls `onShutdown` when the primary asks for a drain or goes away. */
export function onPrimaryShutdown(onShutdown: (reason: string) => void): void {
  process.on('message', (message: unknown) => {
    if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === SHUTDOWN_MESSAGE)
      onShutdown('primary');
  });
  // The primary died: it held the listening socket, so no new connection arrives here; drain.
  process.on('disconnect', () => onShutdown('primary gone'));
}
