/**
 * docs/edge-nodes.md: node key verification against real Postgres — format, digest lookup, caches,
 * revocation and rotation through LISTEN/NOTIFY from other connections and processes, listener
 * reconnect, and Postgres outages (through a TCP relay that can be cut).
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { manualClock } from '../../gateway/clock.js';
import {
  ENROLLMENT_TOKEN_RE,
  NODE_KEY_RE,
  createNodeKeyAuthenticator,
  generateEnrollmentToken,
  generateNodeKey,
  hashKey,
  type NodeKeyOptions,
} from '../../gateway/auth/node-keys.js';
import { GatewayError } from '../../gateway/errors.js';
import { createLogger } from '../../gateway/ops/logger.js';
import { createNodeStore, type Node, type NodeStore } from '../../gateway/store/nodes.js';
import { createNotificationFeed } from '../../gateway/store/listener.js';
import { createPg, type Db } from '../../gateway/store/pg.js';
import type { Tenant } from '../../gateway/store/tenants.js';
import { makeTenant, uniq } from '../helpers/fixtures.js';
import { ROOT } from '../helpers/spawn-gateway.js';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';

const run = promisify(execFile);
const url = inject('databaseUrl');
const log = createLogger({ level: 'silent', format: 'json', destination: { write: () => {} } });
const db = createPg({ url, poolSize: 4 });
// A second pool, as another gateway instance or an admin would use: revocations come from here.
const other = createPg({ url, poolSize: 2, applicationName: 'node-keys-test-other' });
const store = createNodeStore(db);
const otherStore = createNodeStore(other);
const opened: { close(): Promise<void> }[] = [];
let tenant: Tenant;

/** The real store, with its lookups and touches counted (a spy, not a mock: every call hits Postgres). */
function counted(inner: NodeStore) {
  const calls = { lookups: 0, touches: 0 };
  const nodes: Pick<NodeStore, 'findByKeyHash' | 'touchLastSeen' | 'retirePreviousKey' | 'findById'> = {
    findById: (id) => inner.findById(id),
    findByKeyHash: (hash, now) => {
      calls.lookups++;
      return inner.findByKeyHash(hash, now);
    },
    retirePreviousKey: (id, hash) => inner.retirePreviousKey(id, hash),
    touchLastSeen: (id) => {
      calls.touches++;
      return inner.touchLastSeen(id);
    },
  };
  return { nodes, calls };
}

/** An authenticator with its own LISTEN pool (named, so a test can find and kill its backend). */
async function authenticator(
  options: NodeKeyOptions & { clock?: ReturnType<typeof manualClock>; listenUrl?: string | null; storeDb?: Db } = {},
) {
  const appName = uniq('nk-listen');
  const listenDb =
    options.listenUrl === null
      ? null
      : createPg({
          url: options.listenUrl ?? url,
          poolSize: 1,
          applicationName: appName,
          connectionTimeoutMillis: 1000,
        });
  const { nodes, calls } = counted(options.storeDb ? createNodeStore(options.storeDb) : store);
  const auth = createNodeKeyAuthenticator(
    { nodes, feed: listenDb ? createNotificationFeed({ db: listenDb, log }) : null, log, clock: options.clock },
    { listener: { minBackoffMs: 50, maxBackoffMs: 500, healthCheckMs: 500, healthTimeoutMs: 1000 }, ...options },
  );
  await auth.start();
  opened.push({ close: async () => (await auth.close(), await listenDb?.close()) });
  return { auth, calls, appName };
}

async function makeNode(name = uniq('edge')): Promise<{ node: Node; key: string }> {
  const key = generateNodeKey();
  const node = await store.create({ tenantId: tenant.id, name, apiKeyHash: key.hash });
  return { node, key: key.rawKey };
}

/** Polls until `auth(key)` is null; returns the milliseconds that took. */
async function msUntilRefused(check: () => Promise<unknown>, limitMs = 10_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if ((await check()) === null) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 25));
  }
  return Infinity;
}

beforeAll(async () => {
  tenant = await makeTenant(db);
});

afterAll(async () => {
  for (const o of opened.reverse()) await o.close();
  await Promise.all([db.close(), other.close()]);
});

