import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import type { AuditLog } from '../store/audit.js';
import { UUID_RE, type TenantStore } from '../store/tenants.js';
import { scopedParams } from './node-scope.js';
import type { AuthRequest, UserIdentity } from './types.js';

/** Decides the tenant a user request acts in from its `?tenant_id=`; throws 400/403/404. */
export type TenantScope = (ctx: AuthRequest, identity: UserIdentity) => Promise<UserIdentity>;

/**
 * Tenant scope of a user request (docs/security-model.md): the tenant is the token's `tid`;
 * `?tenant_id=<uuid>` is honoured only for a `platform_admin` (an existing tenant, else 400 for a
 * malformed value and 404 for an unknown one; given more than once → 400), and audited as
 * `tenant_override` once a minute per admin and tenant. Any other role naming another tenant → 403.
 * Shared by the proxied user routes and the WebSocket ticket endpoint, so both decide alike.
 */
export function createTenantScope(deps: { tenants: TenantStore; audit: AuditLog; clock?: Clock }): TenantScope {
  const clock = deps.clock ?? systemClock;
  // Tenant existence for platform-admin overrides: one lookup a minute per tenant, not per request.
  const tenantExists = new LRUCache<string, boolean>({ max: 10_000, ttl: 60_000 });
  // One tenant_override audit row per admin and tenant a minute, not one per proxied request.
  const overrideAudited = new LRUCache<string, true>({ max: 10_000, ttl: 60_000 });

  async function scopeTenant(ctx: AuthRequest, identity: UserIdentity): Promise<UserIdentity> {
    const scoped = await scopeByTenantId(ctx, identity);
    // `tenant_id=` is the documented form, but upstream frameworks also read `tenant_id[]`,
    // `TENANT_ID`, `tenant%255Fid` or a `;`-separated copy as the same parameter. Whatever the
    // spelling, it must name the tenant the gateway decided on, or the upstream could act in a
    // tenant that was never checked (nor audited). Judged like a node's forced identity.
    // Fast path (hot): a name can only spell tenant_id if the query says "tenant" or encodes something.
    if (!/tenant|%/i.test(ctx.rawQuery)) return scoped;
    for (const { which, value } of scopedParams(ctx.rawQuery)) {
      if (which !== 'tenant_id' || value.toLowerCase() === scoped.tenantId) continue;
      if (identity.role !== 'platform_admin')
        throw new GatewayError('FORBIDDEN', { detail: 'a tenant_id spelling names another tenant' });
      throw new GatewayError('INVALID_QUERY', { publicMessage: 'tenant_id must be given once, as tenant_id=<uuid>' });
    }
    return scoped;
  }

  async function scopeByTenantId(ctx: AuthRequest, identity: UserIdentity): Promise<UserIdentity> {
    const requested = ctx.query.getAll('tenant_id');
    if (requested.length === 0) return identity;
    if (requested.length > 1)
      throw new GatewayError('INVALID_QUERY', { publicMessage: 'tenant_id given more than once' });
    const wanted = (requested[0] as string).toLowerCase();
    if (identity.role !== 'platform_admin') {
      if (wanted === identity.homeTenantId) return identity;
      throw new GatewayError('FORBIDDEN', { detail: 'tenant_id names another tenant' });
    }
    if (!UUID_RE.test(wanted)) throw new GatewayError('INVALID_QUERY', { publicMessage: 'tenant_id must be a UUID' });
    if (wanted === identity.homeTenantId) return identity;
    let exists = tenantExists.get(wanted);
    if (exists === undefined) {
      exists = (await deps.tenants.findById(wanted)) !== null;
      tenantExists.set(wanted, exists, { ttl: exists ? 60_000 : 5_000 });
    }
    if (!exists) throw new GatewayError('NOT_FOUND', { detail: 'tenant_id names no tenant' });
    const key = `${identity.userId}:${wanted}`;
    if (!overrideAudited.has(key)) {
      overrideAudited.set(key, true);
      const ua = ctx.req.headers['user-agent'];
      void deps.audit.record({
        event: 'tenant_override',
        tenantId: wanted,
        userId: identity.userId,
        ip: ctx.ip,
        requestId: ctx.requestId,
        userAgent: typeof ua === 'string' ? ua : null,
        detail: { home_tenant_id: identity.homeTenantId, path: ctx.path, at: new Date(clock.now()).toISOString() },
      });
    }
    return { ...identity, tenantId: wanted };
  }

  return scopeTenant;
}

/**
 * A ticket-authenticated upgrade acts in the tenant bound when the ticket was issued: a
 * `tenant_id` in the upgrade URL, under any spelling, must name that very tenant (else 403), so
 * the upstream never sees a tenant the gateway did not decide on. Given more than once → 400.
 */
export function checkBoundTenant(ctx: AuthRequest, identity: UserIdentity): void {
  const requested = ctx.query.getAll('tenant_id');
  if (requested.length > 1)
    throw new GatewayError('INVALID_QUERY', { publicMessage: 'tenant_id given more than once' });
  if (requested.length === 1 && (requested[0] as string).toLowerCase() !== identity.tenantId) {
    throw new GatewayError('FORBIDDEN', { detail: 'tenant_id differs from the tenant the ticket was issued for' });
  }
  if (!/tenant|%/i.test(ctx.rawQuery)) return;
  for (const { which, value } of scopedParams(ctx.rawQuery)) {
    if (which === 'tenant_id' && value.toLowerCase() !== identity.tenantId) {
      throw new GatewayError('FORBIDDEN', { detail: 'a tenant_id spelling differs from the ticket tenant' });
    }
  }
}
