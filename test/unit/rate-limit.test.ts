/**
 * Request limits: the token-bucket arithmetic (ratelimit/bucket.ts) under any request timing, the
 * limiter (ratelimit/limiter.ts) on an injected clock with the in-process store, two limiters
 * sharing one store (two instances), and the settings' validation (RATE_LIMIT_*, routes file).
 */
import fc from 'fast-check';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../gateway/auth/types.js';
import { manualClock } from '../../gateway/clock.js';
import { ConfigError, loadConfig, validateRoutes } from '../../gateway/config/index.js';
import type { RateLimitConfig, RouteDef } from '../../gateway/config/types.js';
import { GatewayError } from '../../gateway/errors.js';
import type { RequestContext } from '../../gateway/http/context.js';
import { createLogger } from '../../gateway/ops/logger.js';
import { hasRoom, msUntilRoom, newBucket, refill, shapeOf, take } from '../../gateway/ratelimit/bucket.js';
import { createRateLimiter, rateLimitsConfigured, type RateLimiter } from '../../gateway/ratelimit/limiter.js';
import { createMemoryStateStore } from '../../gateway/store/memory.js';
import type { AuthStateStore } from '../../gateway/store/state.js';

const log = createLogger({ level: 'silent', format: 'json' });

const user = (userId: string, tenantId = 't1'): Identity => ({
  kind: 'user',
  tenantId,
  homeTenantId: tenantId,
  userId,
  email: 'a@b.test',
  role: 'agent',
  jti: `jti-${userId}`,
  iat: 0,
  exp: 1,
});
const node = (nodeId: string, tenantId = 't1'): Identity => ({ kind: 'node', tenantId, nodeId, nodeName: nodeId });

/** The clock of the test running now: a context's arrival time is read from it, as the server does. */
let current = manualClock(0);

/** A context with a response that records the headers set on it (null response = an upgrade). */
function ctxFor(route: RouteDef, upgrade = false): RequestContext & { headers: Map<string, string> } {
  const headers = new Map<string, string>();
  const res = upgrade
    ? null
    : ({ setHeader: (n: string, v: string) => headers.set(n.toLowerCase(), v) } as unknown as ServerResponse);
  // Each check is a request arriving now (the tests reuse a context across requests).
  const ctx = {
    kind: upgrade ? 'upgrade' : 'http',
    route,
    res,
    headers,
    get startedAt() {
      return current.now();
    },
  };
  return ctx as unknown as RequestContext & { headers: Map<string, string> };
}

function limits(partial: Partial<RateLimitConfig>): RateLimitConfig {
  return { user: null, node: null, tenant: null, syncMs: 200, ...partial };
}

