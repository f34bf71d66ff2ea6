import { createHash } from 'node:crypto';
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

// Redis keys carry a digest of the email, not the email: no PII at rest in Redis, bounded length,
// and the `{…}` hash tag keeps one email's keys in one Cluster slot so the Lua script may touch them all.
function emailTag(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32);
}

/**
 * Failed-login lockout and per-IP throttling on the shared AuthStateStore (SPEC §5, §11): the same
 * counters on every gateway instance, identical for existing and unknown identities.
 */
export function createLockout(deps: { state: AuthStateStore }, policy: LockoutPolicy, ip: IpThrottlePolicy): Lockout {
  const { state } = deps;
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
      const { count, ttl } = await state.peek(`ipfail:${scope}:${addr}`);
      if (count >= ip.limit) throw new GatewayError('TOO_MANY_REQUESTS', { retryAfter: ttl || ip.windowSeconds });
    },
    async failIp(scope, addr) {
      await state.hit(`ipfail:${scope}:${addr}`, ip.windowSeconds);
    },
  };
}
