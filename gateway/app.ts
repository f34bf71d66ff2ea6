/**
 * Composition root (config → store → auth → routes/proxy → server → main). Wiring only:
 * every piece is created by its own factory and handed what it needs.
 */
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/types.js';
import type { Identity } from './auth/types.js';
import type { RequestContext, UpgradeContext } from './http/context.js';
import { createClientIpResolver } from './http/client-ip.js';
import { createCors } from './http/cors.js';
import { createRouter } from './http/router.js';
import { loadTracer, type Tracer } from './ops/tracing.js';
import { createLogger } from './ops/logger.js';
import { createHealth } from './ops/health.js';
import { createAuditRetention } from './ops/audit-retention.js';
import { createReloader } from './ops/reload.js';
import { readReloadable } from './config/reload.js';
import { createMetrics, type GatewayMetrics } from './ops/metrics.js';
import { createDrainer, createInFlight } from './ops/shutdown.js';
import { createDispatcher } from './routes/table.js';
import { createGatewayServer } from './server.js';
import { createAuthServices } from './app/auth.js';
import { createGatewayRoutes } from './app/routes.js';
import type { Db } from './store/pg.js';
import { openDatabase, openNotificationFeed, openStateStore } from './store/connect.js';
import type { AuthStateStore } from './store/state.js';
import { createAuditLog } from './store/audit.js';
import { createTenantStore } from './store/tenants.js';
import { createUserStore } from './store/users.js';
import { createSessionStore } from './store/sessions.js';
import { createStillValid } from './auth/user-auth.js';
import type { NodeKeyAuthenticator } from './auth/node-keys.js';
import { createNodeStore } from './store/nodes.js';
import { createHttpProxy } from './proxy/http.js';
import { createWsProxy } from './proxy/ws.js';
import { socketsRevocationTarget } from './proxy/ws-revocation.js';
import { createMfaStore } from './store/mfa.js';
import { createRateLimiter, rateLimitsConfigured } from './ratelimit/limiter.js';

export interface AppOptions {
  readonly log?: Logger;
  readonly clock?: Clock;
  /** Injected database (the quickstart's embedded one); otherwise built from config.database.url. */
  readonly db?: Db;
  /** Injected auth state store; otherwise Redis from config, or memory outside production. */
  readonly state?: AuthStateStore;
  /** Injected metrics (a GATEWAY_WORKERS worker's, which aggregate across the cluster); else a fresh set. */
  readonly metrics?: GatewayMetrics;
  /** Injected tracer; otherwise loaded from config.tracing (null, nothing imported, when off). */
  readonly tracer?: Tracer | null;
}

export interface App {
  readonly config: Config;
  readonly log: Logger;
  readonly server: Server;
  readonly db: Db;
  readonly state: AuthStateStore;
  readonly metrics: GatewayMetrics;
  /** Edge-node key verification (docs/edge-nodes.md); its LISTEN connection is closed by close(). */
  readonly nodeKeys: NodeKeyAuthenticator;
  /** True once close() started: readiness 503, Connection: close, upgrades refused (docs/operations.md). */
  draining(): boolean;
  /** Listens on config.host:config.port; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Drains and closes everything (docs/operations.md). */
  close(): Promise<void>;
  /** Re-reads the route table and rotation keys (SIGHUP); true when they were valid and swapped in. */
  reload(): Promise<boolean>;
}

