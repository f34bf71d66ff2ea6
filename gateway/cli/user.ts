import { createLockout } from '../auth/lockout.js';
import { createPasswordHasher } from '../auth/passwords.js';
import { checkNewPassword, loadCommonPasswords } from '../auth/password-policy.js';
import { ROLES, type Role } from '../config/types.js';
import { isGatewayError } from '../errors.js';
import { createLogger } from '../ops/logger.js';
import { createAuditLog } from '../store/audit.js';
import { createMfaStore } from '../store/mfa.js';
import { createTenantStore, type Tenant } from '../store/tenants.js';
import { createSessionStore } from '../store/sessions.js';
import { publicUser } from '../http/present.js';
import { createUserStore, normalizeEmail } from '../store/users.js';
import { rfc3339 } from '../util/time.js';
import { allowOnly, CliError, flag, need, optional, type ParsedArgs } from './args.js';
import type { CliContext, CommandTable } from './context.js';

const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

async function tenantOf(args: ParsedArgs, ctx: CliContext): Promise<Tenant> {
  const domain = need(args, 'tenant');
  const tenant = await createTenantStore(await ctx.db()).findByDomain(domain);
  if (!tenant) throw new CliError(`no tenant with domain ${domain}`, 1);
  return tenant;
}

async function userOf(args: ParsedArgs, ctx: CliContext) {
  const tenant = await tenantOf(args, ctx);
  const email = normalizeEmail(need(args, 'email'));
  const user = await createUserStore(await ctx.db()).findInTenant(tenant.id, email);
  if (!user) throw new CliError(`no user ${email} in ${tenant.domain}`, 1);
  return { tenant, user };
}

function setStatus(status: 'active' | 'disabled') {
  return async (args: ParsedArgs, ctx: CliContext) => {
    allowOnly(args, ['tenant', 'email']);
    const { user } = await userOf(args, ctx);
    // A trigger (migration 003) announces the change on commit: every gateway drops the user's
    // cached status and, on disable, closes their sockets at once.
    const updated = await createUserStore(await ctx.db()).setStatus(user.id, status);
    if (!updated) throw new CliError('user vanished', 1);
    return publicUser(updated);
  };
}

