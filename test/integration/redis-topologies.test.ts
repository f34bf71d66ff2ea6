/**
 * docs/scale-out.md: the gateway's Redis can be a Cluster (REDIS_CLUSTER_NODES) or sit behind Sentinel
 * (REDIS_SENTINELS + REDIS_SENTINEL_NAME). Both run the AuthStateStore contract against real
 * `redis-server` processes (test/helpers/redis-topologies.ts), and two gateway processes on the
 * Cluster show the lockout, logout revocation and password-change paths end to end — the paths
 * that read or write several keys and would meet CROSSSLOT if a key lost its hash tag.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../gateway/config/index.js';
import { createPg } from '../../gateway/store/pg.js';
import { createRedisClient, createRedisStateStore, type RedisClient } from '../../gateway/store/redis.js';
import { call, makeTenant, makeUser } from '../helpers/fixtures.js';
import { startRedisCluster, startRedisSentinel, type RedisDeployment } from '../helpers/redis-topologies.js';
import { startGateway, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { contract, sleep } from '../helpers/state-contract.js';

const hostPorts = (nodes: string) =>
  nodes.split(',').map((hp) => {
    const [host, port] = hp.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port) };
  });

describe('Redis Cluster', () => {
  let cluster: RedisDeployment;
  let client: RedisClient | undefined;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 30_000);
  afterAll(async () => {
    await client?.quit().catch(() => {});
    await cluster?.stop();
  });

  contract('redis cluster (3 masters)', async () => {
    const prefix = `g2d:topo:${randomBytes(4).toString('hex')}:`;
    client = createRedisClient({ url: null, clusterNodes: hostPorts(cluster.nodes), keyPrefix: prefix });
    const store = createRedisStateStore(client, prefix);
    return { store, advance: (s) => sleep(s * 1000), close: async () => {} };
  });

  describe('two gateways on the cluster', () => {
    const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
    let gws: GatewayProcess[] = [];
    beforeAll(async () => {
      const env = {
        DATABASE_URL: inject('databaseUrl'),
        REDIS_CLUSTER_NODES: cluster.nodes,
        REDIS_KEY_PREFIX: `g2d:topo:${randomBytes(4).toString('hex')}:`,
        AUTH_JWT_SECRET: 'redis-cluster-secret-redis-cluster-0123',
        AUTH_LOGIN_IP_LIMIT: '100000',
        UPSTREAM_URL: 'http://127.0.0.1:9',
      };
      gws = await Promise.all([startGateway(env), startGateway(env)]);
    });
    afterAll(async () => {
      await Promise.all(gws.map((g) => g.stop()));
      await db.close();
    });

    const login = (gw: GatewayProcess, json: unknown) => call(`${gw.url}/api/v1/auth/login`, { method: 'POST', json });

    it('answers ready, locks at exactly the limit across both instances, and unlocks nobody early', async () => {
      const [a, b] = gws as [GatewayProcess, GatewayProcess];
      expect((await call(`${a.url}/readyz`)).status).toBe(200);
      const tenant = await makeTenant(db);
      const user = await makeUser(db, tenant);
      // No tenant_domain: the attempt is counted under every tenant the email could mean.
      const wrong = await Promise.all(
        Array.from({ length: 14 }, (_, i) => login(i % 2 ? a : b, { email: user.email, password: `wrong-${i}` })),
      );
      const statuses = wrong.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 401)).toHaveLength(10);
      expect(statuses.filter((s) => s === 403)).toHaveLength(4);
      const locked = await login(a, { email: user.email, password: user.password });
      expect(locked.status).toBe(403);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    });

    it('revokes on logout and on password change, seen by the other instance', async () => {
      const [a, b] = gws as [GatewayProcess, GatewayProcess];
      const tenant = await makeTenant(db);
      const user = await makeUser(db, tenant);
      const first = await login(a, { email: user.email, password: user.password, tenant_domain: tenant.domain });
      expect(first.status).toBe(200);
      const token = first.body.data.token as string;
      expect((await call(`${b.url}/api/v1/auth/me`, { token })).status).toBe(200);
      expect((await call(`${a.url}/api/v1/auth/logout`, { method: 'POST', token })).status).toBe(200);
      expect((await call(`${a.url}/api/v1/auth/me`, { token })).status).toBe(401);
      // The other instance re-reads revocation markers at most every 2 s (README "Revocation").
      await waitFor(async () => (await call(`${b.url}/api/v1/auth/me`, { token })).status === 401, {
        timeoutMs: 5_000,
        intervalMs: 100,
        what: 'logout seen by b',
      });

      const second = await login(b, { email: user.email, password: user.password, tenant_domain: tenant.domain });
      const changed = await call(`${b.url}/api/v1/auth/me/password`, {
        method: 'POST',
        token: second.body.data.token,
        json: { current_password: user.password, new_password: 'cluster-new-passphrase-1' },
      });
      expect(changed.status).toBe(200);
      expect((await call(`${b.url}/api/v1/auth/me`, { token: second.body.data.token })).status).toBe(401);
      await waitFor(
        async () => (await call(`${a.url}/api/v1/auth/me`, { token: second.body.data.token })).status === 401,
        {
          timeoutMs: 5_000,
          intervalMs: 100,
          what: 'password change seen by a',
        },
      );
      expect((await call(`${a.url}/api/v1/auth/me`, { token: changed.body.data.token })).status).toBe(200);
    });
  });
});

describe('Redis behind Sentinel', () => {
  let sentinel: RedisDeployment;
  let client: RedisClient | undefined;
  beforeAll(async () => {
    sentinel = await startRedisSentinel('g2dmaster', 'sentinel-secret-1');
  }, 30_000);
  afterAll(async () => {
    await client?.quit().catch(() => {});
    await sentinel?.stop();
  });

  contract('redis via sentinel (REDIS_SENTINEL_PASSWORD)', async () => {
    const prefix = `g2d:topo:${randomBytes(4).toString('hex')}:`;
    const config = loadConfig({
      REDIS_SENTINELS: sentinel.nodes,
      REDIS_SENTINEL_NAME: 'g2dmaster',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret-1',
      REDIS_KEY_PREFIX: prefix,
    });
    client = createRedisClient(config.redis);
    const store = createRedisStateStore(client, prefix);
    return { store, advance: (s) => sleep(s * 1000), close: async () => {} };
  });
});
