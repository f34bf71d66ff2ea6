import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { AuditLog } from '../store/audit.js';
import type { TenantStore } from '../store/tenants.js';
import type { Lockout } from './lockout.js';
import { NODE_KEY_RE } from './node-keys.js';
import type { Sessions } from './sessions.js';
import { checkBoundTenant, createTenantScope, type TenantScope } from './tenant-scope.js';
import type { WsTickets } from './ws-tickets.js';
import { paramValues } from '../util/credentials.js';
import type { AuthRequest, NodeIdentity, Identity, UserIdentity } from './types.js';
import {
  bearerToken,
  toUserIdentity,
  upgradeToken,
  type AuthenticatedUser,
  type UserAuthenticator,
} from './user-auth.js';

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
  /** Tenant scope shared with the ticket endpoint; built from tenants/audit when absent. */
  readonly tenantScope?: TenantScope;
  /** WebSocket tickets (`?ticket=` on upgrades); without them a ticket is a 401. */
  readonly tickets?: WsTickets;
  /** Token state of a ticket's access token (revoked jti or session, disabled user, password change). */
  readonly sessions?: Pick<Sessions, 'check'>;
  /** WS_QUERY_TOKEN: whether `?token=` is accepted on upgrades (default true). */
  readonly queryToken?: boolean;
  /** Forced node identity: throws 403 when the request names another tenant or node. */
  readonly nodeScope?: (ctx: AuthRequest, node: NodeIdentity) => void;
  /** A node credential was refused: not shaped like a key (`malformed`) or no such active key (`key`). */
  readonly onNodeFailure?: (reason: 'malformed' | 'key') => void;
  /** The node per-IP throttle failed open because Redis was down (metrics). */
  readonly onFailOpen?: (dependency: 'redis') => void;
}

const PUBLIC: Identity = Object.freeze({ kind: 'public' });

/**
 * The one request authenticator: judges `request`, then continues with `next(request, identity)`
 * and hands back next's promise; a refusal (400/401/403/404, or 503 for a broken dependency)
 * rejects it instead, and next is never called. While everything it needs is cached (the
 * proxied hot path) next runs synchronously, so a cached request costs no promise of its own.
 */
export type Authorize = <R extends AuthRequest, T>(
  request: R,
  next: (request: R, identity: Identity) => Promise<T>,
) => Promise<T>;

type Next<R, T> = (request: R, identity: Identity) => Promise<T>;

/**
 * Authenticates and authorizes every proxied request: user routes by JWT (the
 * `?token=` form only on WebSocket routes), node routes by raw API key, public routes as
 * `public`. Then tenant scope and route roles. Nothing reaches an upstream unless this returns.
 */
