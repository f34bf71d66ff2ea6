import { systemClock, type Clock } from '../clock.js';
import { beginAttempt, expiryOf, settleAttempt, unlock, type LockFields } from './lock-model.js';
import type { AuthStateStore, CounterResult } from './state.js';

/**
 * In-process AuthStateStore for the single-instance quickstart (docs/operations.md). Same
 * contract as the Redis store (the lockout steps are the very model the Redis scripts mirror), same
 * key expiry; it is never used when NODE_ENV=production.
 */
export function createMemoryStateStore(clock: Clock = systemClock, maxKeys = 100_000): AuthStateStore {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  // One email's lockout fields per key, forgotten when the window and every lease have ended.
  const locks = new Map<string, LockFields>();
  const lockFields = (key: string): LockFields => {
    const now = clock.now();
    let fields = locks.get(key);
    if (fields && expiryOf(fields) <= now) fields = undefined;
    if (!fields) {
      if (locks.size >= maxKeys) {
        for (const [k, f] of locks) if (expiryOf(f) <= now) locks.delete(k);
        for (const k of locks.keys()) {
          if (locks.size < maxKeys) break;
          locks.delete(k);
        }
      }
      fields = new Map();
      locks.set(key, fields);
    }
    return fields;
  };

  const live = (key: string) => {
    const e = entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= clock.now()) {
      entries.delete(key);
      return undefined;
    }
    return e;
  };
  const ttlOf = (key: string) => {
    const e = live(key);
    return e ? Math.max(0, Math.ceil((e.expiresAt - clock.now()) / 1000)) : 0;
  };
  const count = (key: string) => Number(live(key)?.value ?? '0');
  const set = (key: string, value: string, ttlSeconds: number) => {
    if (entries.size >= maxKeys && !entries.has(key)) sweep();
    entries.set(key, { value, expiresAt: clock.now() + ttlSeconds * 1000 });
  };
  const sweep = () => {
    const now = clock.now();
    for (const [key, e] of entries) if (e.expiresAt <= now) entries.delete(key);
    // Still full: drop the oldest insertions (Map keeps insertion order) rather than grow forever.
    for (const key of entries.keys()) {
      if (entries.size < maxKeys) break;
      entries.delete(key);
    }
  };
  return {
    kind: 'memory',
    async beginAttempt(key, workspace, leaseId, policy) {
      return beginAttempt(lockFields(key), clock.now(), workspace, leaseId, policy);
    },
    async settleAttempt(key, leaseId, outcome, policy) {
      return settleAttempt(lockFields(key), clock.now(), leaseId, outcome, policy);
    },
    async unlock(key, workspace) {
      unlock(lockFields(key), clock.now(), workspace);
    },
    async hit(key, windowSeconds): Promise<CounterResult> {
      const e = live(key);
      const c = count(key) + 1;
      set(key, String(c), e ? (e.expiresAt - clock.now()) / 1000 : windowSeconds);
      return { count: c, ttl: ttlOf(key) };
    },
    async peek(key): Promise<CounterResult> {
      return { count: count(key), ttl: ttlOf(key) };
    },
    async setMarker(key, value, ttlSeconds) {
      set(key, value, Math.max(1, Math.ceil(ttlSeconds)));
    },
    async getMarker(key) {
      return live(key)?.value ?? null;
    },
    async getMarkers(keys) {
      return keys.map((key) => live(key)?.value ?? null);
    },
    async takeMarker(key) {
      // One synchronous step on the event loop: as atomic as the Redis script.
      const value = live(key)?.value ?? null;
      entries.delete(key);
      return value;
    },
    async rateSync(items) {
      const now = clock.now();
      return items.map(({ key, used, msPerRequest }) => {
        let tat = Math.max(Number(live(key)?.value ?? '0'), now);
        if (used > 0) {
          tat += used * msPerRequest;
          set(key, String(tat), (tat - now) / 1000 + 1);
        }
        return Math.ceil(tat - now);
      });
    },
    async ping() {
      return true;
    },
    async close() {
      entries.clear();
      locks.clear();
    },
  };
}
