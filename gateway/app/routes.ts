/**
 * The gateway's own routes (auth endpoints, node registration, JWKS, OpenAPI) as the handler maps
 * the dispatcher (routes/table.ts) serves, built from the auth services. Wiring only, as app.ts is.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import { packageVersion } from '../config/build-info.js';
import type { Db } from '../store/pg.js';
import type { AuditLog } from '../store/audit.js';
import type { TenantStore } from '../store/tenants.js';
import type { UserStore } from '../store/users.js';
import type { NodeStore } from '../store/nodes.js';
import { checkNewPassword } from '../auth/password-policy.js';
import type { AuthRouteDeps } from '../routes/deps.js';
import type { HandlerMap } from '../routes/table.js';
import { createLoginRoute } from '../routes/login.js';
import { createMeRoutes } from '../routes/me.js';
import { createSessionRoutes } from '../routes/sessions.js';
import { createMfaRoutes } from '../routes/mfa.js';
import { createBootstrapRoute } from '../routes/bootstrap.js';
import { createWsTicketRoute } from '../routes/ws-ticket.js';
import { createNodeRoutes } from '../routes/nodes.js';
import { jwksRoutes } from '../routes/jwks.js';
import { openApiRoutes } from '../routes/openapi.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import type { Tracer } from '../ops/tracing.js';
import type { AuthServices } from './auth.js';

/** The auth services, and what else the gateway's routes are built from. */
export interface GatewayRoutesDeps extends AuthServices {
  readonly config: Config;
  readonly db: Db;
  readonly users: UserStore;
  readonly tenants: TenantStore;
  readonly audit: AuditLog;
  readonly nodeStore: NodeStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly tracer: Tracer | null;
  readonly metrics: GatewayMetrics;
}

/** The handler maps of the gateway-owned routes, in dispatch order. */
export function createGatewayRoutes(deps: GatewayRoutesDeps): HandlerMap[] {
  const { config, db, users, tenants, audit, nodeStore, clock, log, tracer, metrics } = deps;
  const { passwords, commonPasswords, tokens, sessions, sessionService, announce, userAuth, lockout, mfa } = deps;
  const { tickets, tenantScope, nodeKeys, deriver, signer } = deps;
  const checkPassword = (next: string, current: string) =>
    checkNewPassword(next, current, config.passwords, commonPasswords);
  const authRouteDeps: AuthRouteDeps = {
    config,
    db,
    users,
    tenants,
    passwords,
    checkNewPassword: checkPassword,
    tokens,
    sessions,
    sessionService,
    announce,
    userAuth,
    lockout,
    audit,
    mfa,
    clock,
    log,
    tracer,
    onLogin: (outcome) => metrics.login(outcome),
    onLockout: () => metrics.lockout(),
  };
  return [
    createLoginRoute(authRouteDeps),
    createMeRoutes(authRouteDeps),
    createSessionRoutes(authRouteDeps),
    createMfaRoutes(authRouteDeps),
    createBootstrapRoute(authRouteDeps),
    createWsTicketRoute({ userAuth, tickets, tenantScope }),
    createNodeRoutes({
      nodes: nodeStore,
      nodeKeys,
      lockout,
      audit,
      clock,
      log,
      deriver,
      rotationGraceSeconds: config.nodeKeyRotationGraceSeconds,
      onNodeFailure: (reason) => metrics.nodeAuthFailure(reason),
    }),
    jwksRoutes(signer),
    // The OpenAPI document of the routes above (docs/api.md); built once, from the body schemas.
    openApiRoutes(packageVersion()),
  ];
}
