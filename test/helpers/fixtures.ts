/** Test data straight through the stores (real Postgres, real argon2): tenants and users. */
import { randomBytes } from 'node:crypto';
import { createPasswordHasher } from '../../gateway/auth/passwords.js';
import { loadConfig } from '../../gateway/config/index.js';
import type { Role } from '../../gateway/config/types.js';
import type { Db } from '../../gateway/store/pg.js';
import { createTenantStore, type Tenant } from '../../gateway/store/tenants.js';
import { createUserStore, type User } from '../../gateway/store/users.js';

const hasher = createPasswordHasher(loadConfig({}).passwords);

export function uniq(label = 't'): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

export async function makeTenant(db: Db, domain = `${uniq('tenant')}.test`): Promise<Tenant> {
  return (await createTenantStore(db).create({ domain, name: domain, isPlatform: false })).tenant;
}

/** The shared test database holds at most one Platform tenant: find it or create it. */
export async function platformTenant(db: Db): Promise<Tenant> {
  const tenants = createTenantStore(db);
  const existing = await tenants.findPlatform();
  if (existing) return existing;
  try {
    return (
      await tenants.create({
        domain: `platform-${randomBytes(4).toString('hex')}.test`,
        name: 'Platform',
        isPlatform: true,
      })
    ).tenant;
  } catch {
    const raced = await tenants.findPlatform();
    if (!raced) throw new Error('no platform tenant');
    return raced;
  }
}

export async function makeUser(
  db: Db,
  tenant: Tenant,
  options: { email?: string; password?: string; role?: Role; mustChangePassword?: boolean; passwordHash?: string } = {},
): Promise<User & { password: string }> {
  const password = options.password ?? `pw-${randomBytes(8).toString('hex')}`;
  const user = await createUserStore(db).create({
    tenantId: tenant.id,
    email: options.email ?? `${uniq('user')}@example.test`,
    passwordHash: options.passwordHash ?? (await hasher.hash(password)),
    role: options.role ?? 'agent',
    mustChangePassword: options.mustChangePassword ?? false,
  });
  return { ...user, password };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** fetch + JSON body (or text when not JSON). */
export async function call(
  url: string,
  init: RequestInit & { json?: unknown; token?: string } = {},
): Promise<JsonResponse> {
  const headers = new Headers(init.headers);
  if (init.json !== undefined) headers.set('content-type', 'application/json');
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  const res = await fetch(url, {
    ...init,
    headers,
    body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body };
}
