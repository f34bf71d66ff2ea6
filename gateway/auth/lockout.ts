import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import type { AttemptResult, AuthStateStore } from '../store/state.js';

export interface LockoutPolicy {
  readonly maxAttempts: number;
  readonly seconds: number;
}

export interface IpThrottlePolicy {
  readonly limit: number;
  readonly windowSeconds: number;
}

export interface Lockout {
  /** Lock keys for an email across the tenants it may resolve to (ids, or `domain:<d>` when unknown). */
  keysFor(tenantKeys: readonly string[], email: string): string[];
  /**
   * Counts one attempt atomically, before any password is checked (SPEC §5). Throws 403
   * ACCOUNT_LOCKED with Retry-After when any key is locked. Returns the attempt count.
   */
  begin(keys: readonly string[]): Promise<AttemptResult>;
  /** Whether `count` failures have reached the limit (the caller audits `lockout`). */
  reachedLimit(count: number): boolean;
  /** Success resets the count; also `cli user unlock`. */
  reset(keys: readonly string[]): Promise<void>;
  /** 429 when this IP has too many recent failures (SPEC §2 AUTH_LOGIN_IP_LIMIT). */
  checkIp(scope: string, ip: string): Promise<void>;
  /** Records one failure for this IP. */
  failIp(scope: string, ip: string): Promise<void>;
}

/** How long "this IP has no recent failures" is reused without asking the store again. */
const CLEAN_IP_MS = 1_000;

// Redis keys carry a digest of the email, not the email: no PII at rest in Redis, bounded length,
// and the `{…}` hash tag keeps one email's keys in one Cluster slot so the Lua script may touch them all.
function emailTag(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32);
}

/**
 * Failed-login lockout and per-IP throttling on the shared AuthStateStore (SPEC §5, §11): the same
 * counters on every gateway instance, identical for existing and unknown identities.
 */
export function createLockout(deps: { state: AuthStateStore; clock?: Clock }, policy: LockoutPolicy, ip: IpThrottlePolicy): Lockout {
  const { state } = deps;
  const clock = deps.clock ?? systemClock;
  // IPs whose failure count was 0 a moment ago. A node route checks its IP on every request, a
  // Redis round trip each (issue 6 profile); a clean answer is reused for CLEAN_IP_MS. A failure
  // on this instance forgets it at once, so guessing here is always counted against the fresh
  // number; failures on other instances are seen within CLEAN_IP_MS.
  const cleanIps = new LRUCache<string, number>({ max: 10_000 });
  return {
    keysFor(tenantKeys, email) {
      const tag = emailTag(email);
      return [...new Set(tenantKeys)].map((t) => `lock:{${tag}}:${t}`);
    },
    async begin(keys) {
      const result = await state.registerAttempt(keys, policy.maxAttempts, policy.seconds);
      if (result.locked) throw new GatewayError('ACCOUNT_LOCKED', { retryAfter: result.retryAfter || policy.seconds });
      return result;
    },
    reachedLimit: (count) => count >= policy.maxAttempts,
    reset: (keys) => state.clear(keys),
    async checkIp(scope, addr) {
      const key = `ipfail:${scope}:${addr}`;
      const now = clock.now();
      const cleanAt = cleanIps.get(key);
      if (cleanAt !== undefined && now - cleanAt < CLEAN_IP_MS && now >= cleanAt) return;
      const { count, ttl } = await state.peek(key);
      if (count === 0) cleanIps.set(key, now);
      else cleanIps.delete(key);
      if (count >= ip.limit) throw new GatewayError('TOO_MANY_REQUESTS', { retryAfter: ttl || ip.windowSeconds });
    },
    async failIp(scope, addr) {
      const key = `ipfail:${scope}:${addr}`;
      cleanIps.delete(key);
      await state.hit(key, ip.windowSeconds);
    },
  };
}
