/** The admin CLI's help, listing and audit commands through the real process (docs/operations.md). */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPg } from '../../gateway/store/pg.js';
import type { Tenant } from '../../gateway/store/tenants.js';
import { makeTenant, makeUser } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let tenant: Tenant;
beforeAll(async () => {
  tenant = await makeTenant(db);
});
afterAll(() => db.close());

function jsonLines(text: string): any[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}

/** Audit rows at chosen instants, for a tenant id no other test uses. */
async function insertEvents(tenantId: string, at: Date[]): Promise<void> {
  await db.query(
    `INSERT INTO auth_events (occurred_at, event, tenant_id, ip, detail)
     SELECT t, 'login_failure', $1, '192.0.2.1', jsonb_build_object('n', n) FROM unnest($2::timestamptz[]) WITH ORDINALITY AS x(t, n)`,
    [tenantId, at],
  );
}

describe('cli --help', () => {
  it.each([
    [['--help']],
    [['-h']],
    [['user', '--help']],
    [['audit', 'export', '--help']],
    [['tenant', 'create', '-h']],
    [['user', 'create', '--tenant', 'x', '--help']],
  ])('prints usage on stdout with exit 0: %j', async (args) => {
    const res = await runCli(args);
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('');
    expect(res.stdout).toMatch(/^usage: npm run cli -- /);
  });

  it('lists every command in the overall help', async () => {
    const { stdout } = await runCli(['--help']);
    for (const c of [
      'migrate',
      'tenant create',
      'tenant list',
      'user list',
      'user create',
      'node enroll',
      'audit export',
      'audit prune',
      'keys generate',
    ]) {
      expect(stdout).toContain(`  ${c}`);
    }
  });

  it.each([
    [['frobnicate'], /unknown command: frobnicate/],
    [['tenant', 'list', '--verbose'], /unknown option --verbose/],
    [['audit', 'prune', '--older-than'], /--older-than needs a value/],
    [['tenant', 'list', 'extra'], /unexpected argument extra/],
    [['tenant', 'create', '--domain', 'a.test', '--domain', 'b.test', '--name', 'x'], /--domain given more than once/],
  ])('refuses a wrong command line with exit 2 and the usage: %j', async (args, message) => {
    const res = await runCli(args);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(message);
    expect(res.stderr).toMatch(/usage: npm run cli -- /);
  });
});

