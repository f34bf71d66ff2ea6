import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/types.js';
import { GatewayError, unavailable } from '../errors.js';
import { MAX_WORKSPACES } from './lock-model.js';
import { BEGIN_SCRIPT, SETTLE_SCRIPT, UNLOCK_SCRIPT } from './redis-lock.js';
import type { AuthStateStore, BeginResult, CounterResult, SettleResult } from './state.js';

export type RedisClient = Redis | Cluster;

/**
 * Creates the ioredis client (single node, Sentinel or Cluster from config). Commands may queue
 * only until the first connection (so start-up races are not refused); once connected, the
 * state store fails every command at once while disconnected (see `guard` below), with one retry
 * and a 2 s command timeout, so callers answer 503 instead of hanging. The client keeps
 * reconnecting in the background by itself.
 */
export function createRedisClient(config: RedisConfig, extra: Partial<RedisOptions> = {}): RedisClient {
  const common: RedisOptions = {
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    ...(config.username ? { username: config.username } : {}),
    ...(config.password ? { password: config.password } : {}),
    ...(config.db !== undefined ? { db: config.db } : {}),
    ...extra,
  };
  if (config.clusterNodes && config.clusterNodes.length > 0) {
    return new Cluster([...config.clusterNodes], {
      redisOptions: common,
      enableOfflineQueue: common.enableOfflineQueue ?? true,
    });
  }
  if (config.sentinels && config.sentinels.length > 0) {
    return new Redis({
      ...common,
      sentinels: [...config.sentinels],
      name: config.sentinelName ?? 'mymaster',
      ...(config.sentinelPassword ? { sentinelPassword: config.sentinelPassword } : {}),
    });
  }
  if (!config.url) throw new Error('redis: no URL, sentinels or cluster nodes configured');
  return new Redis(config.url, common);
}

// KEYS[1] counter, ARGV[1] window. INCR + EXPIRE on first hit, atomically (no immortal keys).
const HIT_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 or redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return {c, redis.call('TTL', KEYS[1])}
`;

// KEYS[1] marker. GET + DEL in one script: GETDEL would do, but needs Redis 6.2; a script runs
// atomically on every version and topology the gateway supports (one key, so one Cluster slot).
const TAKE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v
`;

