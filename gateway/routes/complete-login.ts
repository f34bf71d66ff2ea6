import type { RequestContext } from '../http/context.js';
import { NO_STORE, sendData } from '../http/reply.js';
import { publicUser, type User } from '../store/users.js';
import type { AuthRouteDeps } from './deps.js';

/** RFC 8176 authentication method references the gateway issues. */
export type Amr = readonly ('pwd' | 'otp')[];

/**
 * The one success path of a login (docs/api.md): the password-only login and the second-factor
 * verification both end here, so both answer exactly the same shape. Records the login (and a
 * rehashed password, when the password step asked for one), mints the access token carrying
 * `amr`, writes the audit event and sends `{token, expires_at, user}`.
 */
export async function completeLogin(
  ctx: RequestContext,
  deps: Pick<AuthRouteDeps, 'users' | 'tokens' | 'audit' | 'log'>,
  user: User,
  amr: Amr,
  options: { readonly newHash?: string | undefined; readonly detail?: Record<string, unknown> } = {},
): Promise<void> {
  const { users, tokens, audit, log } = deps;
  await users.recordLogin(user.id, options.newHash).catch((err: unknown) => log.warn({ err: String(err) }, 'recording last login failed'));
  const minted = await tokens.mint({ userId: user.id, tenantId: user.tenantId, email: user.email, role: user.role, amr });
  const ua = ctx.req.headers['user-agent'];
  void audit.record({
    event: 'login_success',
    tenantId: user.tenantId,
    userId: user.id,
    ip: ctx.ip,
    requestId: ctx.requestId,
    userAgent: typeof ua === 'string' ? ua : null,
    detail: { amr: [...amr], ...(options.newHash ? { rehashed: true } : {}), ...options.detail },
  });
  sendData(ctx.res, { token: minted.token, expires_at: minted.expiresAt, user: publicUser(user) }, 200, NO_STORE);
}
