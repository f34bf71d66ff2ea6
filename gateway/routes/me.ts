import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { readJsonBody } from '../http/body.js';
import { LogoutBody, PasswordChangeBody } from '../http/schemas/auth.js';
import { NO_STORE, sendData } from '../http/reply.js';
import { bearerToken, requireUser } from '../auth/user-auth.js';
import { publicUser } from '../http/present.js';
import { userAgent } from '../http/request.js';
import type { User } from '../store/users.js';
import type { AuthRouteDeps } from './deps.js';
import type { HandlerMap } from './table.js';

/**
 * The signed-in user's own endpoints (docs/api.md): `GET me` (fresh from Postgres), `POST me/password`
 * (wrong current password counts toward lockout; success returns a new token and invalidates every
 * earlier one) and `POST logout` (audit + the token's jti revoked until it expires). These three
 * stay open while `must_change_password` is set; every other route answers 403 until then.
 */
type Auth = Awaited<ReturnType<typeof requireUser>>;

interface PasswordBody {
  readonly current_password: string;
  readonly new_password: string;
}

export function createMeRoutes(deps: AuthRouteDeps): HandlerMap {
  const { users, passwords, sessions, sessionService, userAuth, lockout, audit, clock, config, mfa } = deps;

  const current = async (ctx: RequestContext) => {
    const auth = await requireUser(userAuth, bearerToken(ctx.req));
    const user = await users.findById(auth.claims.sub);
    // Deleted or disabled since the token was issued: the token no longer stands for anyone.
    if (!user || user.status !== 'active' || user.tenantId !== auth.claims.tid)
      throw new GatewayError('UNAUTHENTICATED');
    return { auth, user };
  };

  /** After the body is read, under the password admission control (a storm is shed with 503). */
  async function changePassword(ctx: RequestContext, auth: Auth, user: User, body: PasswordBody): Promise<void> {
    // The account's own workspace: a wrong current password counts like a login naming its tenant.
    const slot = await lockout.begin(user.email, user.tenantId);
    const event = {
      tenantId: user.tenantId,
      userId: user.id,
      ip: ctx.ip,
      requestId: ctx.requestId,
      userAgent: userAgent(ctx),
    };
    let check: { ok: boolean };
    try {
      check =
        body.current_password.length <= 1024
          ? await passwords.verify(user.passwordHash, body.current_password)
          : { ok: await passwords.verifyDummy('') };
    } catch (err) {
      slot.release();
      throw err;
    }
    if (!check.ok) {
      const counted = await slot.fail();
      void audit.record({
        event: 'login_failure',
        ...event,
        detail: { reason: 'password_change_wrong_current', attempts: counted.count },
      });
      if (counted.locked) {
        deps.onLockout?.();
        void audit.record({ event: 'lockout', ...event, detail: { seconds: config.lockout.seconds } });
      }
      throw new GatewayError('INVALID_CREDENTIALS');
    }
    await slot.succeed(user.tenantId);
    deps.checkNewPassword(body.new_password, body.current_password);
    const hash = await passwords.hash(body.new_password);
    const at = clock.now();
    const updated = await users.changePassword(user.id, hash, new Date(at));
    // Every token issued before now stops working (Redis marker for every instance at once,
    // password_changed_at in Postgres as the durable backstop), the presenting one included.
    await sessions.invalidateBefore(user.id, at, config.jwt.ttlSeconds);
    await sessions.revoke(auth.claims);
    // Every session ends, this one included (their refresh tokens stop working); the new token
    // opens a fresh session, so the response carries a new refresh token too.
    const ended = await sessionService.revokeAll(user.id, 'password_change');
    deps.announce({ kind: 'user', userId: user.id });
    // The new token stands for the same sign-in: it keeps the presenting token's methods (RFC 8176 amr).
    const minted = await sessionService.open(updated, event, auth.claims.amr ?? ['pwd']);
    void audit.record({
      event: 'password_change',
      ...event,
      detail: { sessions_revoked: ended.length, sid: minted.sessionId },
    });
    sendData(
      ctx.res,
      { token: minted.token, expires_at: minted.expiresAt, user: publicUser(updated), ...minted.extra },
      200,
      NO_STORE,
    );
  }

  return {
    'GET /api/v1/auth/me': async (ctx) => {
      const { user } = await current(ctx);
      // Read fresh like the user: the token's restriction may lag behind an enrolment by the status cache.
      const mfaEnabled = await mfa.enabled(user.id);
      const required = !mfaEnabled && config.mfa.requiredRoles.includes(user.role);
      sendData(
        ctx.res,
        { ...publicUser(user), mfa_enabled: mfaEnabled, ...(required ? { mfa_enrollment_required: true } : {}) },
        200,
        { 'Cache-Control': 'no-store' },
      );
    },

    'POST /api/v1/auth/me/password': async (ctx) => {
      const { auth, user } = await current(ctx);
      // A token restricted for MFA enrolment opens only `me`, enrolment and `logout`; a required
      // password change comes first, so it keeps this route open.
      if (auth.mfaEnrollmentRequired && !auth.mustChangePassword) throw new GatewayError('MFA_ENROLLMENT_REQUIRED');
      const body = await readJsonBody(ctx.req, PasswordChangeBody);
      await passwords.admit(() => changePassword(ctx, auth, user, body));
    },

    'POST /api/v1/auth/logout': async (ctx) => {
      const auth = await requireUser(userAuth, bearerToken(ctx.req));
      // The body is optional: none (or an empty one) is a plain logout; `{"all": true}` ends every session.
      const body = hasBody(ctx) ? await readJsonBody(ctx.req, LogoutBody) : {};
      const { claims } = auth;
      await sessions.revoke(claims);
      deps.announce({ kind: 'jti', jti: claims.jti, userId: claims.sub });
      const event = {
        tenantId: claims.tid,
        userId: claims.sub,
        ip: ctx.ip,
        requestId: ctx.requestId,
        userAgent: userAgent(ctx),
      };
      if (body.all === true) {
        // Tokens without a session (minted before sessions existed) end too: valid-after = now.
        await sessions.invalidateBefore(claims.sub, clock.now(), config.jwt.ttlSeconds);
        const ended = await sessionService.revokeAll(claims.sub, 'logout_all');
        deps.announce({ kind: 'user', userId: claims.sub });
        void audit.record({
          event: 'logout_all',
          ...event,
          detail: { jti: claims.jti, sessions_revoked: ended.length },
        });
      } else {
        if (claims.sid !== undefined) await sessionService.revoke(claims.sub, claims.sid, 'logout');
        void audit.record({
          event: 'logout',
          ...event,
          detail: { jti: claims.jti, ...(claims.sid === undefined ? {} : { sid: claims.sid }) },
        });
      }
      sendData(ctx.res, { logged_out: true }, 200, { 'Cache-Control': 'no-store' });
    },
  };
}

/** Whether the request announces a body (RFC 9112 §6.3: Content-Length > 0 or Transfer-Encoding). */
function hasBody(ctx: RequestContext): boolean {
  const h = ctx.req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const len = h['content-length'];
  return len !== undefined && len !== '0';
}
