/**
 * Shared, expiring auth state (docs/security-model.md, docs/scale-out.md): lockout counters, per-IP
 * throttles and token revocation. Two implementations hold the same contract
 * (test/helpers/state-contract.ts): Redis for production and scale-out, in-process memory for the
 * single-instance quickstart. Keys passed in are logical ("lock:{<email digest>}"); the
 * implementation adds the prefix.
 */

/**
 * How failed logins of one normalized email are counted (docs/security-model.md, "Lockout"): one
 * counter per named workspace (`tenant_domain` given) and one email-wide counter for attempts made
 * without `tenant_domain`. A request naming W is locked when count(W) + the email-wide attempts since
 * W's last login reach `max`; a request without a domain when that sum does for any workspace
 * (a workspace nobody named counts the email-wide attempts alone).
 * In-flight attempts hold an expiring lease: they never lock anybody, but no attempt may start
 * while settled failures plus leases would exceed `max` for any workspace it could be checked against.
 */
export interface LockPolicy {
  readonly max: number;
  /** Fixed window: opened by the email's first failure, re-armed when a failure locks. */
  readonly windowSeconds: number;
  /** How long an in-flight attempt may hold its slot (a crashed gateway frees it after this). */
  readonly leaseSeconds: number;
}

export interface BeginResult {
  /**
   * `granted`: a lease is held, check the password and settle. `locked`: settled failures reached
   * `max`. `busy`: not locked, but in-flight attempts hold every remaining slot; ask again shortly.
   */
  readonly outcome: 'granted' | 'locked' | 'busy';
  /** Seconds until the window (and so the lock) ends when `locked`; 0 otherwise. */
  readonly retryAfter: number;
  /** Settled failures counting against this request. */
  readonly count: number;
  /**
   * Granted without a domain although the email-wide count is spent: check the password only
   * against the accounts of these workspaces (the ones that logged in during this window), and
   * answer "locked" (Retry-After `retryAfter`) if none matches.
   */
  readonly only?: readonly string[];
}

/** What an attempt turned out to be, once its password was checked. */
export type Settlement =
  /** A wrong password: count it in the lease's counter. */
  | { readonly kind: 'failed' }
  /**
   * The right password for this workspace (a tenant id): that workspace's own count starts again;
   * no other count is cleared. Without a domain the attempt still counts email-wide: the password
   * was checked (and wrong) for every other account of the email.
   */
  | { readonly kind: 'authenticated'; readonly workspace: string }
  /** Nothing to count (the check itself failed): give the slot back. */
  | { readonly kind: 'released' };

export interface SettleResult {
  /** False when the lease had already expired: nothing was changed, and the caller must not reveal the outcome. */
  readonly settled: boolean;
  /** After a failure: settled failures counting against the attempt's own request, this one included. */
  readonly count: number;
  /** After a failure: whether this failure is the one that locked the request's identity. */
  readonly locked: boolean;
}

export interface CounterResult {
  readonly count: number;
  /** Seconds until the window resets (0 when no window is open). */
  readonly ttl: number;
}

/** One request-limit bucket's share of a reconciliation (gateway/ratelimit/limiter.ts). */
export interface RateSyncItem {
  /** Logical key ("rl:user:<id>"); the store adds its prefix. */
  readonly key: string;
  /** Requests this instance admitted for the key since its last report. */
  readonly used: number;
  /** Milliseconds one request costs: the limit's window divided by its request count. */
  readonly msPerRequest: number;
}

export interface AuthStateStore {
  readonly kind: 'redis' | 'memory';
  /**
   * One atomic step before the password is checked: answers locked or busy, or takes a lease for
   * `leaseId`. `key` holds every counter of one email; `workspace` is null without `tenant_domain`.
   */
  beginAttempt(key: string, workspace: string | null, leaseId: string, policy: LockPolicy): Promise<BeginResult>;
  /** One atomic step after the password is checked: drops the lease and counts or clears. */
  settleAttempt(key: string, leaseId: string, outcome: Settlement, policy: LockPolicy): Promise<SettleResult>;
  /** `cli user unlock`: clears the workspace's counter and the email-wide one. */
  unlock(key: string, workspace: string): Promise<void>;
  /** Fixed-window counter: increments and returns the count. */
  hit(key: string, windowSeconds: number): Promise<CounterResult>;
  /** Reads a fixed-window counter without incrementing. */
  peek(key: string): Promise<CounterResult>;
  /** Marks a value (a revoked jti, a user's valid-after time) that expires by itself. */
  setMarker(key: string, value: string, ttlSeconds: number): Promise<void>;
  getMarker(key: string): Promise<string | null>;
  /** Reads several markers in one round trip (null where absent). */
  getMarkers(keys: readonly string[]): Promise<(string | null)[]>;
  /**
   * Reads and deletes a marker in one atomic step (a single-use credential: a WebSocket ticket).
   * Of any number of concurrent takes of one key, on any number of instances, exactly one gets the
   * value; the others get null, as does a take after expiry.
   */
  takeMarker(key: string): Promise<string | null>;
  /**
   * Request limits (GCRA, one theoretical-arrival time per key): adds each item's `used` requests
   * to its key and answers, per item in order, the key's debt — how many milliseconds of requests
   * are booked beyond now, across every instance (0 when the bucket is full). One round trip.
   */
  rateSync(items: readonly RateSyncItem[]): Promise<number[]>;
  ping(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}
