import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import type { AuditLog } from '../store/audit.js';
import { UUID_RE, type TenantStore } from '../store/tenants.js';
import type { Lockout } from './lockout.js';
import { NODE_KEY_RE } from './node-keys.js';
import { paramValues } from '../http/credentials.js';
import { scopedParams } from './node-scope.js';
import type { NodeIdentity, Identity, UserIdentity } from './types.js';
import { bearerToken, toUserIdentity, upgradeToken, type AuthenticatedUser, type UserAuthenticator } from './user-auth.js';

/** Edge-node key verification (gateway/auth/node-keys.ts). */
export interface NodeAuthenticator {
  authenticate(rawKey: string): Promise<NodeIdentity | null>;
}

export interface AuthorizerDeps {
  readonly users: UserAuthenticator;
  readonly tenants: TenantStore;
  readonly audit: AuditLog;
  readonly lockout: Lockout;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly nodes?: NodeAuthenticator;
  /** Forced node identity: throws 403 when the request names another tenant or node. */
  readonly nodeScope?: (ctx: RequestContext, node: NodeIdentity) => void;
  /** A node credential was refused: not shaped like a key (`malformed`) or no such active key (`key`). */
  readonly onNodeFailure?: (reason: 'malformed' | 'key') => void;
  /** The node per-IP throttle failed open because Redis was down (metrics). */
  readonly onFailOpen?: (dependency: 'redis') => void;
}

const PUBLIC: Identity = Object.freeze({ kind: 'public' });

/**
 * Authenticates and authorizes every proxied request: user routes by JWT (the
 * `?token=` form only on WebSocket routes), node routes by raw API key, public routes as
 * `public`. Then tenant scope and route roles. Nothing reaches an upstream unless this returns.
 */
