/**
 * Shared, expiring auth state (SPEC §5, §6, §11): lockout counters, per-IP throttles and token
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
   * Reads and deletes a marker in one atomic step (a single-use credential: a WebSocket ticket).
   * Of any number of concurrent takes of one key, on any number of instances, exactly one gets the
   * value; the others get null, as does a take after expiry.
   */
  takeMarker(key: string): Promise<string | null>;
  ping(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}