/** Builds the whole gateway from a validated Config whose secrets are resolved. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? createLogger(config.log);
  const metrics = options.metrics ?? createMetrics();
  if (config.jwt.secret === null) throw new Error('createApp: AUTH_JWT_SECRET is not resolved');
  const tracer = options.tracer !== undefined ? options.tracer : await loadTracer(config.tracing, log);

  // ---- store
  const db = options.db ?? openDatabase(config.database);
  const built = options.state
    ? { state: options.state, client: null }
    : openStateStore(config.redis, {
        production: config.production,
        log,
        clock,
        onRedisUp: (up) => metrics.dependencyUp('redis', up),
      });
  const state = built.state;
  // Revocation push (docs/scale-out.md): Redis pub/sub for what gateways revoke, Postgres
  // LISTEN for what the CLI changes there. Hot-path caches keep answers longer only while both are up.
  const listen = openNotificationFeed(config.database, { injectedDb: options.db !== undefined, log });
  const feed = listen?.feed ?? null;
  const users = createUserStore(db);
  const tenants = createTenantStore(db);
  const audit = createAuditLog(db, log);
  const sessionStore = createSessionStore(db);
  const nodeStore = createNodeStore(db);
  const mfaStore = createMfaStore(db);

  // ---- auth
  const auth = await createAuthServices({
    config,
    jwtSecret: config.jwt.secret,
    clock,
    log,
    metrics,
    tracer,
    state,
    redisClient: built.client,
    feed,
    users,
    tenants,
    audit,
    sessionStore,
    nodeStore,
    mfaStore,
    onNodeRevoked: (nodeId) => wsProxy.closeRevoked({ nodeId }),
  });
  const { tokens, passwords, push, sessions, activity, nodeKeys, signer, authorize } = auth;
  // Request limits (docs/configuration.md): built only when something is limited.
  const limiter = rateLimitsConfigured(config.rateLimits, config.routes)
    ? createRateLimiter({ state, log, clock, onLimited: (kind) => metrics.rateLimited(kind) }, config.rateLimits)
    : null;

  // ---- http, routes and proxy
  const router = createRouter(config.routes);
  const clientIp = createClientIpResolver(config.trustedProxies);
  const trusts = (req: IncomingMessage) => clientIp.trusts(req);
  const cors = createCors(config.allowedOrigins);
  const handlerMaps = createGatewayRoutes({
    ...auth,
    config,
    db,
    users,
    tenants,
    audit,
    nodeStore,
    clock,
    log,
    tracer,
    metrics,
  });
  const httpProxy = createHttpProxy({
    config,
    log,
    signer,
    clock,
    trusts,
    cors,
    onUpstream: (ctx, ms) => metrics.upstreamObserved(ctx.routeGroup, ms / 1000),
    tracer,
  });
  const wsProxy = createWsProxy({
    config,
    log,
    signer,
    clock,
    trusts,
    // Open sockets are re-checked every 5 s: logout, password change, disabled user → 1008 (docs/security-model.md).
    isStillValid: createStillValid(sessions),
    onOpen: () => metrics.websocketOpened(),
    onClose: () => metrics.websocketClosed(),
    onLimited: () => metrics.websocketLimited(),
    tracer,
  });
  // A revocation (made here or pushed) closes the sockets it concerns at once (1008).
  push.attach(socketsRevocationTarget(wsProxy));
  const proxy = (ctx: RequestContext, identity: Identity) => httpProxy.forward(ctx, identity);
  const upgrade = (ctx: UpgradeContext, socket: Duplex, head: Buffer, identity: Identity) =>
    wsProxy.upgrade(ctx, socket, head, identity);

  // ---- ops
  metrics.buildInfo(config.build);
  metrics.samplePasswordHashing(() => passwords.stats());
  // One instance of many prunes old audit events each day (AUDIT_RETENTION_DAYS; 0 = keep forever).
  const retention = createAuditRetention(
    { db, log, clock, onRun: (result, deleted) => metrics.auditPrune(result, deleted) },
    { retentionDays: config.auditRetentionDays },
  );
  retention.start();
  // Set once the drainer exists (it needs the server); readiness reads it through this indirection.
  let draining = (): boolean => false;
  const health = createHealth({ db, state, metrics, isDraining: () => draining() });
  const gateway = createDispatcher(...handlerMaps, health.routes);
  const reloader = createReloader({
    read: () => readReloadable(),
    router,
    tokens,
    signer,
    log,
    previousSecrets: config.jwt.previousSecrets,
    previousPublicKeys: config.identity.previousPublicKeys,
  });

  // ---- server
  const inFlight = createInFlight();
  const server = createGatewayServer({
    config,
    log,
    router,
    clientIp,
    cors,
    gateway,
    authorize,
    proxy,
    upgrade,
    ...(limiter
      ? { rateLimit: (ctx: RequestContext | UpgradeContext, identity: Identity) => limiter.check(ctx, identity) }
      : {}),
    tracer,
    isDraining: () => draining(),
    now: () => clock.now(),
    onFinish: (ctx, status) =>
      metrics.requestFinished(ctx.routeGroup, ctx.req.method, status, (clock.now() - ctx.startedAt) / 1000),
    inFlight,
  });
  const drainer = createDrainer({
    server,
    inFlight,
    log,
    graceMs: config.shutdownGraceSeconds * 1000,
    onDraining: () => metrics.draining(true),
    closeWebSockets: () => wsProxy.closeAll(1001),
    ...(tracer ? { flushTelemetry: () => tracer.shutdown() } : {}),
    closeResources: async () => {
      health.close();
      await retention.stop();
      limiter?.close();
      // The LISTEN connection is a checked-out pool client: release it first or pool.end() waits for it.
      await nodeKeys.close();
      await Promise.allSettled([push.close(), activity.close()]);
      await Promise.allSettled([db.close(), state.close(), listen?.close(), httpProxy.close()]);
    },
  });
  draining = () => drainer.draining();
  metrics.sampleInFlight(() => drainer.inFlight());

  return {
    config,
    log,
    server,
    db,
    state,
    metrics,
    nodeKeys,
    draining: () => drainer.draining(),
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: () => drainer.drain(),
    reload: () => reloader.reload(),
  };
}