export function createAuthorizer(deps: AuthorizerDeps): (ctx: RequestContext) => Identity | Promise<Identity> {
  const clock = deps.clock ?? systemClock;
  // Tenant existence for platform-admin overrides: one lookup a minute per tenant, not per request.
  const tenantExists = new LRUCache<string, boolean>({ max: 10_000, ttl: 60_000 });
  // One tenant_override audit row per admin and tenant a minute, not one per proxied request.
  const overrideAudited = new LRUCache<string, true>({ max: 10_000, ttl: 60_000 });

  function userIdentity(ctx: RequestContext): UserIdentity | Promise<UserIdentity> {
    const route = ctx.route;
    let token: string | null;
    if (!route?.websocket) token = bearerToken(ctx.req);
    else if (isUpgrade(ctx)) token = upgradeToken(ctx.req, ctx.query);
    else if (ctx.rawQuery !== '' && paramValues(ctx.query, 'token').length > 0) {
      // `?token=` is for WebSocket upgrades only, where it is removed before the
      // upstream; a plain request would carry it upstream in the query, so it is refused.
      throw new GatewayError('INVALID_QUERY', { publicMessage: 'token is accepted only on websocket upgrades' });
    } else token = bearerToken(ctx.req);
    // Synchronous while everything it needs is cached (the proxied hot path); the same
    // checks in the same order either way.
    const user = deps.users.authenticate(token);
    return user instanceof Promise ? user.then((u) => admitUser(ctx, u)) : admitUser(ctx, user);
  }

  function admitUser(ctx: RequestContext, user: AuthenticatedUser | null): UserIdentity | Promise<UserIdentity> {
    if (!user) throw new GatewayError('UNAUTHENTICATED');
    if (user.mustChangePassword) throw new GatewayError('PASSWORD_CHANGE_REQUIRED');
    const identity = toUserIdentity(user.claims);
    // No query, nothing to scope: scopeTenant would return the identity unchanged.
    if (ctx.rawQuery === '') return allowRole(ctx, identity);
    return scopeTenant(ctx, identity).then((scoped) => allowRole(ctx, scoped));
  }

  function allowRole(ctx: RequestContext, identity: UserIdentity): UserIdentity {
    const roles = ctx.route?.roles;
    if (roles && !roles.includes(identity.role)) throw new GatewayError('FORBIDDEN', { detail: 'role not allowed on route' });
    return identity;
  }

  async function scopeTenant(ctx: RequestContext, identity: UserIdentity): Promise<UserIdentity> {
    const scoped = await scopeByTenantId(ctx, identity);
    // `tenant_id=` is the documented form, but upstream frameworks also read `tenant_id[]`,
    // `TENANT_ID`, `tenant%255Fid` or a `;`-separated copy as the same parameter. Whatever the
    // spelling, it must name the tenant the gateway decided on, or the upstream could act in a
    // tenant that was never checked (nor audited). Judged like a node's forced identity.
    // Fast path (hot): a name can only spell tenant_id if the query says "tenant" or encodes something.
    if (!/tenant|%/i.test(ctx.rawQuery)) return scoped;
    for (const { which, value } of scopedParams(ctx.rawQuery)) {
      if (which !== 'tenant_id' || value.toLowerCase() === scoped.tenantId) continue;
      if (identity.role !== 'platform_admin') throw new GatewayError('FORBIDDEN', { detail: 'a tenant_id spelling names another tenant' });
      throw new GatewayError('INVALID_QUERY', { publicMessage: 'tenant_id must be given once, as tenant_id=<uuid>' });
    }
    return scoped;
  }

  async function scopeByTenantId(ctx: RequestContext, identity: UserIdentity): Promise<UserIdentity> {
    const requested = ctx.query.getAll('tenant_id');
    if (requested.length === 0) return identity;
    if (requested.length > 1) throw new GatewayError('INVALID_QUERY', { publicMessage: 'tenant_id given more than once' });
    const wanted = (requested[0] as string).toLowerCase();
    if (identity.role !== 'platform_admin') {
      if (wanted === identity.homeTenantId) return identity;
      throw new GatewayError('FORBIDDEN', { detail: 'tenant_id names another tenant' });
    }
    if (!UUID_RE.test(wanted)) throw new GatewayError('INVALID_QUERY', { publicMessage: 'tenant_id must be a UUID' });
    if (wanted === identity.homeTenantId) return identity;
    let exists = tenantExists.get(wanted);
    if (exists === undefined) {
      exists = (await deps.tenants.findById(wanted)) !== null;
      tenantExists.set(wanted, exists, { ttl: exists ? 60_000 : 5_000 });
    }
    if (!exists) throw new GatewayError('NOT_FOUND', { detail: 'tenant_id names no tenant' });
    const key = `${identity.userId}:${wanted}`;
    if (!overrideAudited.has(key)) {
      overrideAudited.set(key, true);
      void deps.audit.record({
        event: 'tenant_override',
        tenantId: wanted,
        userId: identity.userId,
        ip: ctx.ip,
        requestId: ctx.requestId,
        userAgent: ua(ctx),
        detail: { home_tenant_id: identity.homeTenantId, path: ctx.path, at: new Date(clock.now()).toISOString() },
      });
    }
    return { ...identity, tenantId: wanted };
  }

  // Fault decision (docs/operations.md): the node per-IP throttle lives in Redis. Node keys are 256-bit random
  // secrets, so the throttle sheds load rather than guards against guessing; while Redis is down it
  // fails open (counted) and edge nodes keep working, as user tokens do. Logins still answer 503.
  async function throttleFailOpen(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      if (!isGatewayError(err) || err.code !== 'SERVICE_UNAVAILABLE') throw err;
      deps.onFailOpen?.('redis');
    }
  }

  async function nodeIdentity(ctx: RequestContext): Promise<NodeIdentity> {
    const key = bearerToken(ctx.req);
    if (!deps.nodes || !key) throw new GatewayError('UNAUTHENTICATED');
    // Not shaped like a node key (e.g. a user's JWT): no guess at a key, so it is refused without
    // counting toward the per-IP throttle or the audit trail; otherwise users behind the same NAT
    // as edge nodes could get those nodes throttled.
    if (!NODE_KEY_RE.test(key)) {
      deps.onNodeFailure?.('malformed');
      throw new GatewayError('UNAUTHENTICATED', { detail: 'not a node key' });
    }
    await throttleFailOpen(() => deps.lockout.checkIp('node', ctx.ip));
    const node = await deps.nodes.authenticate(key);
    if (!node) {
      deps.onNodeFailure?.('key');
      await throttleFailOpen(() => deps.lockout.failIp('node', ctx.ip));
      void deps.audit.record({ event: 'node_auth_failure', ip: ctx.ip, requestId: ctx.requestId, userAgent: ua(ctx), detail: { path: ctx.path } });
      throw new GatewayError('UNAUTHENTICATED');
    }
    deps.nodeScope?.(ctx, node);
    return node;
  }

  // Not async: a cached user answers without a promise; every failure still throws (the server
  // awaits the result either way).
  return (ctx) => {
    const route = ctx.route;
    if (!route) throw new GatewayError('NOT_FOUND');
    switch (route.auth) {
      case 'user':
        return userIdentity(ctx);
      case 'node':
        return nodeIdentity(ctx);
      case 'public':
        return PUBLIC;
      default:
        throw new GatewayError('NOT_FOUND');
    }
  };
}

/** server.ts builds an upgrade's context without a response object: the socket is all there is. */
function isUpgrade(ctx: RequestContext): boolean {
  return (ctx.res as RequestContext['res'] | null) === null;
}

function ua(ctx: RequestContext): string | null {
  const v = ctx.req.headers['user-agent'];
  return typeof v === 'string' ? v : null;
}
