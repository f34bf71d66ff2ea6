import type { Db } from './pg.js';
import { createTenantStore, type Tenant } from './tenants.js';
import { createUserStore, type User } from './users.js';

/**
 * Creates the Platform tenant (unless one exists) and the first platform_admin in one transaction,
 * or returns null when a platform_admin already exists. The tenants table is locked first so two
 * concurrent bootstraps cannot both find no admin (the second waits, then sees the first's admin).
 */
export async function bootstrapPlatformAdmin(
  db: Pick<Db, 'transaction'>,
  input: {
    readonly email: string;
    readonly passwordHash: string;
    readonly tenantDomain: string;
    readonly tenantName: string;
  },
): Promise<{ platform: Tenant; user: User } | null> {
  return db.transaction(async (tx) => {
    await tx.query('LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE');
    const { rows } = await tx.query("SELECT 1 FROM users WHERE role = 'platform_admin' LIMIT 1");
    if (rows.length > 0) return null;
    const tenants = createTenantStore(tx);
    const platform =
      (await tenants.findPlatform()) ??
      (await tenants.create({ domain: input.tenantDomain, name: input.tenantName, isPlatform: true })).tenant;
    const user = await createUserStore(tx).create({
      tenantId: platform.id,
      email: input.email,
      passwordHash: input.passwordHash,
      role: 'platform_admin',
      mustChangePassword: false,
    });
    return { platform, user };
  });
}
