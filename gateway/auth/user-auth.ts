import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { paramValues } from '../util/credentials.js';
import type { SessionState, Sessions } from './sessions.js';
import type { TokenFailure, TokenService } from './tokens.js';
import type { TokenClaims, UserIdentity } from './types.js';

export interface AuthenticatedUser {
  readonly claims: TokenClaims;
  readonly token: string;
  readonly mustChangePassword: boolean;
  /** A role in AUTH_MFA_REQUIRED_ROLES without a second factor: only `me`, MFA enrolment and `logout`. */
  readonly mfaEnrollmentRequired: boolean;
}

export interface UserAuthenticator {
  /**
   * Verifies the bearer token and its session state, then continues with `next(user)` and hands
   * back next's promise. `null` means "not authenticated" (401); a broken dependency rejects (the
   * authenticator contract). next runs synchronously when the token and both session answers are
   * cached (the proxied hot path: no promise of its own); a throw from next propagates.
   */
  authenticate<T>(token: string | null, next: (user: AuthenticatedUser | null) => Promise<T>): Promise<T>;
}

/** `Authorization: Bearer <credentials>` (RFC 6750 §2.1); the scheme is case-insensitive. */
export function bearerToken(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(h);
  return m ? (m[1] as string) : null;
}

/**
 * The token for a WebSocket upgrade: `?token=` (browsers cannot set headers on the
 * upgrade) or the Authorization header. More than one token is ambiguous and refused. Every
 * parameter whose name folds to `token` counts (`%74oken`, `TOKEN`, `token[]`: util/credentials.ts),
 * the same reading the log scrubber and the upstream strip use.
 */
export function upgradeToken(req: IncomingMessage, query: URLSearchParams): string | null {
  const fromQuery = paramValues(query, 'token');
  if (fromQuery.length > 1) return null;
  const header = bearerToken(req);
  if (fromQuery.length === 1) {
    if (header !== null && header !== fromQuery[0]) return null;
    return fromQuery[0] || null;
  }
  return header;
}

/** RFC 8176 `amr` of a token minted before the second factor existed: the password alone. */
const PASSWORD_ONLY: readonly string[] = Object.freeze(['pwd']);

export function toUserIdentity(claims: TokenClaims, tenantId = claims.tid): UserIdentity {
  return {
    kind: 'user',
    tenantId,
    homeTenantId: claims.tid,
    userId: claims.sub,
    email: claims.email,
    role: claims.role,
    jti: claims.jti,
    ...(claims.sid === undefined ? {} : { sid: claims.sid }),
    exp: claims.exp,
    iat: claims.iat,
    amr: claims.amr ?? PASSWORD_ONLY,
  };
}

/**
 * Whether the token behind a user identity still stands (not revoked by jti or session, no
 * password change since, user not disabled): open WebSockets are re-checked with it.
 */
export function createStillValid(sessions: Pick<Sessions, 'check'>): (u: UserIdentity) => Promise<boolean> {
  return async (u) =>
    (
      await sessions.check({
        tid: u.homeTenantId,
        sub: u.userId,
        email: u.email,
        role: u.role,
        jti: u.jti,
        iat: u.iat,
        exp: u.exp,
        ...(u.sid === undefined ? {} : { sid: u.sid }),
      })
    ).verdict === 'ok';
}

/** Token + session verification shared by the auth endpoints and every proxied user route. */
export function createUserAuthenticator(deps: {
  tokens: TokenService;
  sessions: Sessions;
  onFailure?: (reason: TokenFailure | 'revoked' | 'stale' | 'disabled' | 'unknown_user' | 'missing') => void;
  /** A token with a session was admitted (its session's last_seen_at, batched elsewhere). */
  onSessionSeen?: (sid: string) => void;
}): UserAuthenticator {
  const { tokens, sessions, onFailure, onSessionSeen } = deps;
  const admit = (token: string, claims: TokenClaims, session: SessionState): AuthenticatedUser | null => {
    if (session.verdict !== 'ok') {
      onFailure?.(session.verdict);
      return null;
    }
    if (claims.sid !== undefined) onSessionSeen?.(claims.sid);
    return {
      claims,
      token,
      mustChangePassword: session.mustChangePassword,
      mfaEnrollmentRequired: session.mfaEnrollmentRequired === true,
    };
  };
  const refuse = (reason: TokenFailure): null => {
    onFailure?.(reason);
    return null;
  };
  // The slow path: verify the signature and/or read the session state from the stores.
  const authenticate = async (token: string): Promise<AuthenticatedUser | null> => {
    const result = await tokens.verify(token);
    if (!result.ok) return refuse(result.reason);
    return admit(token, result.claims, await sessions.check(result.claims));
  };
  return {
    authenticate(token, next) {
      if (!token) {
        onFailure?.('missing');
        return next(null);
      }
      // The same checks as the slow path, from the same caches: a cached token still has its
      // revocation and user status consulted, just without a promise when both are fresh.
      const cached = tokens.verifyCached(token);
      if (cached === null) return authenticate(token).then(next);
      if (!cached.ok) return next(refuse(cached.reason));
      const session = sessions.checkCached(cached.claims);
      if (session === null)
        return sessions.check(cached.claims).then((state) => next(admit(token, cached.claims, state)));
      return next(admit(token, cached.claims, session));
    },
  };
}

/** Throws the documented 401 when a user route has no valid token. */
export function requireUser(auth: UserAuthenticator, token: string | null): Promise<AuthenticatedUser> {
  return auth.authenticate(token, async (user) => {
    if (!user) throw new GatewayError('UNAUTHENTICATED');
    return user;
  });
}
