/**
 * Request limits shared through real Redis (ratelimit/limiter.ts): two limiters, each with its own
 * Redis connection like two gateway instances, take requests for one key at the same time with
 * their real background sync. Together they stay within the limit plus the documented overshoot
 * (what one instance admits in one sync interval and its round trip); without sharing they would
 * admit twice the limit. With Redis unreachable a limiter enforces alone and never throws
 * anything but 429.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Identity } from '../../gateway/auth/types.js';
import type { RateLimitConfig, RouteDef } from '../../gateway/config/types.js';
import { GatewayError } from '../../gateway/errors.js';
import type { RequestContext } from '../../gateway/http/context.js';
import { createLogger } from '../../gateway/ops/logger.js';
import { createRateLimiter, type RateLimiter } from '../../gateway/ratelimit/limiter.js';
import { createRedisClient, createRedisStateStore, type RedisClient } from '../../gateway/store/redis.js';
import { deadPort } from '../helpers/proxy-env.js';

const log = createLogger({ level: 'silent', format: 'json' });
const prefix = `${inject('redisPrefix')}ratelimit:${randomBytes(4).toString('hex')}:`;
const route: RouteDef = { prefix: '/api/v1', auth: 'user' };
// Every check is a request arriving now (the server stamps ctx.startedAt from its clock).
const ctx = {
  route,
  res: { setHeader: () => undefined } as unknown as ServerResponse,
  get startedAt() {
    return Date.now();
  },
} as unknown as RequestContext;
const clients: RedisClient[] = [];
const limiters: RateLimiter[] = [];

afterAll(async () => {
  for (const l of limiters) l.close();
  await Promise.allSettled(clients.map((c) => c.quit()));
});

function instance(config: RateLimitConfig, url = inject('redisUrl')): RateLimiter {
  const client = createRedisClient({ url, keyPrefix: prefix });
  client.on('error', () => {}); // the unreachable drill's reconnect noise
  clients.push(client);
  const limiter = createRateLimiter({ state: createRedisStateStore(client, prefix), log }, config);
  limiters.push(limiter);
  return limiter;
}

const user = (userId: string): Identity => ({
  kind: 'user',
  tenantId: 't',
  homeTenantId: 't',
  userId,
  email: 'a@b.test',
  role: 'agent',
  jti: 'j',
  iat: 0,
  exp: 1,
});

function admitted(limiter: RateLimiter, identity: Identity): boolean {
  try {
    limiter.check(ctx, identity);
    return true;
  } catch (err) {
    if (err instanceof GatewayError && err.status === 429) return false;
    throw err;
  }
}

/** Most admissions within any span of `ms` (the worst case for the other instance's blind spot). */
function mostWithin(times: number[], ms: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < times.length; i += 1) {
    while ((times[i] as number) - (times[j] as number) >= ms) j += 1;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('request limits shared through Redis', () => {
  it('two instances hammering one key admit at most limit + burst + one sync interval of the other', async () => {
    const syncMs = 100;
    const config: RateLimitConfig = {
      user: { limit: 40, windowSeconds: 4, burst: 40 },
      node: null,
      tenant: null,
      syncMs,
    };
    const a = instance(config);
    const b = instance(config);
    const who = user(`shared-${randomBytes(4).toString('hex')}`);
    const times: [number[], number[]] = [[], []];
    const started = Date.now();
    const durationMs = 2_000;
    // Both instances try a request every ~4 ms for 2 s: far more than the limit lets through.
    while (Date.now() - started < durationMs) {
      if (admitted(a, who)) times[0].push(Date.now());
      if (admitted(b, who)) times[1].push(Date.now());
      await new Promise((r) => setTimeout(r, 4));
    }
    const elapsed = Date.now() - started;
    const total = times[0].length + times[1].length;
    // One instance alone: the burst plus the refill over the run.
    const alone = 40 + Math.ceil((elapsed / 4_000) * 40);
    // The blind spot: a sync interval plus the sync's round trip (generous on a loaded machine).
    const overshoot = Math.max(mostWithin(times[0], 2 * syncMs), mostWithin(times[1], 2 * syncMs));
    expect(total).toBeLessThanOrEqual(alone + overshoot);
    // Shared for real: two separate buckets would have let through about 2 × alone.
    expect(total).toBeLessThan(2 * alone - 10);
    expect(times[0].length).toBeGreaterThan(0);
    expect(times[1].length).toBeGreaterThan(0);
  });

  it('with Redis unreachable, enforces the limit per instance and never fails closed', async () => {
    const config: RateLimitConfig = {
      user: { limit: 5, windowSeconds: 60, burst: 5 },
      node: null,
      tenant: null,
      syncMs: 50,
    };
    const lonely = instance(config, `redis://127.0.0.1:${await deadPort()}`);
    const who = user('offline');
    const outcomes: boolean[] = [];
    for (let round = 0; round < 4; round += 1) {
      outcomes.push(admitted(lonely, who), admitted(lonely, who), admitted(lonely, who));
      // Its background syncs fail (nothing listens): the local buckets carry on.
      await new Promise((r) => setTimeout(r, 60));
    }
    expect(outcomes.filter(Boolean)).toHaveLength(5);
    expect(outcomes.slice(0, 5).every(Boolean)).toBe(true);
  });
});
