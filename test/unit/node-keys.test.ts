/**
 * Node API keys: formats and digests, and the authenticator on a database of its own with an
 * injected clock and no LISTEN connection (the embedded-Postgres mode): revocations reach it
 * within listenerDownTtlMs of the clock, unknown keys are null (never a throw).
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENROLLMENT_TOKEN_RE,
  createNodeKeyAuthenticator,
  generateEnrollmentToken,
  generateNodeKey,
  hashKey,
  NODE_KEY_RE,
} from '../../gateway/auth/node-keys.js';
import { createNodeStore, type NodeStore } from '../../gateway/store/nodes.js';
import { createPg, type Db } from '../../gateway/store/pg.js';
import type { Tenant } from '../../gateway/store/tenants.js';
import { freshDatabase, testClock } from '../helpers/app.js';
import { makeTenant, uniq } from '../helpers/fixtures.js';

describe('key material', () => {
  it('node keys and enrollment tokens have their documented shapes and SHA-256 hex digests', () => {
    const k = generateNodeKey();
    const e = generateEnrollmentToken();
    expect(k.rawKey).toMatch(NODE_KEY_RE);
    expect(e.rawToken).toMatch(ENROLLMENT_TOKEN_RE);
    expect(k.hash).toBe(hashKey(k.rawKey));
    expect(k.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(generateNodeKey().rawKey).not.toBe(k.rawKey);
    expect(NODE_KEY_RE.test(e.rawToken)).toBe(false);
  });
});

describe('createNodeKeyAuthenticator', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let db: Db;
  let nodes: NodeStore;
  let tenant: Tenant;
  const clock = testClock();
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    database = await freshDatabase();
    db = createPg({ url: database.url, poolSize: 2 });
    nodes = createNodeStore(db);
    tenant = await makeTenant(db);
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  async function node() {
    const key = generateNodeKey();
    const created = await nodes.create({ tenantId: tenant.id, name: uniq('edge'), apiKeyHash: key.hash });
    return { key: key.rawKey, node: created };
  }

  it('authenticates an active key as its node', async () => {
    const auth = createNodeKeyAuthenticator({ nodes, feed: null, log, clock });
    await auth.start();
    const { key, node: n } = await node();
    expect(await auth.authenticate(key)).toMatchObject({ kind: 'node', nodeId: n.id, tenantId: tenant.id });
    await auth.close();
  });

  it('unknown, malformed and empty keys are null', async () => {
    const auth = createNodeKeyAuthenticator({ nodes, feed: null, log, clock });
    expect(await auth.authenticate(generateNodeKey().rawKey)).toBeNull();
    expect(await auth.authenticate('not-a-key')).toBeNull();
    expect(await auth.authenticate('')).toBeNull();
    expect(await auth.authenticate(`g2dn_${'x'.repeat(5000)}`)).toBeNull();
  });

  it('without LISTEN, a revocation elsewhere is seen once listenerDownTtlMs passed on the clock', async () => {
    const auth = createNodeKeyAuthenticator({ nodes, feed: null, log, clock }, { listenerDownTtlMs: 5_000 });
    const { key, node: n } = await node();
    expect(await auth.authenticate(key)).not.toBeNull();
    await nodes.revoke(n.id);
    clock.advance(5_001);
    expect(await auth.authenticate(key)).toBeNull();
  });

  it('evictNode forgets a node at once (rotation or revocation on this instance)', async () => {
    const auth = createNodeKeyAuthenticator(
      { nodes, feed: null, log, clock },
      { listenerDownTtlMs: 60_000, cacheTtlMs: 60_000 },
    );
    const { key, node: n } = await node();
    expect(await auth.authenticate(key)).not.toBeNull();
    await nodes.revoke(n.id);
    auth.evictNode(n.id);
    expect(await auth.authenticate(key)).toBeNull();
  });

  it('a key created after a miss is found once the negative entry expired on the clock', async () => {
    const auth = createNodeKeyAuthenticator({ nodes, feed: null, log, clock }, { negativeTtlMs: 1_000 });
    const key = generateNodeKey();
    expect(await auth.authenticate(key.rawKey)).toBeNull();
    await nodes.create({ tenantId: tenant.id, name: uniq('late'), apiKeyHash: key.hash });
    clock.advance(1_001);
    expect(await auth.authenticate(key.rawKey)).not.toBeNull();
  });

  it('refuses nonsensical options', () => {
    expect(() => createNodeKeyAuthenticator({ nodes, feed: null, log, clock }, { cacheTtlMs: 0 })).toThrow(
      /cacheTtlMs/,
    );
    expect(() => createNodeKeyAuthenticator({ nodes, feed: null, log, clock }, { max: Number.NaN })).toThrow(/max/);
  });
});
