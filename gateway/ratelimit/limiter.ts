/**
 * Request limits per user, node and tenant (docs/configuration.md, "Request limits"), shared by
 * every instance without a Redis round trip per request. Each instance keeps a token bucket per
 * key (ratelimit/bucket.ts) and decides at once, synchronously; every `syncMs` it reports to the
 * shared store, in one round trip, how many requests it admitted per key since the last report,
 * and gets back each key's shared state (GCRA in Redis: store/redis.ts), which replaces its view.
 *
 * Bound: an instance decides on a view of the shared state at most one sync interval (plus the
 * sync's round trip) old while it uses a key — or, after an idle spell, on its last view refilled
 * locally until its first sync. So an instance may admit beyond the shared limit at most what it
 * admits for that key during one sync interval, and across N instances a key's excess is at most
 * the sum of those N one-interval shares. The excess is booked in the shared state as
 * debt and paid back: the key is refused until its bucket refills, so over longer spans the rate
 * is the limit. While the store is unreachable each instance enforces the limits alone on its
 * own buckets (never refusing because of the outage); what it admits meanwhile is not reported.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { RateLimitConfig, RateLimitKind, RateLimitPolicy, RouteDef } from '../config/types.js';
import type { Identity } from '../auth/types.js';
import { GatewayError } from '../errors.js';
import type { RequestContext, UpgradeContext } from '../http/context.js';
import type { AuthStateStore, RateSyncItem } from '../store/state.js';
import {
  hasRoom,
  msUntilFull,
  msUntilRoom,
  newBucket,
  reconcile,
  refill,
  shapeOf,
  take,
  type Bucket,
  type BucketShape,
} from './bucket.js';

/** One policy applied to one kind of key (the global default, or one route's override). */
interface Slot {
  readonly kind: RateLimitKind;
  /** Part of the shared key: `user`, or `user@/api/v1/reports` for a route's own bucket. */
  readonly name: string;
  readonly shape: BucketShape;
  /** This policy's RateLimit-Policy item, e.g. `"user";q=600;w=60`. */
  readonly item: string;
  readonly buckets: Map<string, Bucket>;
}

/** What applies to one identity kind on one route: the identity's own slot and its tenant's. */
interface Plan {
  readonly own: Slot | null;
  readonly tenant: Slot | null;
  /** The RateLimit-Policy field value, fixed per route and identity kind. */
  readonly policyHeader: string;
}

interface RoutePlan {
  readonly user: Plan | null;
  readonly node: Plan | null;
}

export interface RateLimiterDeps {
  readonly state: AuthStateStore;
  readonly log: Logger;
  readonly clock?: Clock;
  /** A request was refused (metrics). */
  readonly onLimited?: (kind: RateLimitKind) => void;
}

export interface RateLimiterOptions {
  /** Keys remembered per policy; the least recently used goes first past it. Default 50 000. */
  readonly maxKeysPerPolicy?: number;
  /** Start the background sync timer (default true; tests call sync() themselves). */
  readonly autoSync?: boolean;
}

export interface RateLimiter {
  /**
   * Counts an authenticated proxied request. Throws 429 (with Retry-After, RateLimit-Policy and
   * RateLimit) when a limit is reached; otherwise, on a plain HTTP request, sets RateLimit-Policy
   * and RateLimit on the response for the limit closest to running out.
   */
  /** Throws 429 past a limit; on an HTTP request the response gets the RateLimit headers. */
  check(ctx: RequestContext | UpgradeContext, identity: Identity): void;
  /** One reconciliation with the shared store (the timer calls it every `syncMs`). */
  sync(): Promise<void>;
  /** Keys held in memory (tests, diagnostics). */
  size(): number;
  close(): void;
}

/** A key used within this long is refreshed from the shared store at every sync, used or not. */
const REFRESH_MS = 2_000;
/** A bucket idle this long is forgotten even if not yet full (the shared store still has its debt). */
const IDLE_DROP_MS = 10 * 60_000;

