/**
 * Shared, expiring auth state (docs/security-model.md, docs/scale-out.md): lockout counters, per-IP throttles and token
 * revocation. Two implementations hold the same contract (test/integration/state-store.test.ts):
 * Redis for production and scale-out, in-process memory for the single-instance quickstart.
 * Keys passed in are logical ("lock:<tenant>:<email>"); the implementation adds the prefix.
 */
export interface AttemptResult {
  /** True when the identity was already locked: the attempt was refused and not counted. */
  readonly locked: boolean;
  /** Seconds until the lock (or window) ends; 0 when unlocked. */
  readonly retryAfter: number;
  /** Highest count across the keys after this attempt. */
  readonly count: number;
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
   * One atomic step, before the password is checked: if any key is at or over `max`, answer locked
   * without counting; else increment every key (window `windowSeconds` opened on the first count,
   * extended to `windowSeconds` again when the count reaches `max` so the lock lasts that long).
   */
  registerAttempt(keys: readonly string[], max: number, windowSeconds: number): Promise<AttemptResult>;
  /** Like registerAttempt without counting. */
  lockStatus(keys: readonly string[], max: number): Promise<AttemptResult>;
  /** Clears counters (success, `cli user unlock`). */
  clear(keys: readonly string[]): Promise<void>;
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
   * Request limits (GCRA, one theoretical-arrival time per key): adds each item's `used` requests
   * to its key and answers, per item in order, the key's debt — how many milliseconds of requests
   * are booked beyond now, across every instance (0 when the bucket is full). One round trip.
   */
  rateSync(items: readonly RateSyncItem[]): Promise<number[]>;
  ping(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}