/** check() as an outcome: 'ok', or the 429's error. */
function attempt(limiter: RateLimiter, ctx: RequestContext, identity: Identity): 'ok' | GatewayError {
  try {
    limiter.check(ctx, identity);
    return 'ok';
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
}

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('token bucket arithmetic', () => {
  const policy = fc.record({
    limit: fc.integer({ min: 1, max: 40 }),
    windowSeconds: fc.integer({ min: 1, max: 5 }),
    burst: fc.integer({ min: 1, max: 40 }),
  });
  // Gaps between requests in ms: bursts (0), near the emission interval, and long pauses.
  const gaps = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 6000 })), {
    minLength: 1,
    maxLength: 400,
  });

  it('over any request timing, admits at most limit + burst in any window', () => {
    fc.assert(
      fc.property(policy, gaps, fc.integer({ min: 0, max: 10 ** 12 }), (p, steps, start) => {
        const shape = shapeOf(p);
        const b = newBucket(shape, start);
        const admitted: number[] = [];
        let now = start;
        for (const gap of steps) {
          now += gap;
          refill(b, shape, now);
          if (hasRoom(b)) {
            take(b);
            admitted.push(now);
          }
        }
        const w = p.windowSeconds * 1000;
        // Every window [t, t + w) that starts at an admission (the worst windows start at one).
        let j = 0;
        for (let i = 0; i < admitted.length; i += 1) {
          while (j < admitted.length && (admitted[j] as number) < (admitted[i] as number) + w) j += 1;
          expect(j - i).toBeLessThanOrEqual(p.limit + p.burst);
        }
        // And over the whole run: the burst plus the long-run rate.
        expect(admitted.length).toBeLessThanOrEqual(p.burst + Math.floor(((now - start) / w) * p.limit) + 1);
      }),
      { numRuns: 300 },
    );
  });

  it('a refused request passes once its Retry-After has elapsed, and a full bucket admits its whole burst at once', () => {
    fc.assert(
      fc.property(policy, fc.integer({ min: 0, max: 10 ** 12 }), (p, start) => {
        const shape = shapeOf(p);
        const b = newBucket(shape, start);
        for (let i = 0; i < p.burst; i += 1) {
          expect(hasRoom(b)).toBe(true);
          take(b);
        }
        expect(hasRoom(b)).toBe(false);
        const wait = Math.ceil(msUntilRoom(b, shape));
        refill(b, shape, start + wait);
        expect(hasRoom(b)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('createRateLimiter (one instance)', () => {
  const userRoute: RouteDef = { prefix: '/api/v1', auth: 'user' };
  const nodeRoute: RouteDef = { prefix: '/api/v1/nodes', auth: 'node' };

  it('refuses past the limit with 429, Retry-After and the draft RateLimit fields; refills with time', async () => {
    const clock = (current = manualClock(1_000_000));
    const state = createMemoryStateStore(clock);
    const limiter = createRateLimiter(
      { state, log, clock },
      limits({ user: { limit: 3, windowSeconds: 60, burst: 3 } }),
      { autoSync: false },
    );
    const ctx = ctxFor(userRoute);
    for (let i = 0; i < 3; i += 1) expect(attempt(limiter, ctx, user('u1'))).toBe('ok');
    expect(ctx.headers.get('ratelimit-policy')).toBe('"user";q=3;w=60');
    expect(ctx.headers.get('ratelimit')).toBe('"user";r=0;t=60');
    const refused = attempt(limiter, ctx, user('u1'));
    expect(refused).toBeInstanceOf(GatewayError);
    const e = refused as GatewayError;
    expect(e.code).toBe('TOO_MANY_REQUESTS');
    expect(e.retryAfter).toBe(20);
    expect(e.headers).toEqual({ 'RateLimit-Policy': '"user";q=3;w=60', RateLimit: '"user";r=0;t=20' });
    // Another user has a bucket of its own.
    expect(attempt(limiter, ctx, user('u2'))).toBe('ok');
    clock.advance(20_000);
    expect(attempt(limiter, ctx, user('u1'))).toBe('ok');
    expect(attempt(limiter, ctx, user('u1'))).toBeInstanceOf(GatewayError);
    limiter.close();
  });

  it('counts the tenant across its users and nodes, and a refusal by one limit spends nothing of the other', () => {
    const clock = (current = manualClock(5_000));
    const limiter = createRateLimiter(
      { state: createMemoryStateStore(clock), log, clock },
      limits({
        user: { limit: 2, windowSeconds: 10, burst: 2 },
        node: { limit: 100, windowSeconds: 10, burst: 100 },
        tenant: { limit: 4, windowSeconds: 10, burst: 4 },
      }),
      { autoSync: false },
    );
    const ctx = ctxFor(userRoute);
    expect(attempt(limiter, ctx, user('a'))).toBe('ok');
    expect(attempt(limiter, ctx, user('a'))).toBe('ok');
    // a is over its user limit: refused, and the tenant keeps its 2 remaining requests.
    expect((attempt(limiter, ctx, user('a')) as GatewayError).headers?.RateLimit).toMatch(/^"user";r=0;t=\d+$/);
    expect(attempt(limiter, ctx, user('b'))).toBe('ok');
    expect(ctx.headers.get('ratelimit-policy')).toBe('"user";q=2;w=10, "tenant";q=4;w=10');
    expect(attempt(limiter, ctxFor(nodeRoute), node('n1'))).toBe('ok');
    const refused = attempt(limiter, ctxFor(nodeRoute), node('n2')) as GatewayError;
    expect(refused.headers).toMatchObject({
      'RateLimit-Policy': '"node";q=100;w=10, "tenant";q=4;w=10',
      RateLimit: '"tenant";r=0;t=3',
    });
    // Another tenant is untouched; public routes and upgrades without a response are handled.
    expect(attempt(limiter, ctxFor(nodeRoute), node('n1', 't2'))).toBe('ok');
    expect(attempt(limiter, ctxFor({ prefix: '/p', auth: 'public' }), { kind: 'public' })).toBe('ok');
    expect(attempt(limiter, ctxFor(userRoute, true), user('c', 't3'))).toBe('ok');
    limiter.close();
  });

  it('a route override replaces the default with a bucket of its own, and "off" lifts it', () => {
    const clock = (current = manualClock(0));
    const [special, open] = validateRoutes(
      [
        { prefix: '/api/v1/reports', auth: 'user', rateLimit: { user: '1/60:1' } },
        { prefix: '/api/v1/bulk', auth: 'user', rateLimit: { user: 'off' } },
      ],
      'test',
      [],
    ) as [RouteDef, RouteDef];
    const limiter = createRateLimiter(
      { state: createMemoryStateStore(clock), log, clock },
      limits({ user: { limit: 2, windowSeconds: 60, burst: 2 } }),
      { autoSync: false },
    );
    expect(attempt(limiter, ctxFor(special), user('u'))).toBe('ok');
    expect(attempt(limiter, ctxFor(special), user('u'))).toBeInstanceOf(GatewayError);
    expect(attempt(limiter, ctxFor(userRoute), user('u'))).toBe('ok');
    expect(attempt(limiter, ctxFor(userRoute), user('u'))).toBe('ok');
    expect(attempt(limiter, ctxFor(userRoute), user('u'))).toBeInstanceOf(GatewayError);
    for (let i = 0; i < 20; i += 1) expect(attempt(limiter, ctxFor(open), user('u'))).toBe('ok');
    limiter.close();
  });

  it('keeps memory bounded: least recently used keys go past the cap, idle full buckets at the next sync', async () => {
    const clock = (current = manualClock(0));
    const limiter = createRateLimiter(
      { state: createMemoryStateStore(clock), log, clock },
      limits({ user: { limit: 10, windowSeconds: 1, burst: 10 } }),
      {
        autoSync: false,
        maxKeysPerPolicy: 100,
      },
    );
    for (let i = 0; i < 1000; i += 1) limiter.check(ctxFor(userRoute), user(`u${i}`));
    expect(limiter.size()).toBe(100);
    await limiter.sync();
    // Used lately: still refreshed, not dropped.
    clock.advance(1_500);
    await limiter.sync();
    expect(limiter.size()).toBe(100);
    clock.advance(1_500);
    await limiter.sync();
    expect(limiter.size()).toBe(0);
    limiter.close();
  });
});

describe('two limiters sharing one store (two instances)', () => {
  /**
   * Both instances take requests for one key in turns, syncing every `interval` ms. Whatever the
   * pattern, the total admitted over the run stays within what one instance alone could admit,
   * plus what the other admits in one sync interval (the documented bound).
   */
  it('admit together at most limit + burst + one sync interval of the other instance', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 5, max: 50 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 8 })), {
          minLength: 10,
          maxLength: 120,
        }),
        async (limit, ticks) => {
          const clock = (current = manualClock(1_000_000));
          const state: AuthStateStore = createMemoryStateStore(clock);
          const config = limits({ user: { limit, windowSeconds: 10, burst: limit } });
          const a = createRateLimiter({ state, log, clock }, config, { autoSync: false });
          const b = createRateLimiter({ state, log, clock }, config, { autoSync: false });
          const route: RouteDef = { prefix: '/api/v1', auth: 'user' };
          const tickMs = 20;
          const interval = 100; // a sync every 5 ticks
          let admitted = 0;
          let perIntervalMax = 0;
          let thisInterval = [0, 0];
          for (let t = 0; t < ticks.length; t += 1) {
            const [who, count] = ticks[t] as [number, number];
            for (let i = 0; i < count; i += 1) {
              if (attempt(who === 0 ? a : b, ctxFor(route), user('shared')) === 'ok') {
                admitted += 1;
                (thisInterval[who] as number) += 1;
              }
            }
            clock.advance(tickMs);
            if (((t + 1) * tickMs) % interval === 0) {
              perIntervalMax = Math.max(perIntervalMax, ...thisInterval);
              thisInterval = [0, 0];
              await a.sync();
              await b.sync();
            }
          }
          perIntervalMax = Math.max(perIntervalMax, ...thisInterval);
          const elapsedMs = ticks.length * tickMs;
          const alone = limit + Math.floor((elapsedMs / 10_000) * limit) + 1;
          expect(admitted).toBeLessThanOrEqual(alone + perIntervalMax);
          a.close();
          b.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('settings', () => {
  it('RATE_LIMIT_* take <n>/<seconds>[:<burst>], default off, and every problem is listed at once', () => {
    expect(loadConfig({}).rateLimits).toEqual({ user: null, node: null, tenant: null, syncMs: 200 });
    expect(
      loadConfig({
        RATE_LIMIT_USER: '600/60',
        RATE_LIMIT_NODE: '100/1:20',
        RATE_LIMIT_TENANT: 'off',
        RATE_LIMIT_SYNC_MS: '150',
      }).rateLimits,
    ).toEqual({
      user: { limit: 600, windowSeconds: 60, burst: 600 },
      node: { limit: 100, windowSeconds: 1, burst: 20 },
      tenant: null,
      syncMs: 150,
    });
    const problems = problemsOf({
      RATE_LIMIT_USER: '600 per minute',
      RATE_LIMIT_NODE: '0/60',
      RATE_LIMIT_TENANT: '10/0:0',
      RATE_LIMIT_SYNC_MS: '1',
    });
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/RATE_LIMIT_USER: must be "<requests>\/<seconds>"/);
    expect(problems.join('\n')).toMatch(/RATE_LIMIT_NODE: the request count/);
    expect(problems.join('\n')).toMatch(/RATE_LIMIT_TENANT: the window/);
    expect(problems.join('\n')).toMatch(/RATE_LIMIT_TENANT: the burst/);
    expect(problems.join('\n')).toMatch(/RATE_LIMIT_SYNC_MS/);
  });

  it('builds no limiter unless something is limited (a default or a route override)', () => {
    const plain = loadConfig({});
    expect(rateLimitsConfigured(plain.rateLimits, plain.routes)).toBe(false);
    const tenantOnly = loadConfig({ RATE_LIMIT_TENANT: '100/1' });
    expect(rateLimitsConfigured(tenantOnly.rateLimits, tenantOnly.routes)).toBe(true);
    const override = validateRoutes([{ prefix: '/x', auth: 'node', rateLimit: { node: '5/1' } }], 'test', []);
    expect(rateLimitsConfigured(plain.rateLimits, [...plain.routes, ...override])).toBe(true);
  });

  it('routes-file overrides are validated: syntax, kinds that fit the route, no limits on public routes', () => {
    const problems: string[] = [];
    const routes = validateRoutes(
      [
        { prefix: '/a', auth: 'user', rateLimit: { user: '10/1', tenant: 'off' } },
        { prefix: '/b', auth: 'user', rateLimit: { node: '10/1' } },
        { prefix: '/c', auth: 'public', rateLimit: { tenant: '10/1' } },
        { prefix: '/d', auth: 'node', rateLimit: { node: 'fast', user: '1/1', ip: '1/1' } },
        { prefix: '/e', auth: 'node', rateLimit: '10/1' },
      ],
      'GATEWAY_ROUTES_FILE',
      problems,
    );
    expect(routes).toEqual([
      { prefix: '/a', auth: 'user', rateLimit: { user: { limit: 10, windowSeconds: 1, burst: 10 }, tenant: 'off' } },
    ]);
    expect(problems).toEqual([
      'GATEWAY_ROUTES_FILE[1].rateLimit.node: only node routes have node limits',
      'GATEWAY_ROUTES_FILE[2].rateLimit.tenant: public routes have no identity to limit',
      expect.stringMatching(/^GATEWAY_ROUTES_FILE\[3\]\.rateLimit\.node: must be/),
      'GATEWAY_ROUTES_FILE[3].rateLimit.user: only user routes have user limits',
      'GATEWAY_ROUTES_FILE[3].rateLimit: unknown field "ip" (user, node or tenant)',
      expect.stringMatching(/^GATEWAY_ROUTES_FILE\[4\]\.rateLimit: must be an object/),
    ]);
  });
});