export function createAuthorizer(deps: AuthorizerDeps): Authorize {
  const clock = deps.clock ?? systemClock;
  const scopeTenant = deps.tenantScope ?? createTenantScope({ tenants: deps.tenants, audit: deps.audit, clock });
  const queryToken = deps.queryToken ?? true;

  function userIdentity<R extends AuthRequest, T>(ctx: R, next: Next<R, T>): Promise<T> {
    const route = ctx.route;
    let token: string | null;
    if (!route?.websocket) token = bearerToken(ctx.req);
    else if (ctx.kind === 'upgrade') {
      const credential = upgradeCredential(ctx);
      if ('ticket' in credential) return ticketIdentity(ctx, credential.ticket).then((identity) => next(ctx, identity));
      token = credential.token;
    } else if (ctx.rawQuery !== '' && paramValues(ctx.query, 'token').length > 0) {
      // `?token=` is for WebSocket upgrades only (docs/api.md), where it is removed before the
      // upstream; a plain request would carry it upstream in the query, so it is refused.
      throw new GatewayError('INVALID_QUERY', { publicMessage: 'token is accepted only on websocket upgrades' });
    } else if (ctx.query.has('ticket')) {
      throw new GatewayError('INVALID_QUERY', { publicMessage: 'ticket is accepted only on websocket upgrades' });
    } else token = bearerToken(ctx.req);
    // Synchronous while everything it needs is cached (the proxied hot path); the same
    // checks in the same order either way.
    return deps.users.authenticate(token, (user) => admitUser(ctx, user, next));
  }

  function admitUser<R extends AuthRequest, T>(ctx: R, user: AuthenticatedUser | null, next: Next<R, T>): Promise<T> {
    if (!user) throw new GatewayError('UNAUTHENTICATED');
    if (user.mustChangePassword) throw new GatewayError('PASSWORD_CHANGE_REQUIRED');
    if (user.mfaEnrollmentRequired) throw new GatewayError('MFA_ENROLLMENT_REQUIRED');
    const identity = toUserIdentity(user.claims);
    // No query, nothing to scope: scopeTenant would return the identity unchanged.
    if (ctx.rawQuery === '') return next(ctx, allowRole(ctx, identity));
    return scopeTenant(ctx, identity).then((scoped) => next(ctx, allowRole(ctx, scoped)));
  }

  /**
   * The one credential of a WebSocket upgrade: `?ticket=`, `?token=` or the Authorization header
   * (names judged after percent-decoding, as URLSearchParams reads them). A ticket beside a token
   * (query or Bearer header), or two tickets, is ambiguous → 400; `?token=` with WS_QUERY_TOKEN=off → 400, so no
   * JWT ever travels in a URL. A `?token=` beside a different Authorization token stays a 401.
   */
  function upgradeCredential(ctx: AuthRequest): { ticket: string } | { token: string | null } {
    const tickets = paramValues(ctx.query, 'ticket');
    const hasToken = paramValues(ctx.query, 'token').length > 0;
    if (tickets.length > 0) {
      if (tickets.length > 1) throw new GatewayError('INVALID_QUERY', { publicMessage: 'ticket given more than once' });
      // Only a Bearer header competes: a browser behind HTTP Basic auth sends `Authorization: Basic`
      // on the upgrade by itself, and that is no gateway credential.
      const header = ctx.req.headers.authorization;
      if (hasToken || (typeof header === 'string' && /^\s*bearer\b/i.test(header))) {
        throw new GatewayError('INVALID_QUERY', {
          publicMessage: 'give one credential: a ticket, a token or the Authorization header',
        });
      }
      return { ticket: tickets[0] as string };
    }
    if (hasToken && !queryToken) {
      throw new GatewayError('INVALID_QUERY', {
        publicMessage: 'token is not accepted in the URL; use a ticket or the Authorization header',
      });
    }
    return { token: upgradeToken(ctx.req, ctx.query) };
  }

  /**
   * A ticket stands for the access token that obtained it: spent atomically (single use on every
   * instance), then that token's state is checked as if it had been presented (revoked jti or
   * session, password changed, user disabled, expired) and the identity acts in the bound tenant.
   */
  async function ticketIdentity(ctx: AuthRequest, ticket: string): Promise<UserIdentity> {
    if (!deps.tickets || !deps.sessions)
      throw new GatewayError('UNAUTHENTICATED', { detail: 'websocket tickets not configured' });
    const grant = await deps.tickets.redeem(ticket);
    if (!grant) throw new GatewayError('UNAUTHENTICATED', { detail: 'ticket malformed, unknown, spent or expired' });
    if (grant.claims.exp <= clock.now() / 1000)
      throw new GatewayError('UNAUTHENTICATED', { detail: 'the token behind the ticket expired' });
    const state = await deps.sessions.check(grant.claims);
    if (state.verdict !== 'ok')
      throw new GatewayError('UNAUTHENTICATED', { detail: `ticket's token ${state.verdict}` });
    if (state.mustChangePassword) throw new GatewayError('PASSWORD_CHANGE_REQUIRED');
    if (state.mfaEnrollmentRequired) throw new GatewayError('MFA_ENROLLMENT_REQUIRED');
    const identity = toUserIdentity(grant.claims, grant.tenantId);
    checkBoundTenant(ctx, identity);
    return allowRole(ctx, identity);
  }

  function allowRole(ctx: AuthRequest, identity: UserIdentity): UserIdentity {
    const roles = ctx.route?.roles;
    if (roles && !roles.includes(identity.role))
      throw new GatewayError('FORBIDDEN', { detail: 'role not allowed on route' });
    return identity;
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

  async function nodeIdentity(ctx: AuthRequest): Promise<NodeIdentity> {
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
      void deps.audit.record({
        event: 'node_auth_failure',
        ip: ctx.ip,
        requestId: ctx.requestId,
        userAgent: ua(ctx),
        detail: { path: ctx.path },
      });
      throw new GatewayError('UNAUTHENTICATED');
    }
    deps.nodeScope?.(ctx, node);
    return node;
  }

  function dispatch<R extends AuthRequest, T>(ctx: R, next: Next<R, T>): Promise<T> {
    const route = ctx.route;
    if (!route) throw new GatewayError('NOT_FOUND');
    switch (route.auth) {
      case 'user':
        return userIdentity(ctx, next);
      case 'node':
        return nodeIdentity(ctx).then((node) => next(ctx, node));
      case 'public':
        return next(ctx, PUBLIC);
      default:
        throw new GatewayError('NOT_FOUND');
    }
  }

  // Not async: a cached user continues without a promise of its own. A refusal thrown on the way
  // (or by next) becomes a rejection here, so callers see one contract.
  return (ctx, next) => {
    try {
      return dispatch(ctx, next);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  };
}

function ua(ctx: AuthRequest): string | null {
  const v = ctx.req.headers['user-agent'];
  return typeof v === 'string' ? v : null;
}
