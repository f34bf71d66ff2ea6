import { GatewayError, isGatewayError } from '../errors.js';
import type { RequestContext } from '../http/context.js';
import { readJsonBody } from '../http/body.js';
import { LoginBody as LoginSchema } from '../http/schemas/auth.js';
import { NO_STORE, sendData } from '../http/reply.js';
import { normalizeEmail, type User } from '../store/users.js';
import { userAgent } from '../http/request.js';
import { completeLogin } from './complete-login.js';
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
  /**
   * The workspace the request named, whose lockout count it uses: the tenant id, or `domain:<d>`
   * when no active tenant has that domain; null without `tenant_domain` (the email-wide count).
   */
  readonly workspace: string | null;
  /** Tenants the email may resolve to (ids, or `domain:<d>`), for the audit row. */
  readonly tenantKeys: string[];
  readonly users: User[];
}

/**
 * POST /api/v1/auth/login (docs/api.md). Tenant from `tenant_domain`, else from the email (the
 * password disambiguates; the earliest-created matching account wins), else DEFAULT_TENANT_DOMAIN.
 * A lockout slot is taken before the password is checked and settled right after
 * (docs/security-model.md, "Lockout"); every credential failure is the same 401 `invalid
 * credentials` and costs one argon2 verify whether or not the identity exists.
 */
export function createLoginRoute(deps: AuthRouteDeps): HandlerMap {
  const { config, users, tenants, passwords, lockout, audit, mfa } = deps;

  /** Implausible input (`lookUp` false) names the same workspace but never reaches the users table. */
  async function candidates(email: string, tenantDomain: string | undefined, lookUp: boolean): Promise<Candidates> {
    if (tenantDomain !== undefined) {
      const domain = tenantDomain.trim().toLowerCase();
      const tenant = domain.length > 0 && domain.length <= 253 ? await tenants.findByDomain(domain) : null;
      if (!tenant || tenant.status !== 'active') {
        const workspace = `domain:${domain.slice(0, 253)}`;
        return { workspace, tenantKeys: [workspace], users: [] };
      }
      const user = lookUp ? await users.findInTenant(tenant.id, email) : null;
      return { workspace: tenant.id, tenantKeys: [tenant.id], users: user ? [user] : [] };
    }
    const none = { workspace: null, tenantKeys: [`domain:${config.defaultTenantDomain}`], users: [] };
    if (!lookUp) return none;
    const found = await users.findByEmailAcrossTenants(email);
    if (found.length > 0) return { workspace: null, tenantKeys: found.map((u) => u.tenantId), users: found };
    const fallback = await tenants.findByDomain(config.defaultTenantDomain);
    if (!fallback || fallback.status !== 'active') return none;
    const user = await users.findInTenant(fallback.id, email);
    return { workspace: null, tenantKeys: [fallback.id], users: user ? [user] : [] };
  }

  async function login(ctx: RequestContext): Promise<void> {
    const body = await readJsonBody(ctx.req, LoginSchema);
    await passwords.admit(() => attempt(ctx, body));
  }

  /** After the body is read, under the password admission control (a storm is shed with 503). */
  async function attempt(ctx: RequestContext, body: LoginBody): Promise<void> {
    await lockout.checkIp('login', ctx.ip);
    const email = normalizeEmail(body.email);
    const plausible =
      email.length > 0 && email.length <= MAX_EMAIL && body.password.length > 0 && body.password.length <= MAX_PASSWORD;
    const found = await candidates(email, body.tenant_domain, plausible);
    // Counts nothing yet: a slot is held while the password is checked, settled right after.
    const slot = await lockout.begin(email, found.workspace);
    // A spent email-wide count leaves room only for the tenants whose account logged in during the
    // window: the password is checked against those accounts alone (docs/security-model.md).
    const only = slot.only;
    const checked = only ? found.users.filter((u) => only.includes(u.tenantId)) : found.users;

    // Verify every candidate (oldest first) so the work done does not depend on which one matches.
    let match: User | undefined;
    let rehash = false;
    // One span for the whole check, dummy or real: no attribute of it says whether the email exists.
    const span = deps.tracer?.child(ctx, 'auth.password_verify') ?? null;
    try {
      if (checked.length === 0) {
        await passwords.verifyDummy(plausible ? body.password : body.password.slice(0, MAX_PASSWORD));
      } else {
        for (const user of checked) {
          const result = await passwords.verify(user.passwordHash, body.password);
          if (result.ok && (!match || (match.status !== 'active' && user.status === 'active'))) {
            match = user;
            rehash = result.needsRehash;
          }
        }
      }
    } catch (err) {
      span?.end(err);
      slot.release();
      throw err;
    }
    span?.end();

    const event = { ip: ctx.ip, requestId: ctx.requestId, userAgent: userAgent(ctx) };
    if (!match) {
      // One round trip's time: the lockout count and the IP throttle are independent keys.
      const [counted] = await Promise.all([slot.fail(), lockout.failIp('login', ctx.ip)]);
      const single = found.users.length === 1 ? found.users[0] : undefined;
      void audit.record({
        event: 'login_failure',
        tenantId: single?.tenantId ?? tenantIdOf(found),
        userId: single?.id ?? null,
        ...event,
        detail: { attempts: counted.count },
      });
      if (counted.locked) {
        deps.onLockout?.();
        void audit.record({
          event: 'lockout',
          tenantId: single?.tenantId ?? tenantIdOf(found),
          userId: single?.id ?? null,
          ...event,
          detail: { seconds: config.lockout.seconds },
        });
      }
      throw only ? slot.lockedError() : new GatewayError('INVALID_CREDENTIALS');
    }
    if (match.status !== 'active') {
      // Not a login: counted like a failure, so it neither restarts nor escapes any count.
      await slot.fail();
      void audit.record({
        event: 'login_failure',
        tenantId: match.tenantId,
        userId: match.id,
        ...event,
        detail: { reason: 'disabled' },
      });
      throw new GatewayError('ACCOUNT_DISABLED');
    }

    let secondFactor: boolean;
    try {
      secondFactor = await mfa.enabled(match.id);
    } catch (err) {
      slot.release();
      throw err;
    }
    if (secondFactor) {
      // Half a login: the slot is given back uncounted, and no count is cleared until the code is
      // verified (docs/security-model.md, "Second factor (TOTP)"), so password-then-wrong-code still locks.
      slot.release();
      const challenge = await mfa.issueChallenge({ userId: match.id, tenantId: match.tenantId }, ctx.ip);
      sendData(
        ctx.res,
        { mfa_required: true, mfa_token: challenge.mfaToken, expires_at: challenge.expiresAt },
        200,
        NO_STORE,
      );
      return;
    }
    // Clears only the workspace of the account that authenticated, never another tenant's count
    // nor the email-wide one (docs/security-model.md, "Lockout").
    await slot.succeed(match.tenantId);
    const newHash = rehash ? await passwords.hash(body.password) : undefined;
    await completeLogin(ctx, deps, match, ['pwd'], { newHash });
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

/** The login metric's label for a failure (shared with the second-factor step). */
export function outcomeOf(err: unknown): LoginOutcome {
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
