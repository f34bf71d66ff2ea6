/** SPEC §9 through the real CLI process: JSON on stdout, errors on stderr, exit codes. */
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPg } from '../../gateway/store/pg.js';
import { uniq } from '../helpers/fixtures.js';
import { ROOT } from '../helpers/spawn-gateway.js';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json: any;
}

function cli(args: string[], stdin?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: inject('databaseUrl'), REDIS_URL: inject('redisUrl'), REDIS_KEY_PREFIX: `${inject('redisPrefix')}cli:` },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(stdin ?? '');
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
afterAll(() => db.close());

describe('admin CLI', () => {
  const domain = `${uniq('cli')}.test`;

  it('creates a tenant, idempotently', async () => {
    const first = await cli(['tenant', 'create', '--domain', domain, '--name', 'CLI Tenant']);
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({ domain, name: 'CLI Tenant', is_platform: false, created: true });
    const again = await cli(['tenant', 'create', '--domain', domain, '--name', 'CLI Tenant']);
    expect(again.json).toMatchObject({ id: first.json.id, created: false });
  });

  it('creates a user from --password-stdin, stores argon2id, and is idempotent', async () => {
    const res = await cli(['user', 'create', '--tenant', domain, '--email', 'Agent@CLI.test', '--role', 'agent', '--password-stdin', '--must-change-password'], 'a-long-enough-password\n');
    expect(res.code).toBe(0);
    expect(res.json).toMatchObject({ email: 'agent@cli.test', role: 'agent', must_change_password: true, created: true });
    expect(res.stdout).not.toContain('a-long-enough-password');
    const { rows } = await db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [res.json.id]);
    expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    const again = await cli(['user', 'create', '--tenant', domain, '--email', 'agent@cli.test', '--role', 'agent', '--password', 'a-long-enough-password']);
    expect(again.json).toMatchObject({ id: res.json.id, created: false });
  });

  it('disables and enables a user', async () => {
    await cli(['user', 'create', '--tenant', domain, '--email', 'sup@cli.test', '--role', 'supervisor', '--password', 'another-long-password']);
    expect((await cli(['user', 'disable', '--tenant', domain, '--email', 'sup@cli.test'])).json).toMatchObject({ status: 'disabled' });
    expect((await cli(['user', 'enable', '--tenant', domain, '--email', 'sup@cli.test'])).json).toMatchObject({ status: 'active' });
  });

  it.each([
    [['user', 'create', '--tenant', 'no-such-tenant.test', '--email', 'a@b.test', '--role', 'agent', '--password', 'long-enough-password'], /no tenant/],
    [['user', 'create', '--tenant', 'x.test', '--email', 'a@b.test', '--role', 'root', '--password', 'long-enough-password'], /no tenant|--role/],
    [['user', 'disable', '--tenant', 'x.test'], /--email is required|no tenant/],
    [['tenant', 'create', '--domain', 'Not A Domain', '--name', 'x'], /not a valid domain/],
    [['tenant', 'create', '--domain', 'ok.test', '--name', 'x', '--bogus', '1'], /unknown option --bogus/],
    [['frobnicate'], /unknown command/],
  ])('fails clearly: %j', async (args, message) => {
    const res = await cli(args);
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(message);
  });

  it('refuses weak passwords and platform_admin outside the Platform tenant', async () => {
    const weak = await cli(['user', 'create', '--tenant', domain, '--email', 'w@cli.test', '--role', 'agent', '--password', 'password1234']);
    expect(weak.code).not.toBe(0);
    expect(weak.stderr).toMatch(/too common/);
    const pa = await cli(['user', 'create', '--tenant', domain, '--email', 'pa@cli.test', '--role', 'platform_admin', '--password', 'a-long-enough-password']);
    expect(pa.code).not.toBe(0);
    expect(pa.stderr).toMatch(/Platform tenant/);
  });
});
