/** The admin CLI's node and keys commands (docs/operations.md) through the real CLI process: JSON on stdout, errors on stderr. */
import { createPublicKey, createPrivateKey, sign, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ENROLLMENT_TOKEN_RE, NODE_KEY_RE, hashKey } from '../../gateway/auth/node-keys.js';
import { createPg } from '../../gateway/store/pg.js';
import { makeTenant } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';
import type { Tenant } from '../../gateway/store/tenants.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let tenant: Tenant;
beforeAll(async () => {
  tenant = await makeTenant(db);
});
afterAll(() => db.close());

describe('cli node', () => {
  it('node create prints the key once and stores only its SHA-256', async () => {
    const res = await runCli(['node', 'create', '--tenant', tenant.domain, '--name', 'edge-01']);
    expect(res.code).toBe(0);
    expect(Object.keys(res.json).sort()).toEqual(['api_key', 'id', 'name', 'tenant_id']);
    expect(res.json).toMatchObject({ tenant_id: tenant.id, name: 'edge-01' });
    expect(res.json.api_key).toMatch(NODE_KEY_RE);
    const { rows } = await db.query<{ api_key_hash: string; status: string }>(
      'SELECT api_key_hash, status FROM nodes WHERE id = $1',
      [res.json.id],
    );
    expect(rows[0]).toEqual({ api_key_hash: hashKey(res.json.api_key), status: 'active' });
    const audit = await db.query<{ event: string }>('SELECT event FROM auth_events WHERE node_id = $1', [res.json.id]);
    expect(audit.rows.map((r) => r.event)).toEqual(['node_registered']);
    expect(JSON.stringify(audit.rows)).not.toContain(res.json.api_key);
  });

  it('node create refuses a second active node of the same name', async () => {
    await runCli(['node', 'create', '--tenant', tenant.domain, '--name', 'edge-dup']);
    const again = await runCli(['node', 'create', '--tenant', tenant.domain, '--name', 'EDGE-DUP']);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/already exists/);
  });

  it('node enroll prints a one-time token with its expiry and stores only the hash', async () => {
    const before = Date.now();
    const res = await runCli(['node', 'enroll', '--tenant', tenant.domain, '--name', 'edge-02', '--ttl-minutes', '15']);
    expect(res.code).toBe(0);
    expect(Object.keys(res.json).sort()).toEqual(['enrollment_token', 'expires_at']);
    expect(res.json.enrollment_token).toMatch(ENROLLMENT_TOKEN_RE);
    const expires = Date.parse(res.json.expires_at);
    expect(expires).toBeGreaterThan(before + 14 * 60_000);
    expect(expires).toBeLessThan(Date.now() + 15 * 60_000 + 1000);
    const { rows } = await db.query<{ tenant_id: string; name: string; used_at: Date | null }>(
      'SELECT tenant_id, name, used_at FROM node_enrollments WHERE token_hash = $1',
      [hashKey(res.json.enrollment_token)],
    );
    expect(rows).toEqual([{ tenant_id: tenant.id, name: 'edge-02', used_at: null }]);
  });

  it('node enroll defaults to 60 minutes', async () => {
    const res = await runCli(['node', 'enroll', '--tenant', tenant.domain, '--name', 'edge-03']);
    expect(res.code).toBe(0);
    const minutes = (Date.parse(res.json.expires_at) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(58);
    expect(minutes).toBeLessThanOrEqual(60);
  });

  it('node revoke is idempotent and node list shows the result', async () => {
    const created = await runCli(['node', 'create', '--tenant', tenant.domain, '--name', 'edge-04']);
    const first = await runCli(['node', 'revoke', '--id', created.json.id]);
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({
      id: created.json.id,
      tenant_id: tenant.id,
      name: 'edge-04',
      status: 'revoked',
      already_revoked: false,
    });
    expect(first.json.revoked_at).toMatch(/Z$/);
    const second = await runCli(['node', 'revoke', '--id', created.json.id.toUpperCase()]);
    expect(second.code).toBe(0);
    expect(second.json).toMatchObject({
      id: created.json.id,
      status: 'revoked',
      already_revoked: true,
      revoked_at: first.json.revoked_at,
    });
    const audit = await db.query<{ event: string }>('SELECT event FROM auth_events WHERE node_id = $1 ORDER BY id', [
      created.json.id,
    ]);
    expect(audit.rows.map((r) => r.event)).toEqual(['node_registered', 'node_revoked']);
    const list = await runCli(['node', 'list', '--tenant', tenant.domain]);
    expect(list.code).toBe(0);
    expect(list.json.find((n: any) => n.id === created.json.id)).toMatchObject({ status: 'revoked' });
    expect(JSON.stringify(list.json)).not.toMatch(/api_key|hash/);
  });

  it.each([
    [
      ['node', 'create', '--tenant', 'no-such-tenant.test', '--name', 'x'],
      1,
      /no tenant with domain no-such-tenant\.test/,
    ],
    [['node', 'enroll', '--tenant', 'no-such-tenant.test', '--name', 'x'], 1, /no tenant/],
    [['node', 'create', '--name', 'x'], 2, /--tenant is required/],
    [
      ['node', 'enroll', '--tenant', 'x.test', '--name', 'x', '--ttl-minutes', '0'],
      2,
      /--ttl-minutes must be a whole number/,
    ],
    [
      ['node', 'enroll', '--tenant', 'x.test', '--name', 'x', '--ttl-minutes', '1.5'],
      2,
      /--ttl-minutes must be a whole number/,
    ],
    [['node', 'revoke', '--id', 'not-a-uuid'], 2, /--id must be a node id/],
    [['node', 'revoke', '--id', '00000000-0000-4000-8000-000000000000'], 1, /no node with id/],
    [['node', 'create', '--tenant', 'x.test', '--name', 'x', '--key', 'mine'], 2, /unknown option --key/],
  ])('fails clearly: %j', async (args, code, message) => {
    const res = await runCli([...args]);
    expect(res.code).toBe(code);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(message);
  });
});

describe('cli keys', () => {
  it('keys generate prints a fresh Ed25519 key pair with its RFC 7638 kid', async () => {
    const [a, b] = await Promise.all([runCli(['keys', 'generate']), runCli(['keys', 'generate'])]);
    expect(a.code).toBe(0);
    expect(Object.keys(a.json).sort()).toEqual(['kid', 'private_key_pem', 'public_key_pem']);
    expect(a.json.private_key_pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(a.json.public_key_pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(a.json.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.json.kid).not.toBe(a.json.kid);
    const priv = createPrivateKey(a.json.private_key_pem);
    const pub = createPublicKey(a.json.public_key_pem);
    expect(priv.asymmetricKeyType).toBe('ed25519');
    const signature = sign(null, Buffer.from('hello'), priv);
    expect(verify(null, Buffer.from('hello'), pub, signature)).toBe(true);
  });
});
