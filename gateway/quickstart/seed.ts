/**
 * Demo data for the quickstart (README.md): a demo tenant, the Platform tenant, one user per role
 * with fixed, documented passwords, and a demo edge node. Idempotent: what exists is left as it
 * is, so a password changed in the demo survives a restart.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Role } from '../config/types.js';
import type { PasswordHasher } from '../auth/passwords.js';
import { generateNodeKey, hashKey, NODE_KEY_RE } from '../auth/node-keys.js';
import type { Db } from '../store/pg.js';
import { createNodeStore } from '../store/nodes.js';
import { createTenantStore, type Tenant } from '../store/tenants.js';
import { createUserStore } from '../store/users.js';

export const DEMO_TENANT_DOMAIN = 'demo.get2dial.local';
export const PLATFORM_TENANT_DOMAIN = 'platform.get2dial.local';
export const DEMO_NODE_NAME = 'demo-edge-node';
/** Raw keys are never stored in Postgres (docs/edge-nodes.md); the demo node's is kept here to be printed. */
export const DEMO_NODE_KEY_FILE = 'demo-node.key';

export interface DemoUser {
  readonly label: string;
  readonly email: string;
  readonly password: string;
  readonly role: Role;
  readonly tenantDomain: string;
}

/** The documented demo logins (README, start banner). */
export const DEMO_USERS: readonly DemoUser[] = [
  {
    label: 'admin',
    email: `admin@${DEMO_TENANT_DOMAIN}`,
    password: 'demo-admin-password',
    role: 'admin',
    tenantDomain: DEMO_TENANT_DOMAIN,
  },
  {
    label: 'supervisor',
    email: `supervisor@${DEMO_TENANT_DOMAIN}`,
    password: 'demo-supervisor-password',
    role: 'supervisor',
    tenantDomain: DEMO_TENANT_DOMAIN,
  },
  {
    label: 'agent',
    email: `agent@${DEMO_TENANT_DOMAIN}`,
    password: 'demo-agent-password',
    role: 'agent',
    tenantDomain: DEMO_TENANT_DOMAIN,
  },
  {
    label: 'platform',
    email: `platform@${PLATFORM_TENANT_DOMAIN}`,
    password: 'demo-platform-password',
    role: 'platform_admin',
    tenantDomain: PLATFORM_TENANT_DOMAIN,
  },
];

export interface SeedResult {
  readonly demoTenant: Tenant;
  readonly platformTenant: Tenant;
  /** Emails of the users created by this run (the rest already existed and were left alone). */
  readonly createdUsers: readonly string[];
  readonly node: { readonly id: string; readonly name: string; readonly tenantId: string; readonly apiKey: string };
}

/**
 * Creates whatever demo data is missing. Passwords are hashed with the gateway's hasher (argon2id);
 * the change-password policy does not apply to seeding. The demo node's raw key lives in
 * `<dataDir>/demo-node.key` (0600); if it no longer matches an active node (first start, a
 * rotation through the API, a revocation), a fresh key is issued to the demo node.
 */
export async function seedDemo(
  deps: { db: Db; passwords: PasswordHasher; log: Logger },
  dataDir: string,
): Promise<SeedResult> {
  const { db, passwords, log } = deps;
  const tenants = createTenantStore(db);
  const users = createUserStore(db);
  const nodes = createNodeStore(db);

  const demoTenant = (await tenants.create({ domain: DEMO_TENANT_DOMAIN, name: 'Demo', isPlatform: false })).tenant;
  // At most one Platform tenant exists (docs/operations.md, data model): a database bootstrapped earlier keeps its own.
  const platformTenant =
    (await tenants.findPlatform()) ??
    (await tenants.create({ domain: PLATFORM_TENANT_DOMAIN, name: 'Platform', isPlatform: true })).tenant;

  const createdUsers: string[] = [];
  for (const u of DEMO_USERS) {
    const tenant = u.role === 'platform_admin' ? platformTenant : demoTenant;
    if (await users.findInTenant(tenant.id, u.email)) continue;
    await users.create({
      tenantId: tenant.id,
      email: u.email,
      passwordHash: await passwords.hash(u.password),
      role: u.role,
      mustChangePassword: false,
    });
    createdUsers.push(u.email);
  }
  if (createdUsers.length > 0) log.info({ users: createdUsers }, 'quickstart: demo users created');

  const keyFile = join(dataDir, DEMO_NODE_KEY_FILE);
  const stored = existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : '';
  if (NODE_KEY_RE.test(stored)) {
    const node = await nodes.findActiveByKeyHash(hashKey(stored));
    if (node)
      return {
        demoTenant,
        platformTenant,
        createdUsers,
        node: { id: node.id, name: node.name, tenantId: node.tenantId, apiKey: stored },
      };
  }
  const { rawKey, hash } = generateNodeKey();
  // The file first: a crash before the database write only means another fresh key next start.
  const tmp = `${keyFile}.${process.pid}.tmp`;
  writeFileSync(tmp, `${rawKey}\n`, { mode: 0o600 });
  renameSync(tmp, keyFile);
  const existing = (await nodes.listByTenant(demoTenant.id)).find(
    (n) => n.name === DEMO_NODE_NAME && n.status === 'active',
  );
  const node = existing
    ? await nodes.rotateKey(existing.id, hash)
    : await nodes.create({ tenantId: demoTenant.id, name: DEMO_NODE_NAME, apiKeyHash: hash });
  if (!node) throw new Error('quickstart: the demo node changed while it was being re-keyed; start again');
  log.info({ nid: node.id, rekeyed: Boolean(existing) }, 'quickstart: demo edge node key issued');
  return {
    demoTenant,
    platformTenant,
    createdUsers,
    node: { id: node.id, name: node.name, tenantId: node.tenantId, apiKey: rawKey },
  };
}
