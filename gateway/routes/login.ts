import { GatewayError, isGatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { readJsonBody } from '../http/body.js';
import { NO_STORE, sendData } from '../http/reply.js';
import { normalizeEmail, publicUser, type User } from '../store/users.js';
import type { AuthRouteDeps, LoginOutcome } from './deps.js';
import type { HandlerMap } from './table.js';

// Inputs beyond these lengths cannot be real credentials; they are refused before any hashing
// (still counted and still paying a dummy verify, so the answer and its timing say nothing).
const MAX_EMAIL = 320;
const MAX_PASSWORD = 1024;

interface LoginBody {
  readonly email: string;
  readonly password: string;
  readonly tenant_domain?: string | undefined;
}

interface Candidates {
  /** Lock keys' tenant parts: tenant ids, or `domain:<d>` where no such tenant exists. */
  readonly tenantKeys: string[];
  readonly users: User[];
}

/**
 * POST /api/v1/auth/login (SPEC §5). Tenant from `tenant_domain`, else from the email (the
 * password disambiguates; the earliest-created matching account wins), else DEFAULT_TENANT_DOMAIN.
 * The attempt is counted before the password is checked; every credential failure is the same
 * 401 `invalid credentials` and costs one argon2 verify whether or not the identity exists.
 */
export function createLoginRoute(deps: AuthRouteDeps): HandlerMap {
  const { config, users, tenants, passwords, lockout, audit, log } = deps;

  async function candidates(email: string, tenantDomain: string | undefined): Promise<Candidates> {
    if (tenantDomain !== undefined) {
      const domain = tenantDomain.trim().toLowerCase();
      const tenant = domain.length > 0 && domain.length <= 253 ? await tenants.findByDomain(domain) : null;
      if (!tenant || tenant.status !== 'active') return { tenantKeys: [`domain:${domain.slice(0, 253)}`], users: [] };
      const user = await users.findInTenant(tenant.id, email);
      return { tenantKeys: [tenant.id], users: user ? [user] : [] };
    }
    const found = await users.findByEmailAcrossTenants(email);
    if (found.length > 0) return { tenantKeys: found.map((u) => u.tenantId), users: found };
    const fallback = await tenants.findByDomain(config.defaultTenantDomain);
    if (!fallback || fallback.status !== 'active') return { tenantKeys: [`domain:${config.defaultTenantDomain}`], users: [] };
    const user = await users.findInTenant(fallback.id, email);
    return { tenantKeys: [fallback.id], users: user ? [user] : [] };
  }

  async function login(ctx: RequestContext): Promise<void> {
    const body = await readJsonBody(ctx.req, { email: 'string', password: 'string', tenant_domain: 'string?' });
    await passwords.admit(() => attempt(ctx, body));
  }

  /** After the body is read, under the password admission control (a storm is shed with 503). */
  async function attempt(ctx: RequestContext, body: LoginBody): Promise<void> {
    await lockout.checkIp('login', ctx.ip);
    const email = normalizeEmail(body.email);
    const plausible = email.length > 0 && email.length <= MAX_EMAIL && body.password.length > 0 && body.password.length <= MAX_PASSWORD;
    const found = plausible ? await candidates(email, body.tenant_domain) : { tenantKeys: [`domain:${config.defaultTenantDomain}`], users: [] };
    const keys = lockout.keysFor(found.tenantKeys, email);
    const counted = await lockout.begin(keys);

    // Verify every candidate (oldest first) so the work done does not depend on which one matches.
    let match: User | undefined;
    let rehash = false;
    if (found.users.length === 0) {
      await passwords.verifyDummy(plausible ? body.password : body.password.slice(0, MAX_PASSWORD));
    } else {
      for (const user of found.users) {
        const result = await passwords.verify(user.passwordHash, body.password);
        if (result.ok && (!match || (match.status !== 'active' && user.status === 'active'))) {
          match = user;
          rehash = result.needsRehash;
        }
      }
    }

    const event = { ip: ctx.ip, requestId: ctx.requestId, userAgent: userAgent(ctx) };
    if (!match) {
      await lockout.failIp('login', ctx.ip);
      const only = found.users.length === 1 ? found.users[0] : undefined;
      void audit.record({ event: 'login_failure', tenantId: only?.tenantId ?? tenantIdOf(found), userId: only?.id ?? null, ...event, detail: { attempts: counted.count } });
      if (lockout.reachedLimit(counted.count)) {
        deps.onLockout?.();
        void audit.record({ event: 'lockout', tenantId: only?.tenantId ?? tenantIdOf(found), userId: only?.id ?? null, ...event, detail: { seconds: config.lockout.seconds } });
      }
      throw new GatewayError('INVALID_CREDENTIALS');
    }
    if (match.status !== 'active') {
      void audit.record({ event: 'login_failure', tenantId: match.tenantId, userId: match.id, ...event, detail: { reason: 'disabled' } });
      throw new GatewayError('ACCOUNT_DISABLED');
    }

    await lockout.reset(keys);
    const newHash = rehash ? await passwords.hash(body.password) : undefined;
    await users.recordLogin(match.id, newHash).catch((err: unknown) => log.warn({ err: String(err) }, 'recording last login failed'));
    // Opens the session (docs/_incoming/sessions.md): the token carries its `sid`, and the response
    // gains refresh_token and refresh_expires_at; every other field is unchanged.
    const minted = await deps.sessionService.open(match, event);
    void audit.record({ event: 'login_success', tenantId: match.tenantId, userId: match.id, ...event, detail: newHash ? { rehashed: true, sid: minted.sessionId } : { sid: minted.sessionId } });
    sendData(ctx.res, { token: minted.token, expires_at: minted.expiresAt, user: publicUser(match), ...minted.extra }, 200, NO_STORE);
  }

  return {
    'POST /api/v1/auth/login': async (ctx) => {
      try {
        await login(ctx);
        deps.onLogin?.('success');
      } catch (err) {
        deps.onLogin?.(outcomeOf(err));
        throw err;
      }
    },
  };
}

function tenantIdOf(found: Candidates): string | null {
  const first = found.tenantKeys[0];
  return found.tenantKeys.length === 1 && first !== undefined && !first.startsWith('domain:') ? first : null;
}

function outcomeOf(err: unknown): LoginOutcome {
  if (!isGatewayError(err)) return 'unavailable';
  switch (err.code) {
    case 'INVALID_CREDENTIALS':
      return 'invalid';
    case 'ACCOUNT_LOCKED':
      return 'locked';
    case 'TOO_MANY_REQUESTS':
      return 'throttled';
    case 'ACCOUNT_DISABLED':
      return 'disabled';
    case 'SERVICE_UNAVAILABLE':
      return 'unavailable';
    default:
      return 'bad_request';
  }
}

export function userAgent(ctx: RequestContext): string | null {
  const v = ctx.req.headers['user-agent'];
  return typeof v === 'string' ? v : null;
}