describe('node keys: format and digest', () => {
  it('generates g2dn_ keys of 32 random bytes and stores only their SHA-256 hex', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { rawKey, hash } = generateNodeKey();
      expect(rawKey).toMatch(NODE_KEY_RE);
      expect(Buffer.from(rawKey.slice(5), 'base64url')).toHaveLength(32);
      expect(hash).toBe(createHash('sha256').update(rawKey).digest('hex'));
      expect(hashKey(rawKey)).toBe(hash);
      seen.add(rawKey);
    }
    expect(seen.size).toBe(200);
    const token = generateEnrollmentToken();
    expect(token.rawToken).toMatch(ENROLLMENT_TOKEN_RE);
    expect(token.rawToken).not.toMatch(NODE_KEY_RE);
  });

  it('refuses anything that is not a well-formed key without a query', async () => {
    const { auth, calls } = await authenticator({ listenUrl: null });
    const good = generateNodeKey().rawKey;
    for (const bad of [
      '',
      'g2dn_',
      'g2dn_short',
      `${good}A`,
      good.slice(0, -1),
      `Bearer ${good}`,
      ` ${good}`,
      `${good}=`,
      good.replace('g2dn_', 'g2de_'),
      good.replace('g2dn_', 'G2DN_'),
      `g2dn_${'+'.repeat(43)}`,
      `g2dn_${'a'.repeat(42)}\n`,
    ]) {
      expect(await auth.authenticate(bad)).toBeNull();
    }
    expect(await auth.authenticate(42 as unknown as string)).toBeNull();
    expect(calls.lookups).toBe(0);
  });
});

describe('node keys: cache', () => {
  it('caches a verified key for the TTL and an unknown one for the negative TTL', async () => {
    const clock = manualClock();
    const { auth, calls } = await authenticator({ clock });
    await expect.poll(() => auth.listening()).toBe(true);
    const { node, key } = await makeNode('edge-cache');
    expect(await auth.authenticate(key)).toEqual({
      kind: 'node',
      tenantId: tenant.id,
      nodeId: node.id,
      nodeName: 'edge-cache',
    });
    clock.advance(59_000);
    expect(await auth.authenticate(key)).toMatchObject({ nodeId: node.id });
    expect(calls.lookups).toBe(1);
    clock.advance(1_001);
    expect(await auth.authenticate(key)).toMatchObject({ nodeId: node.id });
    expect(calls.lookups).toBe(2);

    const unknown = generateNodeKey().rawKey;
    expect(await auth.authenticate(unknown)).toBeNull();
    expect(await auth.authenticate(unknown)).toBeNull();
    expect(calls.lookups).toBe(3);
    clock.advance(5_001);
    expect(await auth.authenticate(unknown)).toBeNull();
    expect(calls.lookups).toBe(4);
  });

  it('shares one query among concurrent requests with the same uncached key', async () => {
    const { auth, calls } = await authenticator({ listenUrl: null });
    const { node, key } = await makeNode();
    const results = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(key)));
    expect(results.every((r) => r?.nodeId === node.id)).toBe(true);
    expect(calls.lookups).toBe(1);
  });

  it('writes last_seen_at at most once a minute per node, without failing requests', async () => {
    const clock = manualClock();
    const { auth, calls } = await authenticator({ clock });
    const { node, key } = await makeNode();
    await auth.authenticate(key);
    await auth.authenticate(key);
    clock.advance(30_000);
    await auth.authenticate(key);
    expect(calls.touches).toBe(1);
    await expect.poll(async () => (await store.findById(node.id))?.lastSeenAt).toBeInstanceOf(Date);
    clock.advance(30_001);
    await auth.authenticate(key);
    expect(calls.touches).toBe(2);
  });

  it('without a listener, trusts a cached key for 5 s at most', async () => {
    const clock = manualClock();
    const { auth, calls } = await authenticator({ clock, listenUrl: null });
    const { key } = await makeNode();
    await auth.authenticate(key);
    clock.advance(4_900);
    await auth.authenticate(key);
    expect(calls.lookups).toBe(1);
    clock.advance(200);
    await auth.authenticate(key);
    expect(calls.lookups).toBe(2);
  });
});

describe('node keys: revocation and rotation across instances', () => {
  it('a revocation from another connection evicts a cached key within 5 s', async () => {
    const { auth, calls } = await authenticator();
    await expect.poll(() => auth.listening()).toBe(true);
    const { node, key } = await makeNode();
    expect(await auth.authenticate(key)).not.toBeNull();
    expect(await auth.authenticate(key)).not.toBeNull();
    expect(calls.lookups).toBe(1); // served from cache (TTL 60 s): only NOTIFY can evict it
    await otherStore.revoke(node.id);
    const ms = await msUntilRefused(() => auth.authenticate(key));
    expect(ms).toBeLessThan(5_000);
    expect(calls.lookups).toBe(2);
  });

  it('a revocation by the CLI process evicts a cached key within 5 s', async () => {
    const { auth } = await authenticator();
    await expect.poll(() => auth.listening()).toBe(true);
    const { node, key } = await makeNode();
    expect(await auth.authenticate(key)).not.toBeNull();
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'gateway/cli/main.ts', 'node', 'revoke', '--id', node.id],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: url } },
    );
    expect(JSON.parse(stdout)).toMatchObject({ id: node.id, status: 'revoked', already_revoked: false });
    expect(await msUntilRefused(() => auth.authenticate(key))).toBeLessThan(5_000);
  });

  it('rotation kills the old key on every instance and the new key works', async () => {
    const a = await authenticator();
    const b = await authenticator();
    await expect.poll(() => a.auth.listening() && b.auth.listening()).toBe(true);
    const { node, key } = await makeNode();
    expect(await a.auth.authenticate(key)).not.toBeNull();
    expect(await b.auth.authenticate(key)).not.toBeNull();
    const next = generateNodeKey();
    expect(await otherStore.rotateKey(node.id, next.hash, hashKey(key))).not.toBeNull();
    const [ma, mb] = await Promise.all([
      msUntilRefused(() => a.auth.authenticate(key)),
      msUntilRefused(() => b.auth.authenticate(key)),
    ]);
    expect(Math.max(ma, mb)).toBeLessThan(5_000);
    expect(await a.auth.authenticate(next.rawKey)).toMatchObject({ nodeId: node.id });
    expect(await b.auth.authenticate(next.rawKey)).toMatchObject({ nodeId: node.id });
  });

  it('evictNode forgets a node at once on this instance', async () => {
    const { auth, calls } = await authenticator({ listenUrl: null });
    const { node, key } = await makeNode();
    await auth.authenticate(key);
    auth.evictNode(node.id);
    await auth.authenticate(key);
    expect(calls.lookups).toBe(2);
  });
});

