import { GatewayError } from '../errors.js';
import { readJsonBody } from '../http/body.js';
import { RefreshBody } from '../http/schemas/auth.js';
import { NO_STORE, sendData } from '../http/reply.js';
import { bearerToken, requireUser } from '../auth/user-auth.js';
import { UUID_RE } from '../store/tenants.js';
import type { AuthRouteDeps } from './deps.js';
import { publicUser } from '../http/present.js';
import { userAgent } from '../http/request.js';
import type { HandlerMap } from './table.js';

const SESSIONS = '/api/v1/auth/sessions';

/**
 * Refresh-token rotation and the caller's session management (docs/api.md):
 * `POST refresh`, `GET sessions`, `DELETE sessions/{id}`. A failed refresh counts toward the
 * same per-IP throttle as failed logins.
 */
export function createSessionRoutes(deps: AuthRouteDeps): HandlerMap {
  const { sessionService, userAuth, lockout, audit } = deps;

  const caller = async (ctx: Parameters<HandlerMap[string]>[0]) => {
    const auth = await requireUser(userAuth, bearerToken(ctx.req));
    if (auth.mustChangePassword) throw new GatewayError('PASSWORD_CHANGE_REQUIRED');
    // Like every route but me, enrolment and logout: a role that requires a second factor enrols first.
    if (auth.mfaEnrollmentRequired) throw new GatewayError('MFA_ENROLLMENT_REQUIRED');
    return auth.claims;
  };

  return {
    'POST /api/v1/auth/refresh': async (ctx) => {
      const body = await readJsonBody(ctx.req, RefreshBody);
      await lockout.checkIp('login', ctx.ip);
      try {
        const { user, issued } = await sessionService.refresh(body.refresh_token, {
          ip: ctx.ip,
          userAgent: userAgent(ctx),
          requestId: ctx.requestId,
        });
        sendData(
          ctx.res,
          { token: issued.token, expires_at: issued.expiresAt, user: publicUser(user), ...issued.extra },
          200,
          NO_STORE,
        );
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'INVALID_REFRESH_TOKEN') await lockout.failIp('login', ctx.ip);
        throw err;
      }
    },

    [`GET ${SESSIONS}`]: async (ctx) => {
      const claims = await caller(ctx);
      sendData(ctx.res, await sessionService.list(claims.sub, claims.sid), 200, { 'Cache-Control': 'no-store' });
    },

    [`DELETE ${SESSIONS}/{id}`]: async (ctx) => {
      const claims = await caller(ctx);
      const id = ctx.path.slice(SESSIONS.length + 1);
      // Another user's session, an unknown one and a malformed id all look the same: 404.
      if (!UUID_RE.test(id) || !(await sessionService.revoke(claims.sub, id, 'revoked')))
        throw new GatewayError('NOT_FOUND');
      void audit.record({
        event: 'session_revoked',
        tenantId: claims.tid,
        userId: claims.sub,
        ip: ctx.ip,
        requestId: ctx.requestId,
        userAgent: userAgent(ctx),
        detail: { sid: id.toLowerCase(), current: id.toLowerCase() === claims.sid },
      });
      sendData(ctx.res, { revoked: true, id: id.toLowerCase() }, 200, { 'Cache-Control': 'no-store' });
    },
  };
}
