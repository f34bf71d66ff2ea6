/**
 * Operations endpoints (docs/operations.md): `/healthz` says the process is alive, `/readyz` says this
 * instance can serve (Postgres and Redis answer, and it is not draining), `/metrics` is the
 * Prometheus exposition. They sit in GATEWAY_ROUTES, so no route file can hand them upstream.
 */
import { sendJson, sendData } from '../http/reply.js';
import type { HandlerMap } from '../routes/table.js';
import type { Dependency } from './metric-labels.js';
import type { GatewayMetrics } from './metrics.js';

export interface HealthDeps {
  readonly db: { ping(timeoutMs: number): Promise<boolean> };
  readonly state: { ping(timeoutMs: number): Promise<boolean> };
  readonly metrics: GatewayMetrics;
  readonly isDraining: () => boolean;
  /** Per-dependency probe timeout; the probes run in parallel, so readyz answers within about this. */
  readonly timeoutMs?: number;
  /**
   * Background probe period for the dependency gauges (0: only on /readyz and /metrics), so a
   * scrape — in a GATEWAY_WORKERS cluster, of any worker — shows every instance's current view.
   */
  readonly probeIntervalMs?: number;
}

export interface Health {
  readonly routes: HandlerMap;
  /** Stops the background probe. */
  close(): void;
}

export type DependencyStatus = 'up' | 'down';
export type Checks = Record<Dependency, DependencyStatus>;

/** Probes never hang a health check nor let a rejected ping escape: down is an answer. */
async function probe(ping: (timeoutMs: number) => Promise<boolean>, timeoutMs: number): Promise<DependencyStatus> {
  try {
    return (await ping(timeoutMs)) ? 'up' : 'down';
  } catch {
    return 'down';
  }
}

const NO_CACHE = { 'Cache-Control': 'no-store' };

/**
 * Builds the ops routes. Concurrent readiness probes (load balancer, orchestrator, /metrics and
 * the background probe at once) share one round of pings instead of each sending their own.
 */
export function createHealth(deps: HealthDeps): Health {
  const timeoutMs = deps.timeoutMs ?? 1000;
  const intervalMs = deps.probeIntervalMs ?? 5000;
  let pending: Promise<Checks> | null = null;

  function check(): Promise<Checks> {
    pending ??= (async () => {
      try {
        const [postgres, redis] = await Promise.all([
          probe((t) => deps.db.ping(t), timeoutMs),
          probe((t) => deps.state.ping(t), timeoutMs),
        ]);
        deps.metrics.dependencyUp('postgres', postgres === 'up');
        deps.metrics.dependencyUp('redis', redis === 'up');
        return { postgres, redis };
      } finally {
        pending = null;
      }
    })();
    return pending;
  }

  let timer: NodeJS.Timeout | null = null;
  if (intervalMs > 0) {
    void check();
    timer = setInterval(() => void check(), intervalMs);
    timer.unref();
  }

  const routes: HandlerMap = {
    'GET /healthz': async (ctx) => {
      sendData(ctx.res, { status: 'ok' }, 200, NO_CACHE);
    },
    'GET /readyz': async (ctx) => {
      const checks = await check();
      const draining = deps.isDraining();
      const failed = (Object.keys(checks) as Dependency[]).filter((d) => checks[d] === 'down');
      if (!draining && failed.length === 0) {
        sendData(ctx.res, { status: 'ready', checks }, 200, NO_CACHE);
        return;
      }
      // The documented error envelope (docs/api.md), plus which dependency failed so an operator reading the probe
      // does not have to open the logs. Nothing here is secret: names and up/down only.
      const status = draining ? 'draining' : 'unavailable';
      if (!draining) ctx.log.warn({ reqId: ctx.requestId, failed }, 'not ready');
      sendJson(
        ctx.res,
        503,
        { status: 'error', message: 'service unavailable', data: { status, failed, checks } },
        { ...NO_CACHE, 'Retry-After': '5' },
      );
    },
    'GET /metrics': async (ctx) => {
      // Refresh the dependency gauges so a scrape tells the truth even when nobody polls /readyz.
      await check();
      const { contentType, body } = await deps.metrics.render();
      ctx.res.statusCode = 200;
      ctx.res.setHeader('Content-Type', contentType);
      ctx.res.setHeader('Content-Length', Buffer.byteLength(body));
      ctx.res.setHeader('Cache-Control', 'no-store');
      ctx.res.end(body); // Node drops the body of a HEAD response itself
    },
  };
  return {
    routes,
    close() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
