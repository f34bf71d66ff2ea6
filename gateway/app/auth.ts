/**
 * The auth services of the composition root (app.ts), built in their order: tokens, passwords,
 * revocation push, sessions, lockout, MFA, tenant scope, WebSocket tickets, node keys, identity
 * signing and the authorizer. Wiring only, as app.ts is.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import { traceAuthorize, type Tracer } from '../ops/tracing.js';
import type { GatewayMetrics } from '../ops/metrics.js';
import { revocationBusOpener } from '../store/redis-bus.js';
import type { NotificationFeed } from '../store/listener.js';
import type { RedisClient } from '../store/redis.js';
import type { AuthStateStore } from '../store/state.js';
import type { AuditLog } from '../store/audit.js';
import type { TenantStore } from '../store/tenants.js';
import type { UserStore } from '../store/users.js';
import type { SessionStore } from '../store/sessions.js';
import type { NodeStore } from '../store/nodes.js';
import type { MfaStore } from '../store/mfa.js';
import type { RevocationEvent } from '../store/revocation-bus.js';
import { createAuthorizer } from '../auth/authorize.js';
import { createLockout } from '../auth/lockout.js';
import { createPasswordHasher } from '../auth/passwords.js';
import { loadCommonPasswords } from '../auth/password-policy.js';
import { createSessions } from '../auth/sessions.js';
import { createSessionActivity } from '../auth/session-activity.js';
import { createSessionService } from '../auth/session-service.js';
import { createRevocationPush } from '../auth/revocation-push.js';
import { createTokenService } from '../auth/tokens.js';
import { createUserAuthenticator } from '../auth/user-auth.js';
import { createTenantScope } from '../auth/tenant-scope.js';
import { createWsTickets } from '../auth/ws-tickets.js';
import { createNodeKeyAuthenticator } from '../auth/node-keys.js';
import { enforceNodeScope } from '../auth/node-scope.js';
import { createNodeKeyDeriver } from '../auth/node-key-rotation.js';
import { createIdentitySigner, resolveSigningKey } from '../auth/identity.js';
import { createMfaService } from '../auth/mfa.js';
import { createSecretBox, resolveMfaKey } from '../auth/mfa-crypto.js';

/** What the auth services are built from: the config, the stores, and the ops hooks. */
export interface AuthWiringDeps {
  readonly config: Config;
  /** config.jwt.secret, resolved (createApp refuses to start without it). */
  readonly jwtSecret: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  readonly tracer: Tracer | null;
  readonly state: AuthStateStore;
  /** The Redis client the state store opened (null when injected or in memory), for the revocation bus. */
  readonly redisClient: RedisClient | null;
  readonly feed: NotificationFeed | null;
  readonly users: UserStore;
  readonly tenants: TenantStore;
  readonly audit: AuditLog;
  readonly sessionStore: SessionStore;
  readonly nodeStore: NodeStore;
  readonly mfaStore: MfaStore;
  /** A revoked node's open sockets close at once (the WebSocket proxy, built after auth). */
  readonly onNodeRevoked: (nodeId: string) => void;
}

/** The auth services, as the composition root and the gateway's routes use them. */
export type AuthServices = Awaited<ReturnType<typeof createAuthServices>>;

/** Builds the auth services; resolves once the revocation push and node keys have started. */
export async function createAuthServices(deps: AuthWiringDeps) {
  const { config, jwtSecret, clock, log, metrics, tracer, state, redisClient, feed, onNodeRevoked } = deps;
  const { users, tenants, audit, sessionStore, nodeStore, mfaStore } = deps;
  const tokens = createTokenService({ ...config.jwt, secret: jwtSecret }, { clock });
  const passwords = createPasswordHasher(config.passwords);
  // The dummy hash is computed now, so the first unknown-email login costs what every other does.
  await passwords.warm();
  const commonPasswords = loadCommonPasswords();
  const push = createRevocationPush({ openBus: revocationBusOpener(redisClient, { redis: config.redis, log }), feed });
  const sessions = createSessions(
    { state, users, sessionStore, log },
    {
      clock,
      onFailOpen: (dep) => metrics.failOpen(dep),
      pushUp: () => push.connected(),
      longestTokenSeconds: config.jwt.ttlSeconds + config.jwt.clockToleranceSeconds,
      mfaRequiredRoles: config.mfa.requiredRoles,
    },
  );
  push.attach(sessions);
  const activity = createSessionActivity({ store: sessionStore, log, clock });
  const userAuth = createUserAuthenticator({
    tokens,
    sessions,
    onFailure: (reason) => metrics.tokenRejected(reason),
    onSessionSeen: (sid) => activity.seen(sid),
  });
  await push.start();
  const announce = (event: RevocationEvent) => push.announce(event);
  const sessionService = createSessionService({
    store: sessionStore,
    users,
    tokens,
    audit,
    clock,
    log,
    config: config.sessions,
    accessTtlSeconds: config.jwt.ttlSeconds,
    announce,
  });
  const lockout = createLockout({ state }, config.lockout, config.loginIpLimit);
  const mfaKey = await resolveMfaKey(config.mfa.encryptionKey, {
    production: config.production,
    log,
    countEnabled: () => mfaStore.countEnabled(),
  });
  const mfa = createMfaService({
    store: mfaStore,
    box: createSecretBox(mfaKey, config.mfa.previousEncryptionKeys),
    state,
    clock,
  });
  // One tenant-scope decision for proxied routes and WebSocket tickets (same rules, same caches).
  const tenantScope = createTenantScope({ tenants, audit, clock });
  const tickets = createWsTickets({ state, clock }, { ttlSeconds: config.websocket.ticketTtlSeconds });
  // Node revocations arrive on the feed; without it cached node keys are re-checked every 5 s
  // instead (node-keys.ts). A revoked node's open sockets close at once.
  const nodeKeys = createNodeKeyAuthenticator({
    nodes: nodeStore,
    feed,
    log,
    clock,
    onNodeRevoked,
  });
  await nodeKeys.start();
  // New keys of a rotation are derived, never stored: from AUTH_JWT_SECRET (then the previous secrets, for retries).
  const deriver = createNodeKeyDeriver([jwtSecret, ...config.jwt.previousSecrets]);
  // Identity assertions for upstreams and the JWKS they verify them with (docs/upstream-integration.md).
  const signer = await createIdentitySigner({
    ...config.identity,
    signingKey: await resolveSigningKey(config.identity.signingKey, { production: config.production, log }),
    clock,
  });
  const authorizeRequest = createAuthorizer({
    users: userAuth,
    tenants,
    audit,
    lockout,
    log,
    clock,
    tenantScope,
    tickets,
    sessions,
    queryToken: config.websocket.queryToken,
    nodes: nodeKeys,
    nodeScope: enforceNodeScope,
    onNodeFailure: (reason) => metrics.nodeAuthFailure(reason),
    onFailOpen: (dep) => metrics.failOpen(dep),
  });
  const authorize = tracer ? traceAuthorize(tracer, authorizeRequest) : authorizeRequest;

  return {
    tokens,
    passwords,
    commonPasswords,
    push,
    sessions,
    activity,
    userAuth,
    announce,
    sessionService,
    lockout,
    mfa,
    tenantScope,
    tickets,
    nodeKeys,
    deriver,
    signer,
    authorize,
  };
}
