import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checksumOf, migrate, readMigrations } from '../../gateway/store/migrate.js';
import { createPg, type Db } from '../../gateway/store/pg.js';
import { createTenantStore } from '../../gateway/store/tenants.js';
import { createUserStore } from '../../gateway/store/users.js';
import { createDatabase, dropDatabase } from '../helpers/services.js';

describe('migrations', () => {
  const admin = inject('postgresAdminUrl');
  let url: string;
  let db: Db;

  beforeAll(async () => {
    url = await createDatabase(admin);
    db = createPg({ url, poolSize: 4 });
  });
  afterAll(async () => {
    await db.close();
    await dropDatabase(admin, url);
  });

  it('apply once even when two processes race, then are idempotent', async () => {
    const other = createPg({ url, poolSize: 2 });
    const [a, b] = await Promise.all([migrate(db), migrate(other)]);
    await other.close();
    const names = readMigrations().map((m) => m.name);
    expect([...a.applied, ...b.applied].sort()).toEqual(names);
    const again = await migrate(db);
    expect(again).toEqual({ applied: [], alreadyApplied: names });
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM schema_migrations');
    expect(Number(rows[0]!.n)).toBe(names.length);
  });

  it('refuses an applied migration whose file changed', async () => {
    const changed = readMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'x' } : m));
    await expect(migrate(db, changed)).rejects.toThrow(/checksum mismatch/);
  });

  it('checksums cover statements, not comments: a reworded comment is the same migration', () => {
    const sql = '-- first wording\nCREATE TABLE t (id int);\n';
    expect(checksumOf(sql)).toBe(
      checksumOf('-- another wording, longer\n  -- and a second line\nCREATE TABLE t (id int);   \n'),
    );
    expect(checksumOf(sql)).not.toBe(checksumOf('-- first wording\nCREATE TABLE t (id bigint);\n'));
  });

  it('accepts a database that recorded the released whole-file checksums, and moves it to the current ones', async () => {
    const released: Record<string, string> = {
      '001': 'e599be295536410396c79000e39f688eeb7200955584be2fb2c0cf001796446f',
      '002': '52ff6585e5aced1fe4e042a86f1e5b20b3211e9012fa21bc79b8fe110f064057',
    };
    for (const [version, sum] of Object.entries(released))
      await db.query('UPDATE schema_migrations SET checksum = $2 WHERE version = $1', [version, sum]);
    const names = readMigrations().map((m) => m.name);
    expect(await migrate(db)).toEqual({ applied: [], alreadyApplied: names });
    const { rows } = await db.query<{ version: string; checksum: string }>(
      "SELECT version, checksum FROM schema_migrations WHERE version IN ('001', '002') ORDER BY version",
    );
    expect(rows.map((r) => r.checksum)).toEqual(
      readMigrations()
        .slice(0, 2)
        .map((m) => m.checksum),
    );
  });
});

describe('schema constraints (docs/api.md, data model)', () => {
  const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
  const tenants = createTenantStore(db);
  const users = createUserStore(db);
  const suffix = randomBytes(4).toString('hex');
  afterAll(() => db.close());

  it('rejects unknown roles and statuses', async () => {
    const { tenant } = await tenants.create({ domain: `c-${suffix}.test`, name: 'C', isPlatform: false });
    await expect(
      db.query("INSERT INTO users (tenant_id, email, password_hash, role) VALUES ($1, 'x@y.test', 'h', 'root')", [
        tenant.id,
      ]),
    ).rejects.toThrow(/check constraint/);
    await expect(
      db.query(
        "INSERT INTO users (tenant_id, email, password_hash, role, status) VALUES ($1, 'x@y.test', 'h', 'agent', 'gone')",
        [tenant.id],
      ),
    ).rejects.toThrow(/check constraint/);
  });

  it('makes emails unique per tenant case-insensitively, not across tenants', async () => {
    const a = (await tenants.create({ domain: `a-${suffix}.test`, name: 'A', isPlatform: false })).tenant;
    const b = (await tenants.create({ domain: `b-${suffix}.test`, name: 'B', isPlatform: false })).tenant;
    await users.create({
      tenantId: a.id,
      email: 'Same@Example.test',
      passwordHash: 'h',
      role: 'agent',
      mustChangePassword: false,
    });
    await expect(
      users.create({
        tenantId: a.id,
        email: 'same@example.TEST ',
        passwordHash: 'h',
        role: 'agent',
        mustChangePassword: false,
      }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(
      users.create({
        tenantId: b.id,
        email: 'same@example.test',
        passwordHash: 'h',
        role: 'agent',
        mustChangePassword: false,
      }),
    ).resolves.toMatchObject({ email: 'same@example.test' });
  });

  it('allows platform_admin only in the Platform tenant, and one Platform tenant at most', async () => {
    const plain = (await tenants.create({ domain: `p-${suffix}.test`, name: 'P', isPlatform: false })).tenant;
    await expect(
      users.create({
        tenantId: plain.id,
        email: 'pa@x.test',
        passwordHash: 'h',
        role: 'platform_admin',
        mustChangePassword: false,
      }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    const existing = await tenants.findPlatform();
    if (existing) {
      await expect(
        tenants.create({ domain: `plat-${suffix}.test`, name: 'X', isPlatform: true }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
    }
    // The flag is copied from the tenant: flipping it on the user alone breaks the foreign key.
    const u = await users.create({
      tenantId: plain.id,
      email: 'ag@x.test',
      passwordHash: 'h',
      role: 'agent',
      mustChangePassword: false,
    });
    await expect(
      db.query("UPDATE users SET tenant_is_platform = true, role = 'platform_admin' WHERE id = $1", [u.id]),
    ).rejects.toThrow(/foreign key/);
  });

  it('creating a tenant twice is idempotent', async () => {
    const first = await tenants.create({ domain: `Idem-${suffix}.test`, name: 'I', isPlatform: false });
    const second = await tenants.create({ domain: `idem-${suffix}.test`, name: 'I', isPlatform: false });
    expect(first.created).toBe(true);
    expect(second).toMatchObject({ created: false, tenant: { id: first.tenant.id } });
  });
});
