/**
 * The AuthStateStore contract (test/helpers/state-contract.ts) against the in-process store the
 * quickstart uses and the single-node Redis store production uses; Cluster and
 * Sentinel run it in redis-topologies.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { manualClock } from '../../gateway/clock.js';
import { createMemoryStateStore } from '../../gateway/store/memory.js';
import { createRedisClient, createRedisStateStore, type RedisClient } from '../../gateway/store/redis.js';
import { contract, key, sleep } from '../helpers/state-contract.js';

contract('memory (manual clock)', async () => {
  const clock = manualClock();
  const store = createMemoryStateStore(clock);
  expect(store.kind).toBe('memory');
  return { store, advance: async (s) => clock.advance(s * 1000), close: () => store.close() };
});

describe('Redis', () => {
  const prefix = `${inject('redisPrefix')}contract:${randomBytes(4).toString('hex')}:`;
  let client: RedisClient | undefined;
  let inspector: RedisClient;

  beforeAll(() => {
    inspector = createRedisClient({ url: inject('redisUrl'), keyPrefix: '' });
  });
  afterAll(async () => {
    await Promise.allSettled([inspector.quit(), client?.quit()]);
  });

  contract('redis (real server, real waits)', async () => {
    client = createRedisClient({ url: inject('redisUrl'), keyPrefix: prefix });
    const store = createRedisStateStore(client, prefix);
    expect(store.kind).toBe('redis');
    return { store, advance: (s) => sleep(s * 1000), close: async () => {} };
  });

  it('wrote every key under the prefix, and every key it wrote carries a TTL (no immortal keys)', async () => {
    // One fresh key of every kind with long windows, beside whatever the contract left behind.
    const store = createRedisStateStore(client!, prefix);
    const k = key('ttl');
    const p = { max: 3, windowSeconds: 600, leaseSeconds: 600 };
    for (let i = 0; i < 4; i++) {
      if ((await store.beginAttempt(`${k}:lock-a`, 'A', `l${i}`, p)).outcome === 'granted')
        await store.settleAttempt(`${k}:lock-a`, `l${i}`, { kind: 'failed' }, p);
    }
    await store.beginAttempt(`${k}:lock-c`, null, 'in-flight', p); // a lease only: the key lives as long as it
    await store.beginAttempt(`${k}:lock-b`, null, 'x', p);
    await store.settleAttempt(`${k}:lock-b`, 'x', { kind: 'failed' }, p);
    await store.unlock(`${k}:lock-b`, 'A');
    await store.hit(`${k}:ip`, 600);
    await store.setMarker(`${k}:jti`, 'revoked', 600);
    await store.rateSync([{ key: `${k}:rl`, used: 5, msPerRequest: 60_000 }]);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await inspector.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    expect(keys).toEqual(
      expect.arrayContaining([
        `${prefix}${k}:lock-a`,
        `${prefix}${k}:lock-c`,
        `${prefix}${k}:ip`,
        `${prefix}${k}:jti`,
        `${prefix}${k}:rl`,
      ]),
    );
    expect(keys).not.toContain(`${prefix}${k}:lock-b`);
    const ttls = await Promise.all(keys.map((k) => inspector.ttl(k)));
    const immortal = keys.filter((_, i) => (ttls[i] ?? -1) < 0);
    expect(immortal).toEqual([]);
  });
});
