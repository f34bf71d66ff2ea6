import { RECOVERY_CODE_RE, TOTP_CODE_RE } from '../auth/mfa.js';
import { bearerToken, requireUser } from '../auth/user-auth.js';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { readJsonBody } from '../http/body.js';
import { MfaConfirmBody as MfaCodeBody, MfaVerifyBody } from '../http/schemas/mfa.js';
import { NO_STORE, sendData } from '../http/reply.js';
import type { User } from '../store/users.js';
import { completeLogin } from './complete-login.js';
import type { AuthRouteDeps } from './deps.js';
import { userAgent } from '../http/request.js';
import { outcomeOf } from './login.js';
import type { HandlerMap } from './table.js';

/** Codes longer than this are neither a TOTP nor a recovery code: refused before any lookup. */
const MAX_CODE = 32;

/** 400 for a code of neither shape: nothing is counted, nothing spent (docs/api.md, "Multi-factor authentication (TOTP)"). */
function checkShape(code: string, allowRecovery: boolean): void {
  if (code.length > MAX_CODE || !(TOTP_CODE_RE.test(code) || (allowRecovery && RECOVERY_CODE_RE.test(code)))) {
    throw new GatewayError('INVALID_BODY', { detail: 'mfa code of the wrong shape' });
  }
}

/**
 * The second factor's routes (docs/api.md and docs/security-model.md, "Second factor (TOTP)"):
 * enrolment (`totp/setup`, `totp/confirm`, `DELETE totp`, user-authenticated and open to tokens
 * restricted by AUTH_MFA_REQUIRED_ROLES) and the login step `mfa/verify`, which trades the
 * password step's `mfa_token` and a code for the same response a password-only login gives. Wrong codes count toward the per-identity lockout
 * and the per-IP throttle exactly as wrong passwords do.
 */
export function createMfaRoutes(deps: AuthRouteDeps): HandlerMap {
  const { users, userAuth, lockout, audit, mfa, sessions, config } = deps;

  /** The signed-in user, fresh from Postgres; the enrolment routes stay closed until a required password change. */
  async function current(ctx: RequestContext): Promise<User> {
    const auth = await requireUser(userAuth, bearerToken(ctx.req));
    if (auth.mustChangePassword) throw new GatewayError('PASSWORD_CHANGE_REQUIRED');
    const user = await users.findById(auth.claims.sub);
    if (!user || user.status !== 'active' || user.tenantId !== auth.claims.tid)
      throw new GatewayError('UNAUTHENTICATED');
    return user;
  }

  const eventOf = (ctx: RequestContext, user: User) => ({
    tenantId: user.tenantId,
    userId: user.id,
    ip: ctx.ip,
    requestId: ctx.requestId,
    userAgent: userAgent(ctx),
  });

  /**
   * Checks `code` for `user` under a lockout slot of the user's own workspace: a wrong code is a
   * failure of that identity (and of this IP); a right one clears the workspace's count.
   */
  async function checkCounted(
    ctx: RequestContext,
    user: User,
    check: () => Promise<boolean>,
    reason: string,
  ): Promise<void> {
    const slot = await lockout.begin(user.email, user.tenantId);
    let ok: boolean;
    try {
      ok = await check();
    } catch (err) {
      slot.release();
      throw err;
    }
    if (ok) {
      await slot.succeed(user.tenantId);
      return;
    }
    const [counted] = await Promise.all([slot.fail(), lockout.failIp('login', ctx.ip)]);
    void audit.record({ event: 'mfa_failure', ...eventOf(ctx, user), detail: { reason, attempts: counted.count } });
    if (counted.locked) {
      deps.onLockout?.();
      void audit.record({ event: 'lockout', ...eventOf(ctx, user), detail: { seconds: config.lockout.seconds } });
    }
    throw new GatewayError('INVALID_CREDENTIALS');
  }

  async function verify(ctx: RequestContext): Promise<void> {
    const body = await readJsonBody(ctx.req, MfaVerifyBody);
    checkShape(body.code, true);
    await lockout.checkIp('login', ctx.ip);
    const challenge = await mfa.takeChallenge(body.mfa_token, ctx.ip);
    if (!challenge) {
      await lockout.failIp('login', ctx.ip);
      throw new GatewayError('INVALID_CREDENTIALS', {
        detail: 'mfa_token unknown, spent, expired or from another address family',
      });
    }
    const user = await users.findById(challenge.userId);
    if (!user || user.tenantId !== challenge.tenantId)
      throw new GatewayError('INVALID_CREDENTIALS', { detail: 'mfa_token user gone' });
    if (user.status !== 'active') throw new GatewayError('ACCOUNT_DISABLED');
    let kind: 'totp' | 'recovery' | null = null;
    await checkCounted(ctx, user, async () => (kind = await mfa.check(user.id, body.code)) !== null, 'login');
    if (kind === 'recovery')
      void audit.record({ event: 'recovery_code_used', ...eventOf(ctx, user), detail: { step: 'login' } });
    await completeLogin(ctx, deps, user, ['pwd', 'otp'], { detail: { second_factor: kind } });
  }

  return {
    'POST /api/v1/auth/mfa/totp/setup': async (ctx) => {
      ctx.req.resume(); // no body is defined; one that is sent is discarded
      const user = await current(ctx);
      const setup = await mfa.setup(user.id, user.email);
      sendData(ctx.res, { secret: setup.secret, otpauth_uri: setup.otpauthUri }, 200, NO_STORE);
    },

    'POST /api/v1/auth/mfa/totp/confirm': async (ctx) => {
      const user = await current(ctx);
      const body = await readJsonBody(ctx.req, MfaCodeBody);
      checkShape(body.code, false);
      let codes: string[] | null = null;
      await checkCounted(ctx, user, async () => (codes = await mfa.confirm(user.id, body.code)) !== null, 'confirm');
      sessions.forgetUser(user.id); // a restricted token of this user is a full one from now on
      void audit.record({ event: 'mfa_enabled', ...eventOf(ctx, user) });
      sendData(ctx.res, { recovery_codes: codes }, 200, NO_STORE);
    },

    'DELETE /api/v1/auth/mfa/totp': async (ctx) => {
      const user = await current(ctx);
      const body = await readJsonBody(ctx.req, MfaCodeBody);
      checkShape(body.code, true);
      if (config.mfa.requiredRoles.includes(user.role))
        throw new GatewayError('FORBIDDEN', { detail: 'the role requires mfa' });
      if (!(await mfa.enabled(user.id))) throw new GatewayError('CONFLICT', { publicMessage: 'mfa not enabled' });
      let kind: 'totp' | 'recovery' | null = null;
      await checkCounted(ctx, user, async () => (kind = await mfa.check(user.id, body.code)) !== null, 'disable');
      if (kind === 'recovery')
        void audit.record({ event: 'recovery_code_used', ...eventOf(ctx, user), detail: { step: 'disable' } });
      await mfa.disable(user.id);
      sessions.forgetUser(user.id);
      void audit.record({ event: 'mfa_disabled', ...eventOf(ctx, user), detail: { by: 'user' } });
      sendData(ctx.res, { mfa_enabled: false }, 200, NO_STORE);
    },

    'POST /api/v1/auth/mfa/verify': async (ctx) => {
      try {
        await verify(ctx);
        deps.onLogin?.('success');
      } catch (err) {
        deps.onLogin?.(outcomeOf(err));
        throw err;
      }
    },
  };
}