// Request limits, GCRA (one theoretical-arrival time per key, in ms of Redis's own clock so every
// instance agrees). KEYS = buckets; ARGV = used, ms per request, for each key in turn. Adds the
// requests an instance admitted since its last report and answers each key's debt (ms booked
// beyond now). The key expires once its debt is paid: a full bucket needs no state.
const RATE_SYNC_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  local used = tonumber(ARGV[2 * i - 1])
  local step = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  if used > 0 then
    tat = tat + used * step
    redis.call('SET', key, string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
  end
  out[i] = math.ceil(tat - now)
end
return out
`;

/** Keys per rate-sync script call: bounds one call's run time inside Redis. */
const RATE_SYNC_CHUNK = 500;

type ScriptClient = RedisClient & {
  g2dRateSync(...args: (string | number)[]): Promise<number[]>;
  g2dBegin(...args: (string | number)[]): Promise<[number, number, number, string]>;
  g2dSettle(...args: (string | number)[]): Promise<[number, number, number]>;
  g2dUnlock(...args: (string | number)[]): Promise<number>;
  g2dHit(...args: (string | number)[]): Promise<[number, number]>;
  g2dTake(key: string): Promise<string | null>;
};

/**
 * The Redis AuthStateStore. Every key is written under `prefix` and carries a TTL. Multi-key
 * scripts are used only with keys of one identity; under Cluster, callers wrap the identity part
 * in a `{hash tag}` so the keys share a slot.
 */
export function createRedisStateStore(client: RedisClient, prefix: string): AuthStateStore {
  const c = client as ScriptClient;
  c.defineCommand('g2dBegin', { numberOfKeys: 1, lua: BEGIN_SCRIPT });
  c.defineCommand('g2dSettle', { numberOfKeys: 1, lua: SETTLE_SCRIPT });
  c.defineCommand('g2dUnlock', { numberOfKeys: 1, lua: UNLOCK_SCRIPT });
  c.defineCommand('g2dHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
  c.defineCommand('g2dTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  c.defineCommand('g2dRateSync', { lua: RATE_SYNC_SCRIPT });
  const k = (key: string) => prefix + key;
  // Fault decision (docs/operations.md): once connected, a lost connection fails every command at once (503 for
  // logins, fail-open for revocation checks) instead of queueing each one for the command timeout,
  // so a Redis outage costs token traffic nothing. Before the first connection commands still
  // queue, so requests racing the start-up connect are not refused.
  let wasReady = client.status === 'ready';
  client.on('ready', () => {
    wasReady = true;
  });

  async function guard<T>(fn: () => Promise<T>): Promise<T> {
    if (wasReady && client.status !== 'ready')
      throw unavailable('redis', new Error(`not connected (${client.status})`));
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw unavailable('redis', err);
    }
  }
  const OUTCOMES = ['granted', 'locked', 'busy'] as const;

  return {
    kind: 'redis',
    beginAttempt: (key, workspace, leaseId, policy) =>
      guard(async (): Promise<BeginResult> => {
        const [outcome, retryAfter, count, only] = await c.g2dBegin(
          k(key),
          policy.max,
          policy.windowSeconds * 1000,
          policy.leaseSeconds * 1000,
          leaseId,
          workspace ?? '',
          MAX_WORKSPACES,
        );
        return { outcome: OUTCOMES[outcome] ?? 'busy', retryAfter, count, ...(only ? { only: only.split(',') } : {}) };
      }),
    settleAttempt: (key, leaseId, outcome, policy) =>
      guard(async (): Promise<SettleResult> => {
        const workspace = outcome.kind === 'authenticated' ? outcome.workspace : '';
        const [settled, count, locked] = await c.g2dSettle(
          k(key),
          leaseId,
          outcome.kind,
          workspace,
          policy.max,
          policy.windowSeconds * 1000,
        );
        return { settled: settled === 1, count, locked: locked === 1 };
      }),
    unlock: (key, workspace) =>
      guard(async () => {
        await c.g2dUnlock(k(key), workspace);
      }),
    hit: (key, windowSeconds) =>
      guard(async (): Promise<CounterResult> => {
        const [count, ttl] = await c.g2dHit(k(key), windowSeconds);
        return { count, ttl: Math.max(0, ttl) };
      }),
    peek: (key) =>
      guard(async (): Promise<CounterResult> => {
        const [v, ttl] = await Promise.all([c.get(k(key)), c.ttl(k(key))]);
        return { count: v === null ? 0 : Number(v), ttl: Math.max(0, ttl) };
      }),
    setMarker: (key, value, ttlSeconds) =>
      guard(async () => {
        await c.set(k(key), value, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
      }),
    getMarker: (key) => guard(() => c.get(k(key))),
    getMarkers: (keys) =>
      guard(async () => {
        if (keys.length === 0) return [];
        if (client instanceof Cluster) return Promise.all(keys.map((key) => c.get(k(key))));
        return c.mget(...keys.map(k));
      }),
    takeMarker: (key) => guard(() => c.g2dTake(k(key))),
    rateSync: (items) =>
      guard(async () => {
        if (items.length === 0) return [];
        // Under Cluster the keys of one script call must share a slot: one call per key, which
        // ioredis sends to each node without waiting for the previous answer.
        if (client instanceof Cluster)
          return Promise.all(
            items.map((i) => c.g2dRateSync(1, k(i.key), i.used, i.msPerRequest).then((r) => r[0] ?? 0)),
          );
        const calls: Promise<number[]>[] = [];
        for (let start = 0; start < items.length; start += RATE_SYNC_CHUNK) {
          const chunk = items.slice(start, start + RATE_SYNC_CHUNK);
          const args: (string | number)[] = [chunk.length, ...chunk.map((i) => k(i.key))];
          for (const i of chunk) args.push(i.used, i.msPerRequest);
          calls.push(c.g2dRateSync(...args));
        }
        return (await Promise.all(calls)).flat();
      }),
    async ping(timeoutMs) {
      if (wasReady && client.status !== 'ready') return false;
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        });
        return await Promise.race([c.ping().then((r) => r === 'PONG'), timeout]);
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
