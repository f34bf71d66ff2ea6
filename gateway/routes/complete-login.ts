import type { RequestContext } from '../http/context.js';
import { NO_STORE, sendData } from '../http/reply.js';
import { publicUser } from '../http/present.js';
import type { User } from '../store/users.js';
import type { AuthRouteDeps } from './deps.js';

/** RFC 8176 authentication method references the gateway issues. */
export type Amr = readonly ('pwd' | 'otp')[];

/**
 * The one success path of a login (docs/api.md): the password-only login and the second-factor
 * verification both end here, so both answer exactly the same shape. Records the login (and a
 * rehashed password, when the password step asked for one), opens the session (the access token
 * carries its `sid` and `amr`), writes the audit event and sends `{token, expires_at, user,
 * refresh_token, refresh_expires_at}`.
 */
export async function completeLogin(
  ctx: RequestContext,
  deps: Pick<AuthRouteDeps, 'users' | 'sessionService' | 'audit' | 'log'>,
  user: User,
  amr: Amr,
  options: { readonly newHash?: string | undefined; readonly detail?: Record<string, unknown> } = {},
): Promise<void> {
  const { users, sessionService, audit, log } = deps;
  await users
    .recordLogin(user.id, options.newHash)
    .catch((err: unknown) => log.warn({ err: String(err) }, 'recording last login failed'));
  const ua = ctx.req.headers['user-agent'];
  const userAgent = typeof ua === 'string' ? ua : null;
  const minted = await sessionService.open(user, { ip: ctx.ip, requestId: ctx.requestId, userAgent }, amr);
  void audit.record({
    event: 'login_success',
    tenantId: user.tenantId,
    userId: user.id,
    ip: ctx.ip,
    requestId: ctx.requestId,
    userAgent,
    detail: { amr: [...amr], sid: minted.sessionId, ...(options.newHash ? { rehashed: true } : {}), ...options.detail },
  });
  sendData(
    ctx.res,
    { token: minted.token, expires_at: minted.expiresAt, user: publicUser(user), ...minted.extra },
    200,
    NO_STORE,
  );
}
