/** docs/api.md: the node store against real Postgres (enrollment single use, expiry, revoke, notify). */
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { generateEnrollmentToken, generateNodeKey, hashKey } from '../../gateway/auth/node-keys.js';
import { GatewayError } from '../../gateway/errors.js';
import { createNodeStore, NODE_REVOKED_CHANNEL } from '../../gateway/store/nodes.js';
import { createPg } from '../../gateway/store/pg.js';
import { makeTenant, uniq } from '../helpers/fixtures.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 12 });
const nodes = createNodeStore(db);
afterAll(() => db.close());

async function enroll(tenantId: string, name = uniq('edge'), expiresInMs = 60_000) {
  const token = generateEnrollmentToken();
  const enrollment = await nodes.createEnrollment({
    tenantId,
    name,
    tokenHash: token.hash,
    expiresAt: new Date(Date.now() + expiresInMs),
  });
  return { token, enrollment, name };
}

describe('node store', () => {
  it('creates a node and finds it by key digest only while active', async () => {
    const tenant = await makeTenant(db);
    const key = generateNodeKey();
    const node = await nodes.create({ tenantId: tenant.id, name: 'edge-01', apiKeyHash: key.hash });
    expect(node).toMatchObject({
      tenantId: tenant.id,
      name: 'edge-01',
      status: 'active',
      revokedAt: null,
      lastSeenAt: null,
    });
    expect(await nodes.findActiveByKeyHash(key.hash)).toMatchObject({ id: node.id });
    expect(await nodes.findActiveByKeyHash(hashKey('g2dn_other'))).toBeNull();
    expect(await nodes.findActiveByKeyHash('not-hex')).toBeNull();
    const { rows } = await db.query<{ api_key_hash: string }>('SELECT api_key_hash FROM nodes WHERE id = $1', [
      node.id,
    ]);
    expect(rows[0]!.api_key_hash).toBe(key.hash);
    expect(rows[0]!.api_key_hash).not.toContain(key.rawKey);
  });

  it('refuses a second active node of the same name (case-insensitively) with CONFLICT', async () => {
    const tenant = await makeTenant(db);
    await nodes.create({ tenantId: tenant.id, name: 'Edge-A', apiKeyHash: generateNodeKey().hash });
    const err = await nodes
      .create({ tenantId: tenant.id, name: 'edge-a', apiKeyHash: generateNodeKey().hash })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('CONFLICT');
  });

  it('redeems an enrollment token exactly once under 10 concurrent attempts', async () => {
    const tenant = await makeTenant(db);
    const { token, name } = await enroll(tenant.id);
    const now = new Date();
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        nodes.consumeEnrollment({ tokenHash: token.hash, apiKeyHash: generateNodeKey().hash, now }),
      ),
    );
    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM nodes WHERE tenant_id = $1', [tenant.id]);
    expect(Number(rows[0]!.n)).toBe(1);
    const won = winners[0]!;
    expect(won.node).toMatchObject({ tenantId: tenant.id, name, status: 'active' });
    expect(won.enrollment).toMatchObject({ nodeId: won.node.id, usedAt: now });
    // Used: a later attempt finds nothing.
    expect(
      await nodes.consumeEnrollment({ tokenHash: token.hash, apiKeyHash: generateNodeKey().hash, now: new Date() }),
    ).toBeNull();
  });

  it('refuses an expired token, judged by the clock passed in', async () => {
    const tenant = await makeTenant(db);
    const { token, enrollment } = await enroll(tenant.id, uniq('edge'), 60_000);
    const after = new Date(enrollment.expiresAt.getTime() + 1);
    expect(
      await nodes.consumeEnrollment({ tokenHash: token.hash, apiKeyHash: generateNodeKey().hash, now: after }),
    ).toBeNull();
    const atExpiry = new Date(enrollment.expiresAt.getTime());
    expect(
      await nodes.consumeEnrollment({ tokenHash: token.hash, apiKeyHash: generateNodeKey().hash, now: atExpiry }),
    ).toBeNull();
    // Still unused, so redeemable before it expires.
    const before = new Date(enrollment.expiresAt.getTime() - 1);
    expect(
      await nodes.consumeEnrollment({ tokenHash: token.hash, apiKeyHash: generateNodeKey().hash, now: before }),
    ).not.toBeNull();
  });

  it('refuses an unknown token and a token of a suspended tenant', async () => {
    expect(
      await nodes.consumeEnrollment({
        tokenHash: generateEnrollmentToken().hash,
        apiKeyHash: generateNodeKey().hash,
        now: new Date(),
      }),
    ).toBeNull();
    const tenant = await makeTenant(db);
    const { token } = await enroll(tenant.id);
    await db.query(`UPDATE tenants SET status = 'suspended' WHERE id = $1`, [tenant.id]);
    expect(
      await nodes.consumeEnrollment({ tokenHash: token.hash, apiKeyHash: generateNodeKey().hash, now: new Date() }),
    ).toBeNull();
  });

  it('keeps the token unused when the name does not match or the node name is taken', async () => {
    const tenant = await makeTenant(db);
    const { token, name } = await enroll(tenant.id, 'edge-07');
    const mismatch = await nodes
      .consumeEnrollment({
        tokenHash: token.hash,
        apiKeyHash: generateNodeKey().hash,
        now: new Date(),
        name: 'edge-08',
      })
      .catch((e: unknown) => e);
    expect((mismatch as GatewayError).code).toBe('CONFLICT');
    const existing = await nodes.create({ tenantId: tenant.id, name, apiKeyHash: generateNodeKey().hash });
    const taken = await nodes
      .consumeEnrollment({
        tokenHash: token.hash,
        apiKeyHash: generateNodeKey().hash,
        now: new Date(),
        name: 'EDGE-07',
      })
      .catch((e: unknown) => e);
    expect((taken as GatewayError).code).toBe('CONFLICT');
    const { rows } = await db.query<{ used_at: Date | null }>(
      'SELECT used_at FROM node_enrollments WHERE token_hash = $1',
      [token.hash],
    );
    expect(rows[0]!.used_at).toBeNull();
    await nodes.revoke(existing.id);
    expect(
      await nodes.consumeEnrollment({
        tokenHash: token.hash,
        apiKeyHash: generateNodeKey().hash,
        now: new Date(),
        name: 'Edge-07',
      }),
    ).not.toBeNull();
  });

  it('revokes idempotently and announces every revocation and rotation on the channel', async () => {
    const listener = new pg.Client({ connectionString: inject('databaseUrl') });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (m) => {
      if (m.channel === NODE_REVOKED_CHANNEL && !m.payload?.startsWith('probe:')) heard.push(m.payload ?? '');
    });
    await listener.query(`LISTEN ${NODE_REVOKED_CHANNEL}`);
    try {
      const tenant = await makeTenant(db);
      const key = generateNodeKey();
      const node = await nodes.create({ tenantId: tenant.id, name: uniq('edge'), apiKeyHash: key.hash });

      const next = generateNodeKey();
      expect(await nodes.rotateKey(node.id, next.hash, generateNodeKey().hash)).toBeNull(); // wrong expected key
      expect(await nodes.rotateKey(node.id, next.hash, key.hash)).toMatchObject({ id: node.id });
      expect(await nodes.findActiveByKeyHash(key.hash)).toBeNull();
      expect(await nodes.findActiveByKeyHash(next.hash)).toMatchObject({ id: node.id });

      const first = await nodes.revoke(node.id);
      expect(first).toMatchObject({ alreadyRevoked: false, node: { id: node.id, status: 'revoked' } });
      expect(first!.node.revokedAt).toBeInstanceOf(Date);
      const second = await nodes.revoke(node.id);
      expect(second).toMatchObject({
        alreadyRevoked: true,
        node: { id: node.id, status: 'revoked', revokedAt: first!.node.revokedAt },
      });
      expect(await nodes.findActiveByKeyHash(next.hash)).toBeNull();
      expect(await nodes.rotateKey(node.id, generateNodeKey().hash)).toBeNull(); // revoked nodes keep no key
      expect(await nodes.revoke('00000000-0000-4000-8000-000000000000')).toBeNull();
      expect(await nodes.revoke('nonsense')).toBeNull();

      // Other test files share the database (and the channel): count this node's announcements.
      await expect.poll(() => heard.filter((p) => p === node.id).length).toBe(3);
    } finally {
      await listener.end();
    }
  });

  it('touches last_seen_at and lists a tenant', async () => {
    const tenant = await makeTenant(db);
    const node = await nodes.create({ tenantId: tenant.id, name: 'edge-x', apiKeyHash: generateNodeKey().hash });
    await nodes.touchLastSeen(node.id);
    expect((await nodes.findById(node.id))!.lastSeenAt).toBeInstanceOf(Date);
    expect((await nodes.listByTenant(tenant.id)).map((n) => n.id)).toEqual([node.id]);
    expect(await nodes.findById('not-a-uuid')).toBeNull();
  });
});
