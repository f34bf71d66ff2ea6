import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import type { AuthStateStore, BeginResult, LockPolicy, Settlement } from '../store/state.js';

export interface LockoutPolicy {
  readonly maxAttempts: number;
  readonly seconds: number;
}

export interface IpThrottlePolicy {
  readonly limit: number;
  readonly windowSeconds: number;
}

/** One login attempt holding its slot, between the lock check and the password check's outcome. */
export interface LoginAttempt {
  /** Settled failures that counted against this attempt when it began. */
  readonly count: number;
  /**
   * Set when a no-domain login's email-wide count is spent but workspaces that logged in during
   * the window keep room of their own: check the password only against accounts of these tenants,
   * and if none matches, count the failure and answer 403 ACCOUNT_LOCKED (see `lockedError`).
   */
  readonly only: readonly string[] | undefined;
  /** The 403 a restricted attempt answers when no account of `only` matched. */
  lockedError(): GatewayError;
  /**
   * A wrong password: counted. Resolves with the count, this failure included, and whether this
   * failure is the one that locked. Throws 503 when the slot had expired (the outcome is not told).
   */
  fail(): Promise<{ count: number; locked: boolean }>;
  /**
   * The right password for the account in `tenantId`: that workspace's count starts again, no other
   * one (same 503). Without a domain the attempt still counts email-wide.
   */
  succeed(tenantId: string): Promise<void>;
  /** Gives the slot back without counting (the password check itself broke); never throws. */
  release(): void;
}

export interface Lockout {
  /**
   * The atomic step before any password is checked (docs/security-model.md, "Lockout"): throws
   * 403 ACCOUNT_LOCKED with Retry-After when settled failures reached the limit; waits (bounded)
   * while in-flight attempts hold every remaining slot, then 503 with Retry-After; otherwise holds a
   * slot. `workspace` is the tenant id (or `domain:<d>` for an unknown domain) the request named,
   * null without `tenant_domain`.
   */
  begin(email: string, workspace: string | null): Promise<LoginAttempt>;
  /** `cli user unlock`: the tenant's count and the email-wide (no-domain) count. */
  unlock(email: string, tenantId: string): Promise<void>;
  /** 429 when this IP has too many recent failures (AUTH_LOGIN_IP_LIMIT, docs/configuration.md). */
  checkIp(scope: string, ip: string): Promise<void>;
  /** Records one failure for this IP. */
  failIp(scope: string, ip: string): Promise<void>;
}

/** How long an attempt may wait for a slot, and how long a slot lives if its gateway dies. */
export interface LockoutTiming {
  /** Longest wait for a slot held by in-flight attempts before answering 503 (default 5 s). */
  readonly waitMs?: number;
  /** Lease of an in-flight attempt (default 30 s): longer than any attempt, short enough after a crash. */
  readonly leaseSeconds?: number;
}

/** How long "this IP has no recent failures" is reused without asking the store again. */
const CLEAN_IP_MS = 1_000;

// Redis keys carry a digest of the email, not the email: no PII at rest in Redis, bounded length,
// and the `{…}` hash tag keeps one email's keys in one Cluster slot (its counters are one hash).
function lockKey(email: string): string {
  return `lock:{${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32)}}`;
}

/**
 * Failed-login lockout and per-IP throttling on the shared AuthStateStore (docs/security-model.md,
 * docs/scale-out.md): the same counters on every gateway instance, and answers that depend only on
 * the sequence of requests, never on whether an identity exists.
 */
export function createLockout(
  deps: { state: AuthStateStore; clock?: Clock },
  policy: LockoutPolicy,
  ip: IpThrottlePolicy,
  timing: LockoutTiming = {},
): Lockout {
  const { state } = deps;
  const clock = deps.clock ?? systemClock;
  const waitMs = timing.waitMs ?? 5_000;
  const lock: LockPolicy = {
    max: policy.maxAttempts,
    windowSeconds: policy.seconds,
    leaseSeconds: timing.leaseSeconds ?? 30,
  };
  if (!(waitMs >= 0) || !(lock.leaseSeconds > 0))
    throw new RangeError('lockout: waitMs must be >= 0 and leaseSeconds > 0');
  // IPs whose failure count was 0 a moment ago. A node route checks its IP on every request, a
  // Redis round trip each; a clean answer is reused for CLEAN_IP_MS. A failure
  // on this instance forgets it at once, so guessing here is always counted against the fresh
  // number; failures on other instances are seen within CLEAN_IP_MS.
  const cleanIps = new LRUCache<string, number>({ max: 10_000 });
  return {
    async begin(email, workspace) {
      const key = lockKey(email);
      const leaseId = randomBytes(12).toString('base64url');
      const deadline = clock.now() + waitMs;
      let pause = 20;
      for (;;) {
        const r = await state.beginAttempt(key, workspace, leaseId, lock);
        if (r.outcome === 'granted') return attempt(key, leaseId, r);
        if (r.outcome === 'locked')
          throw new GatewayError('ACCOUNT_LOCKED', { retryAfter: r.retryAfter || policy.seconds });
        // Busy: not locked, but every slot left is held by an attempt in flight. Its outcome decides
        // whether this one may run, so wait for it rather than answer "locked" on failures that
        // may never happen (a burst of right passwords never locks).
        if (clock.now() + pause > deadline)
          throw new GatewayError('SERVICE_UNAVAILABLE', {
            retryAfter: 1,
            detail: 'lockout: every slot held by attempts in flight',
          });
        await sleep(pause);
        pause = Math.min(pause * 2, 200);
      }
    },
    unlock: (email, tenantId) => state.unlock(lockKey(email), tenantId),
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

  function attempt(key: string, leaseId: string, begun: BeginResult): LoginAttempt {
    let done = false;
    const settle = async (outcome: Settlement) => {
      done = true;
      const r = await state.settleAttempt(key, leaseId, outcome, lock);
      // The slot expired before the outcome was known (a stalled attempt): another attempt may
      // have used it, so telling this one's outcome could exceed the limit. Nothing is told.
      if (!r.settled)
        throw new GatewayError('SERVICE_UNAVAILABLE', { retryAfter: 1, detail: 'lockout: attempt outlived its lease' });
      return r;
    };
    return {
      count: begun.count,
      only: begun.only,
      lockedError: () => new GatewayError('ACCOUNT_LOCKED', { retryAfter: begun.retryAfter || policy.seconds }),
      fail: async () => {
        const r = await settle({ kind: 'failed' });
        return { count: r.count, locked: r.locked };
      },
      succeed: async (tenantId) => {
        await settle({ kind: 'authenticated', workspace: tenantId });
      },
      release() {
        if (done) return;
        done = true;
        // Best effort: if this fails, the lease expires by itself.
        state.settleAttempt(key, leaseId, { kind: 'released' }, lock).catch(() => undefined);
      },
    };
  }
}