describe('cli tenant list / user list', () => {
  it('tenant list prints every tenant as a JSON array', async () => {
    const res = await runCli(['tenant', 'list']);
    expect(res.code).toBe(0);
    expect(Array.isArray(res.json)).toBe(true);
    expect(res.json.find((t: any) => t.id === tenant.id)).toEqual({
      id: tenant.id,
      domain: tenant.domain,
      name: tenant.name,
      is_platform: false,
      status: 'active',
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
  });

  it('user list prints the tenant users and never a password hash', async () => {
    const a = await makeUser(db, tenant, { email: 'b-list@cli.test' });
    const b = await makeUser(db, tenant, { email: 'a-list@cli.test', role: 'admin' });
    const res = await runCli(['user', 'list', '--tenant', tenant.domain]);
    expect(res.code).toBe(0);
    expect(res.json.map((u: { email: string }) => u.email)).toEqual(['a-list@cli.test', 'b-list@cli.test']);
    expect(res.json[0]).toMatchObject({
      id: b.id,
      tenant_id: tenant.id,
      role: 'admin',
      status: 'active',
      last_login_at: null,
    });
    expect(res.json[1].id).toBe(a.id);
    expect(res.stdout).not.toMatch(/argon2|password_hash|\$2[aby]\$/);
    const missing = await runCli(['user', 'list', '--tenant', 'no-such-tenant.test']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no tenant/);
  });
});

describe('cli audit', () => {
  it('exports a time range as JSON lines, oldest first, across cursor batches, filtered by tenant', async () => {
    const other = await makeTenant(db);
    // Recent enough that no gateway's retention job (365 days by default) prunes them meanwhile.
    const base = Math.floor((Date.now() - 30 * 86_400_000) / 1000) * 1000;
    const iso = (offsetSeconds: number) => new Date(base + offsetSeconds * 1000).toISOString();
    // 1203 rows: more than two cursor batches of 500.
    await insertEvents(
      tenant.id,
      Array.from({ length: 1203 }, (_, i) => new Date(base + i * 1000)),
    );
    await insertEvents(other.id, [new Date(base + 5000)]);
    const res = await runCli(['audit', 'export', '--since', iso(0), '--until', iso(3600), '--tenant', tenant.domain]);
    expect(res.code).toBe(0);
    const lines = jsonLines(res.stdout);
    expect(lines).toHaveLength(1203);
    expect(lines[0]).toEqual({
      id: expect.any(Number),
      occurred_at: iso(0),
      event: 'login_failure',
      tenant_id: tenant.id,
      user_id: null,
      node_id: null,
      ip: '192.0.2.1',
      user_agent: null,
      request_id: null,
      detail: { n: 1 },
    });
    expect(lines.at(-1).occurred_at).toBe(iso(1202));
    expect(lines.every((l, i) => i === 0 || l.occurred_at > lines[i - 1].occurred_at)).toBe(true);

    const narrow = await runCli(['audit', 'export', '--since', iso(10), '--until', iso(12).replace('Z', '+00:00')]);
    expect(
      jsonLines(narrow.stdout).map((l: { tenant_id: string; occurred_at: string }) => [l.tenant_id, l.occurred_at]),
    ).toEqual([
      [tenant.id, iso(10)],
      [tenant.id, iso(11)],
    ]);
    const byId = await runCli(['audit', 'export', '--since', '31d', '--until', '29d', '--tenant', other.id]);
    expect(jsonLines(byId.stdout).map((l: { tenant_id: string }) => l.tenant_id)).toEqual([other.id]);
  });

  it('accepts relative times and refuses bad ones', async () => {
    const t = randomUUID();
    await insertEvents(t, [new Date(Date.now() - 3 * 3600_000), new Date(Date.now() - 30 * 3600_000)]);
    const recent = await runCli(['audit', 'export', '--since', '24h', '--tenant', t]);
    expect(recent.code).toBe(0);
    expect(jsonLines(recent.stdout)).toHaveLength(1);
    expect(jsonLines((await runCli(['audit', 'export', '--since', '2d', '--tenant', t])).stdout)).toHaveLength(2);
    for (const bad of [
      ['--since', 'yesterday'],
      ['--since', '2026-01-01T00:00:00'],
      ['--since', '1d', '--until', '2d'],
    ]) {
      const res = await runCli(['audit', 'export', ...bad]);
      expect(res.code).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr).toMatch(/--since|--until/);
    }
    expect((await runCli(['audit', 'export', '--since', '1d', '--tenant', 'no-such.test'])).code).toBe(1);
  });

  it('prunes events older than N days in batches and prints the count', async () => {
    const t = randomUUID();
    // 100 days old: past the 99 below, younger than the gateways' default 365-day retention.
    await insertEvents(t, [...Array.from({ length: 2100 }, () => new Date(Date.now() - 100 * 86_400_000)), new Date()]);
    const res = await runCli(['audit', 'prune', '--older-than', '99']);
    expect(res.code).toBe(0);
    expect(res.json.deleted).toBeGreaterThanOrEqual(2100);
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM auth_events WHERE tenant_id = $1', [t]);
    expect(rows[0]!.n).toBe('1');
    expect((await runCli(['audit', 'prune', '--older-than', '99'])).json).toEqual({ deleted: 0 });
    for (const bad of ['0', '-1', '1.5', 'ten']) {
      const r = await runCli(['audit', 'prune', `--older-than=${bad}`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--older-than must be a whole number/);
    }
  });
});