describe('node keys: listener failures', () => {
  it('reconnects after its backend is terminated, re-checks what it cached, and hears revocations again', async () => {
    const { auth, calls, appName } = await authenticator();
    await expect.poll(() => auth.listening()).toBe(true);
    const { node, key } = await makeNode();
    await auth.authenticate(key);
    expect(calls.lookups).toBe(1);
    const backends = async () =>
      (
        await other.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [appName])
      ).rows.map((r) => r.pid);
    const before = await backends();
    expect(before).toHaveLength(1);
    await other.query('SELECT pg_terminate_backend($1)', [before[0]]);
    // Listening again, on a new backend (the drop itself may be too brief to observe by polling).
    await expect
      .poll(async () => auth.listening() && (await backends()).some((pid) => !before.includes(pid)), {
        timeout: 10_000,
      })
      .toBe(true);
    // Whatever was cached before the drop is verified again (a revocation may have been missed).
    await auth.authenticate(key);
    expect(calls.lookups).toBe(2);
    await otherStore.revoke(node.id);
    expect(await msUntilRefused(() => auth.authenticate(key))).toBeLessThan(5_000);
  });

  it('while LISTEN is impossible, a revocation still takes effect within 5 s', async () => {
    const relay = await startTcpRelay('127.0.0.1', Number(new URL(url).port || 5432));
    opened.push(relay);
    await relay.cut();
    const { auth } = await authenticator({ listenUrl: relay.via(url) });
    expect(auth.listening()).toBe(false);
    const { node, key } = await makeNode();
    expect(await auth.authenticate(key)).not.toBeNull();
    await otherStore.revoke(node.id);
    // Bound: 5 s from the lookup that cached it (before the revoke), plus one lookup and one poll.
    expect(await msUntilRefused(() => auth.authenticate(key))).toBeLessThan(6_000);
  });
});

describe('node keys: Postgres unreachable (docs/operations.md)', () => {
  let relay: TcpRelay;
  beforeAll(async () => {
    relay = await startTcpRelay('127.0.0.1', Number(new URL(url).port || 5432));
    opened.push(relay);
  });

  it('keeps cached keys working, answers 503 for uncached ones, and recovers', async () => {
    const behind = createPg({ url: relay.via(url), poolSize: 2, connectionTimeoutMillis: 1000 });
    opened.push(behind);
    const { auth } = await authenticator({ listenUrl: relay.via(url), storeDb: behind, outageBackoffMs: 200 });
    await expect.poll(() => auth.listening()).toBe(true);
    const cached = await makeNode();
    const uncached = await makeNode();
    expect(await auth.authenticate(cached.key)).toMatchObject({ nodeId: cached.node.id });

    await relay.cut();
    await expect.poll(() => auth.listening(), { timeout: 5_000 }).toBe(false);
    for (let i = 0; i < 3; i++) {
      expect(await auth.authenticate(cached.key)).toMatchObject({ nodeId: cached.node.id });
      const err = await auth.authenticate(uncached.key).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).code).toBe('SERVICE_UNAVAILABLE');
      // An unknown key is also an outage, never a "no" (a broken dependency is never a "no": docs/operations.md)...
      await expect(auth.authenticate(generateNodeKey().rawKey)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      // ...while a malformed one needs no database to refuse.
      expect(await auth.authenticate('g2dn_nope')).toBeNull();
      await new Promise((r) => setTimeout(r, 250));
    }

    await relay.restore();
    await expect
      .poll(() => auth.authenticate(uncached.key).catch(() => 'down'), { timeout: 10_000 })
      .toMatchObject({ nodeId: uncached.node.id });
    await expect.poll(() => auth.listening(), { timeout: 10_000 }).toBe(true);
  });
});
