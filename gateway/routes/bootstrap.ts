import { timingSafeEqual, createHash } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { readJsonBody } from '../http/body.js';
import { BootstrapBody } from '../http/schemas/auth.js';
import { publicUser } from '../http/present.js';
import { sendData } from '../http/reply.js';
import { userAgent } from '../http/request.js';
import { bootstrapPlatformAdmin } from '../store/bootstrap.js';
import { normalizeEmail } from '../store/users.js';
import type { AuthRouteDeps } from './deps.js';
import type { HandlerMap } from './table.js';

const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/**
 * POST /api/v1/auth/bootstrap (docs/api.md, "Bootstrap"): only when AUTH_BOOTSTRAP_TOKEN is set, presented as
 * `X-Bootstrap-Token`. Creates the Platform tenant and the first platform_admin in one
 * transaction; once a platform_admin exists it answers 409. Body:
 * `{email, password, tenant_domain?, tenant_name?}` (defaults `platform.get2dial.local`, `Platform`).
 */
export function createBootstrapRoute(deps: AuthRouteDeps): HandlerMap {
  const { config, db, passwords, audit } = deps;
  const expected = config.bootstrapToken === null ? null : createHash('sha256').update(config.bootstrapToken).digest();

  return {
    'POST /api/v1/auth/bootstrap': async (ctx) => {
      if (expected === null) throw new GatewayError('NOT_FOUND');
      const given = ctx.req.headers['x-bootstrap-token'];
      const digest = createHash('sha256')
        .update(typeof given === 'string' ? given : '')
        .digest();
      // Wrong tokens count toward the per-IP failure throttle like failed logins (429 past the limit).
      await deps.lockout.checkIp('bootstrap', ctx.ip);
      if (typeof given !== 'string' || !timingSafeEqual(digest, expected)) {
        await deps.lockout.failIp('bootstrap', ctx.ip);
        throw new GatewayError('UNAUTHENTICATED');
      }
      const body = await readJsonBody(ctx.req, BootstrapBody);
      const email = normalizeEmail(body.email);
      if (!EMAIL_RE.test(email)) throw new GatewayError('INVALID_BODY', { detail: 'email' });
      deps.checkNewPassword(body.password, '');
      const hash = await passwords.hash(body.password);
      const result = await bootstrapPlatformAdmin(db, {
        email,
        passwordHash: hash,
        tenantDomain: body.tenant_domain ?? 'platform.get2dial.local',
        tenantName: body.tenant_name ?? 'Platform',
      });
      if (!result) throw new GatewayError('CONFLICT', { publicMessage: 'already bootstrapped' });
      void audit.record({
        event: 'bootstrap',
        tenantId: result.platform.id,
        userId: result.user.id,
        ip: ctx.ip,
        requestId: ctx.requestId,
        userAgent: userAgent(ctx),
      });
      sendData(
        ctx.res,
        {
          tenant: { id: result.platform.id, domain: result.platform.domain, name: result.platform.name },
          user: publicUser(result.user),
        },
        201,
      );
    },
  };
}
