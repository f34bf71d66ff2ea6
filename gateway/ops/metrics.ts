/**
 * Prometheus metrics (docs/operations.md). Every label value comes from a fixed set — the route group (the
 * matched route prefix from config, never the raw path), a normalized method, a status code, an
 * outcome or reason from a closed union — so cardinality stays bounded whatever clients send.
 * prom-client is imported by the ops/metrics*.ts files only (one adapter per package), into this module's
 * own Registry, so several gateways in one test process never share counters. metrics-auth.ts holds the
 * authentication metrics, metrics-cluster.ts the GATEWAY_WORKERS aggregation.
 */
import { Counter, Gauge, type Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FastHistogram, type HistogramSeries } from './histogram.js';
import { clusterRender } from './metrics-cluster.js';
import { createAuthMetrics, type AuthMetrics } from './metrics-auth.js';
import {
  AUDIT_PRUNE_RESULTS,
  DEPENDENCIES,
  RATE_LIMITS,
  type AuditPruneResult,
  type Dependency,
} from './metric-labels.js';

export { serveClusterMetrics } from './metrics-cluster.js';

/** Methods that get their own label value; anything else counts as OTHER. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

// Latency buckets (seconds): auth-only answers sit in the first few, argon2 logins around 50–200 ms,
// proxied calls anywhere up to the 30 s upstream timeout.
const DURATION_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The authentication metrics (login, lockout, nodeAuthFailure, tokenRejected, failOpen): metrics-auth.ts. */
export interface GatewayMetrics extends AuthMetrics {
  readonly registry: Registry;
  /** One finished HTTP request (the server's onFinish hook). */
  requestFinished(routeGroup: string, method: string | undefined, status: number, seconds: number): void;
  /** Time from sending upstream to the upstream's response head (the proxy). */
  upstreamObserved(routeGroup: string, seconds: number): void;
  websocketOpened(): void;
  websocketClosed(): void;
  /** A WebSocket upgrade refused with 429: its identity held WS_MAX_PER_IDENTITY sockets already. */
  websocketLimited(): void;
  /** A proxied request refused with 429 by a request limit (ratelimit/limiter.ts). */
  rateLimited(limit: (typeof RATE_LIMITS)[number]): void;
  dependencyUp(dependency: Dependency, up: boolean): void;
  draining(on: boolean): void;
  /** Sampled at scrape time: argon2 jobs running and waiting (util/semaphore.ts). */
  samplePasswordHashing(stats: () => { active: number; queued: number }): void;
  /** Sampled at scrape time: HTTP requests in flight (ops/shutdown.ts). */
  sampleInFlight(count: () => number): void;
  /** Sets g2d_gateway_build_info{version, node, commit} to 1 (one series; a second call replaces it). */
  buildInfo(info: BuildInfo): void;
  /** One run of the audit retention job (ops/audit-retention.ts) and the rows it deleted. */
  auditPrune(result: AuditPruneResult, deleted: number): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** What this build is: package.json `version`, optionally the source commit (GATEWAY_BUILD_COMMIT). */
export interface BuildInfo {
  readonly version: string;
  readonly commit?: string | null;
}

export interface MetricsOptions {
  /** Node process metrics (CPU, memory, event loop lag, GC); off in unit tests to keep output small. */
  readonly processMetrics?: boolean;
  /** Static labels on every series (e.g. `instance`), set once. */
  readonly defaultLabels?: Record<string, string>;
  /**
   * A GATEWAY_WORKERS cluster worker: /metrics answers with every worker's series aggregated by the
   * primary (counters and histograms summed, dependency_up the minimum), not just this worker's.
   */
  readonly clusterWorker?: boolean;
}

/** Normalizes a request method to the fixed label set. */
export function methodLabel(method: string | undefined): string {
  return method !== undefined && METHODS.has(method) ? method : 'OTHER';
}

function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : 'other';
}

/**
 * Creates the gateway's metrics in a fresh Registry. Hot-path calls look their label child up in a
 * small Map (a string concatenation and a hash lookup per request, no label-object allocation).
 */