function item(kind: RateLimitKind, p: RateLimitPolicy): string {
  // draft-ietf-httpapi-ratelimit-headers: q = quota, w = window (seconds); the burst, when it
  // differs from the quota, as a vendor-prefixed parameter.
  return `"${kind}";q=${p.limit};w=${p.windowSeconds}${p.burst === p.limit ? '' : `;g2d-burst=${p.burst}`}`;
}

/** True when the configuration limits anything (a default or a route override): else no limiter is built. */
export function rateLimitsConfigured(config: RateLimitConfig, routes: readonly RouteDef[]): boolean {
  return (
    config.user !== null ||
    config.node !== null ||
    config.tenant !== null ||
    routes.some((r) => r.rateLimit !== undefined)
  );
}

/** Builds the limiter; it runs only when rateLimitsConfigured() says something is limited. */
export function createRateLimiter(
  deps: RateLimiterDeps,
  config: RateLimitConfig,
  options: RateLimiterOptions = {},
): RateLimiter {
  const clock = deps.clock ?? systemClock;
  const maxKeys = options.maxKeysPerPolicy ?? 50_000;
  const slots = new Map<string, Slot>();
  // Keyed by the route object, so a reloaded table gets fresh plans and old ones are collected.
  const plans = new WeakMap<RouteDef, RoutePlan>();

  function slotFor(kind: RateLimitKind, policy: RateLimitPolicy, route: RouteDef | null): Slot {
    const name = route ? `${kind}@${route.prefix}` : kind;
    const id = `${name}#${policy.limit}/${policy.windowSeconds}:${policy.burst}`;
    let slot = slots.get(id);
    if (!slot) {
      slot = { kind, name: id, shape: shapeOf(policy), item: item(kind, policy), buckets: new Map() };
      slots.set(id, slot);
    }
    return slot;
  }

  function resolve(kind: RateLimitKind, route: RouteDef): Slot | null {
    const override = route.rateLimit?.[kind];
    if (override === 'off') return null;
    if (override) return slotFor(kind, override, route);
    const global = config[kind];
    return global ? slotFor(kind, global, null) : null;
  }

  function planFor(route: RouteDef, own: 'user' | 'node'): Plan | null {
    if (route.auth !== own) return null;
    const ownSlot = resolve(own, route);
    const tenant = resolve('tenant', route);
    if (!ownSlot && !tenant) return null;
    const policyHeader = [ownSlot?.item, tenant?.item].filter(Boolean).join(', ');
    return { own: ownSlot, tenant, policyHeader };
  }

  function bucketFor(slot: Slot, key: string, now: number): Bucket {
    let b = slot.buckets.get(key);
    if (b === undefined) {
      if (slot.buckets.size >= maxKeys) {
        const oldest = slot.buckets.keys().next();
        if (!oldest.done) slot.buckets.delete(oldest.value);
      }
      b = newBucket(slot.shape, now);
      slot.buckets.set(key, b);
    } else if (!b.touched) {
      // First use since the last sync: move to the end, so eviction takes the least recently used.
      slot.buckets.delete(key);
      slot.buckets.set(key, b);
    }
    b.touched = true;
    b.lastUsed = now;
    refill(b, slot.shape, now);
    return b;
  }

  function refuse(plan: Plan, slot: Slot, b: Bucket): never {
    const seconds = Math.max(1, Math.ceil(msUntilRoom(b, slot.shape) / 1000));
    deps.onLimited?.(slot.kind);
    throw new GatewayError('TOO_MANY_REQUESTS', {
      retryAfter: seconds,
      detail: `${slot.kind} rate limit reached`,
      headers: { 'RateLimit-Policy': plan.policyHeader, RateLimit: `"${slot.kind}";r=0;t=${seconds}` },
    });
  }

  let syncing = false;
  let degraded = false;

  async function sync(): Promise<void> {
    if (syncing) return;
    syncing = true;
    const now = clock.now();
    const items: RateSyncItem[] = [];
    const sent: { slot: Slot; bucket: Bucket }[] = [];
    try {
      for (const slot of slots.values()) {
        for (const [key, bucket] of slot.buckets) {
          // Keys used lately are refreshed even in an interval without requests, so an instance
          // learns what the others admitted before its own next request.
          if (!bucket.touched && bucket.pending === 0 && now - bucket.lastUsed > REFRESH_MS) {
            refill(bucket, slot.shape, now);
            if (bucket.tokens >= slot.shape.capacity || now - bucket.lastUsed > IDLE_DROP_MS) slot.buckets.delete(key);
            continue;
          }
          bucket.inFlight = bucket.pending;
          bucket.pending = 0;
          bucket.touched = false;
          items.push({ key: `rl:${slot.name}:${key}`, used: bucket.inFlight, msPerRequest: slot.shape.msPerRequest });
          sent.push({ slot, bucket });
        }
      }
      if (items.length === 0) return;
      let debts: number[];
      try {
        debts = await deps.state.rateSync(items);
      } catch (err) {
        // Fail to local: keep enforcing on this instance's own buckets, never refuse for the outage.
        // What was admitted meanwhile is not reported later (that would punish users for the outage).
        for (const { bucket } of sent) bucket.inFlight = 0;
        if (!degraded)
          deps.log.warn(
            { err: err instanceof Error ? err.message : String(err) },
            'rate limits: shared store unreachable, enforcing per instance',
          );
        degraded = true;
        return;
      }
      if (degraded) deps.log.info('rate limits: shared store reachable again');
      degraded = false;
      const at = clock.now();
      sent.forEach(({ slot, bucket }, i) => reconcile(bucket, slot.shape, debts[i] ?? 0, at));
    } finally {
      syncing = false;
    }
  }

  const timer = options.autoSync === false ? null : setInterval(() => void sync(), config.syncMs);
  timer?.unref();

  return {
    check(ctx, identity) {
      const route = ctx.route;
      if (route === null || identity.kind === 'public') return;
      let routePlan = plans.get(route);
      if (routePlan === undefined) {
        routePlan = { user: planFor(route, 'user'), node: planFor(route, 'node') };
        plans.set(route, routePlan);
      }
      const plan = identity.kind === 'user' ? routePlan.user : routePlan.node;
      if (plan === null) return;
      // The request's arrival time (the server read the injected clock once already): a clock
      // read costs more than the rest of the check.
      const now = ctx.startedAt;
      const own = plan.own
        ? bucketFor(plan.own, identity.kind === 'user' ? identity.userId : identity.nodeId, now)
        : null;
      const tenant = plan.tenant ? bucketFor(plan.tenant, identity.tenantId, now) : null;
      // Both checked before either is spent: a request refused by one limit costs the other nothing.
      if (own !== null && !hasRoom(own)) refuse(plan, plan.own as Slot, own);
      if (tenant !== null && !hasRoom(tenant)) refuse(plan, plan.tenant as Slot, tenant);
      if (own !== null) take(own);
      if (tenant !== null) take(tenant);
      // An upgrade has no response object: its 101 carries no limit fields.
      if (ctx.kind !== 'http') return;
      const res = ctx.res;
      // Report the limit with the smaller share left.
      const useTenant =
        own === null ||
        (tenant !== null &&
          tenant.tokens / (plan.tenant as Slot).shape.capacity < own.tokens / (plan.own as Slot).shape.capacity);
      const slot = (useTenant ? plan.tenant : plan.own) as Slot;
      const b = (useTenant ? tenant : own) as Bucket;
      res.setHeader('RateLimit-Policy', plan.policyHeader);
      res.setHeader(
        'RateLimit',
        `"${slot.kind}";r=${Math.max(0, Math.floor(b.tokens))};t=${Math.ceil(msUntilFull(b, slot.shape) / 1000)}`,
      );
    },
    sync,
    size() {
      let n = 0;
      for (const slot of slots.values()) n += slot.buckets.size;
      return n;
    },
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
