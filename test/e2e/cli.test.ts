/** The admin CLI (docs/operations.md) through the real CLI process: JSON on stdout, errors on stderr, exit codes. */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPg } from '../../gateway/store/pg.js';
import { uniq } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
afterAll(() => db.close());

describe('admin CLI', () => {
  const domain = `${uniq('cli')}.test`;

  it('creates a tenant, idempotently', async () => {
    const first = await runCli(['tenant', 'create', '--domain', domain, '--name', 'CLI Tenant']);
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({ domain, name: 'CLI Tenant', is_platform: false, created: true });
    const again = await runCli(['tenant', 'create', '--domain', domain, '--name', 'CLI Tenant']);
    expect(again.json).toMatchObject({ id: first.json.id, created: false });
  });

  it('creates a user from --password-stdin, stores argon2id, and is idempotent', async () => {
    const res = await runCli(
      [
        'user',
        'create',
        '--tenant',
        domain,
        '--email',
        'Agent@CLI.test',
        '--role',
        'agent',
        '--password-stdin',
        '--must-change-password',
      ],
      'a-long-enough-password\n',
    );
    expect(res.code).toBe(0);
    expect(res.json).toMatchObject({
      email: 'agent@cli.test',
      role: 'agent',
      must_change_password: true,
      created: true,
    });
    expect(res.stdout).not.toContain('a-long-enough-password');
    const { rows } = await db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [
      res.json.id,
    ]);
    expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    const again = await runCli([
      'user',
      'create',
      '--tenant',
      domain,
      '--email',
      'agent@cli.test',
      '--role',
      'agent',
      '--password',
      'a-long-enough-password',
    ]);
    expect(again.json).toMatchObject({ id: res.json.id, created: false });
  });

  it('disables and enables a user', async () => {
    await runCli([
      'user',
      'create',
      '--tenant',
      domain,
      '--email',
      'sup@cli.test',
      '--role',
      'supervisor',
      '--password',
      'another-long-password',
    ]);
    expect((await runCli(['user', 'disable', '--tenant', domain, '--email', 'sup@cli.test'])).json).toMatchObject({
      status: 'disabled',
    });
    expect((await runCli(['user', 'enable', '--tenant', domain, '--email', 'sup@cli.test'])).json).toMatchObject({
      status: 'active',
    });
  });

  it.each([
    [
      [
        'user',
        'create',
        '--tenant',
        'no-such-tenant.test',
        '--email',
        'a@b.test',
        '--role',
        'agent',
        '--password',
        'long-enough-password',
      ],
      /no tenant/,
    ],
    [
      [
        'user',
        'create',
        '--tenant',
        'x.test',
        '--email',
        'a@b.test',
        '--role',
        'root',
        '--password',
        'long-enough-password',
      ],
      /no tenant|--role/,
    ],
    [['user', 'disable', '--tenant', 'x.test'], /--email is required|no tenant/],
    [['tenant', 'create', '--domain', 'Not A Domain', '--name', 'x'], /not a valid domain/],
    [['tenant', 'create', '--domain', 'ok.test', '--name', 'x', '--bogus', '1'], /unknown option --bogus/],
    [['frobnicate'], /unknown command/],
  ])('fails clearly: %j', async (args, message) => {
    const res = await runCli(args);
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(message);
  });

  it('refuses weak passwords and platform_admin outside the Platform tenant', async () => {
    const weak = await runCli([
      'user',
      'create',
      '--tenant',
      domain,
      '--email',
      'w@cli.test',
      '--role',
      'agent',
      '--password',
      'password1234',
    ]);
    expect(weak.code).not.toBe(0);
    expect(weak.stderr).toMatch(/too common/);
    const pa = await runCli([
      'user',
      'create',
      '--tenant',
      domain,
      '--email',
      'pa@cli.test',
      '--role',
      'platform_admin',
      '--password',
      'a-long-enough-password',
    ]);
    expect(pa.code).not.toBe(0);
    expect(pa.stderr).toMatch(/Platform tenant/);
  });
});