export function createMetrics(options: MetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  // Requests are counted in plain numbers on the hot path and added to the counter when it is
  // read (prom-client calls collect() before every scrape and cluster aggregation).
  const requestChildren = new Map<string, { count: Counter.Internal; pending: number; time: HistogramSeries }>();
  const requests = new Counter({
    name: 'g2d_gateway_http_requests_total',
    help: 'HTTP requests answered, by route group, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
    collect() {
      for (const child of requestChildren.values()) {
        if (child.pending === 0) continue;
        child.count.inc(child.pending);
        child.pending = 0;
      }
    },
  });
  // The two histograms observed on every request are FastHistograms (ops/histogram.ts): same names,
  // labels, buckets and exposition, a fraction of prom-client's per-observation cost (bench/README.md).
  const duration = new FastHistogram(
    'g2d_gateway_http_request_duration_seconds',
    'Time from request received to response finished, by route group and method',
    DURATION_BUCKETS,
  );
  const upstream = new FastHistogram(
    'g2d_gateway_upstream_duration_seconds',
    'Time from forwarding a request upstream to the upstream response head, by route group',
    DURATION_BUCKETS,
  );
  // registerMetric takes any object with prom-client's get()/reset(); its type names the classes.
  registry.registerMetric(duration as unknown as Histogram);
  registry.registerMetric(upstream as unknown as Histogram);
  const auth = createAuthMetrics(registry);
  const websockets = new Gauge({
    name: 'g2d_gateway_websockets_open',
    help: 'WebSocket connections currently proxied',
    registers: [registry],
  });
  const websocketsLimited = new Counter({
    name: 'g2d_gateway_websocket_limited_total',
    help: 'WebSocket upgrades refused with 429 because the identity held WS_MAX_PER_IDENTITY sockets on this instance',
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'g2d_gateway_rate_limited_total',
    help: 'Proxied requests and WebSocket upgrades refused with 429 by a request limit, by limit (user, node, tenant)',
    labelNames: ['limit'] as const,
    registers: [registry],
  });
  const dependencyUp = new Gauge({
    name: 'g2d_gateway_dependency_up',
    help: '1 when the dependency answered the last readiness probe, else 0',
    labelNames: ['dependency'] as const,
    registers: [registry],
    aggregator: 'min',
  });
  const drainingGauge = new Gauge({
    name: 'g2d_gateway_draining',
    help: '1 while the instance drains for shutdown (readiness answers 503)',
    registers: [registry],
    aggregator: 'max',
  });
  let hashStats: (() => { active: number; queued: number }) | null = null;
  new Gauge({
    name: 'g2d_gateway_password_hash_queue',
    help: 'Password hashing jobs waiting for a slot (PASSWORD_HASH_CONCURRENCY)',
    registers: [registry],
    collect() {
      this.set(hashStats ? hashStats().queued : 0);
    },
  });
  new Gauge({
    name: 'g2d_gateway_password_hash_active',
    help: 'Password hashing jobs running',
    registers: [registry],
    collect() {
      this.set(hashStats ? hashStats().active : 0);
    },
  });
  let inFlight: (() => number) | null = null;
  new Gauge({
    name: 'g2d_gateway_http_requests_in_flight',
    help: 'HTTP requests received and not yet answered',
    registers: [registry],
    collect() {
      this.set(inFlight ? inFlight() : 0);
    },
  });

  // The usual Prometheus *_build_info idiom: value 1, the facts in labels; joined on `instance`.
  const buildInfo = new Gauge({
    name: 'g2d_gateway_build_info',
    help: 'Always 1; labels say which gateway version, Node.js version and commit this instance runs',
    labelNames: ['version', 'node', 'commit'] as const,
    registers: [registry],
    aggregator: 'max',
  });
  const auditPruneRuns = new Counter({
    name: 'g2d_gateway_audit_prune_runs_total',
    help: 'Audit retention runs: pruned (this instance held the lock), skipped (another one did), failed',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const auditPruned = new Counter({
    name: 'g2d_gateway_audit_events_pruned_total',
    help: 'Audit events deleted by the retention job (AUDIT_RETENTION_DAYS)',
    registers: [registry],
  });

  // Every fixed series exists from the start (a zero is information; a missing series is not).
  for (const r of AUDIT_PRUNE_RESULTS) auditPruneRuns.inc({ result: r }, 0);
  for (const l of RATE_LIMITS) rateLimited.inc({ limit: l }, 0);
  for (const d of DEPENDENCIES) dependencyUp.set({ dependency: d }, 0);

  const upstreamChildren = new Map<string, HistogramSeries>();
  const renderCluster = options.clusterWorker ? clusterRender(registry) : null;

  return {
    registry,
    requestFinished(routeGroup, method, status, seconds) {
      const m = methodLabel(method);
      const s = statusLabel(status);
      const key = `${routeGroup}\n${m}\n${s}`;
      let child = requestChildren.get(key);
      if (!child) {
        child = {
          count: requests.labels(routeGroup, m, s),
          pending: 0,
          time: duration.seriesFor({ route: routeGroup, method: m }),
        };
        requestChildren.set(key, child);
      }
      child.pending += 1;
      child.time.observe(seconds);
    },
    upstreamObserved(routeGroup, seconds) {
      let child = upstreamChildren.get(routeGroup);
      if (!child) {
        child = upstream.seriesFor({ route: routeGroup });
        upstreamChildren.set(routeGroup, child);
      }
      child.observe(seconds);
    },
    ...auth,
    websocketOpened: () => websockets.inc(),
    websocketClosed: () => websockets.dec(),
    websocketLimited: () => websocketsLimited.inc(),
    rateLimited: (limit) => rateLimited.inc({ limit }),
    dependencyUp: (dependency, up) => dependencyUp.set({ dependency }, up ? 1 : 0),
    draining: (on) => drainingGauge.set(on ? 1 : 0),
    samplePasswordHashing(stats) {
      hashStats = stats;
    },
    sampleInFlight(count) {
      inFlight = count;
    },
    buildInfo(info) {
      buildInfo.reset();
      buildInfo.set({ version: info.version, node: process.version, commit: info.commit ?? '' }, 1);
    },
    auditPrune(result, deleted) {
      auditPruneRuns.inc({ result });
      if (deleted > 0) auditPruned.inc(deleted);
    },
    async render() {
      return {
        contentType: registry.contentType,
        body: renderCluster ? await renderCluster() : await registry.metrics(),
      };
    },
  };
}