export const userCommands: CommandTable = {
  'user list': {
    usage: 'user list --tenant D',
    summary: "A tenant's users as a JSON array, ordered by email. Never includes password hashes.",
    options: { tenant: { type: 'string', description: 'the tenant domain' } },
    async run(args, ctx) {
      const tenant = await tenantOf(args, ctx);
      const users = await createUserStore(await ctx.db()).listByTenant(tenant.id);
      return users.map((u) => ({ ...publicUser(u), last_login_at: u.lastLoginAt ? rfc3339(u.lastLoginAt) : null }));
    },
  },
  'user create': {
    usage: 'user create --tenant D --email E --role R (--password P | --password-stdin) [--must-change-password]',
    booleans: ['password-stdin', 'must-change-password'],
    async run(args, ctx) {
      allowOnly(args, ['tenant', 'email', 'role', 'password', 'password-stdin', 'must-change-password']);
      const tenant = await tenantOf(args, ctx);
      const email = normalizeEmail(need(args, 'email'));
      if (!EMAIL_RE.test(email)) throw new CliError(`--email "${email}" is not an email address`);
      const role = need(args, 'role') as Role;
      if (!ROLES.includes(role)) throw new CliError(`--role must be one of ${ROLES.join(', ')}`);
      if (role === 'platform_admin' && !tenant.isPlatform)
        throw new CliError('platform_admin users belong to the Platform tenant only');
      const inline = optional(args, 'password');
      const fromStdin = flag(args, 'password-stdin');
      if ((inline === undefined) === !fromStdin)
        throw new CliError('give exactly one of --password or --password-stdin');
      const password = inline ?? (await ctx.readStdin());
      const users = createUserStore(await ctx.db());
      const existing = await users.findInTenant(tenant.id, email);
      // Idempotent: re-running a provisioning script neither fails nor silently resets a password.
      if (existing) return { ...publicUser(existing), created: false };
      try {
        checkNewPassword(password, '', ctx.config.passwords, loadCommonPasswords());
      } catch (err) {
        throw new CliError(isGatewayError(err) ? err.publicMessage : String(err));
      }
      const hash = await createPasswordHasher(ctx.config.passwords).hash(password);
      const user = await users.create({
        tenantId: tenant.id,
        email,
        passwordHash: hash,
        role,
        mustChangePassword: flag(args, 'must-change-password'),
      });
      return { ...publicUser(user), created: true };
    },
  },
  'user disable': { usage: 'user disable --tenant D --email E', run: setStatus('disabled') },
  'user enable': { usage: 'user enable --tenant D --email E', run: setStatus('active') },
  'user sessions': {
    usage: 'user sessions --tenant D --email E',
    async run(args, ctx) {
      allowOnly(args, ['tenant', 'email']);
      const { user } = await userOf(args, ctx);
      const rows = await createSessionStore(await ctx.db()).listOpen(user.id, new Date(), ctx.config.jwt.ttlSeconds);
      return rows.map((r) => ({
        id: r.id,
        created_at: rfc3339(r.createdAt),
        last_seen_at: rfc3339(r.lastSeenAt),
        expires_at: rfc3339(r.expiresAt),
        refresh_expires_at: rfc3339(r.refreshExpiresAt),
        ip: r.ip,
        user_agent: r.userAgent,
      }));
    },
  },
  'user revoke-sessions': {
    usage: 'user revoke-sessions --tenant D --email E',
    async run(args, ctx) {
      allowOnly(args, ['tenant', 'email']);
      const { tenant, user } = await userOf(args, ctx);
      const db = await ctx.db();
      // Each revoked row is announced to every gateway by a trigger (migration 003) on commit.
      const ids = await createSessionStore(db).revokeAllForUser(user.id, 'admin', new Date());
      // The CLI prints JSON on stdout; the audit row goes to Postgres only.
      const audit = createAuditLog(db, createLogger({ level: 'silent', format: 'json', destination: process.stderr }));
      for (const sid of ids)
        await audit.record({
          event: 'session_revoked',
          tenantId: tenant.id,
          userId: user.id,
          detail: { sid, via: 'cli' },
        });
      return { tenant: tenant.domain, email: user.email, revoked: ids };
    },
  },
  'user unlock': {
    usage: 'user unlock --tenant D --email E',
    async run(args, ctx) {
      allowOnly(args, ['tenant', 'email']);
      const tenant = await tenantOf(args, ctx);
      const email = normalizeEmail(need(args, 'email'));
      const lock = createLockout({ state: await ctx.state() }, ctx.config.lockout, ctx.config.loginIpLimit);
      await lock.unlock(email, tenant.id);
      return { tenant: tenant.domain, email, unlocked: true };
    },
  },
  'user mfa-reset': {
    usage: 'user mfa-reset --tenant D --email E',
    async run(args, ctx) {
      allowOnly(args, ['tenant', 'email']);
      const { tenant, user } = await userOf(args, ctx);
      const db = await ctx.db();
      // The TOTP secret and every recovery code are deleted: the user enrols again at next sign-in
      // (restricted to enrolment meanwhile when the role requires MFA). Audited as mfa_disabled.
      const reset = await createMfaStore(db).disable(user.id);
      const audit = createAuditLog(db, createLogger({ level: 'silent', format: 'json', destination: process.stderr }));
      await audit.record({
        event: 'mfa_disabled',
        tenantId: tenant.id,
        userId: user.id,
        detail: { by: 'cli', had_mfa: reset },
      });
      return { tenant: tenant.domain, email: user.email, mfa_reset: reset };
    },
  },
};
