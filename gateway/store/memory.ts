import { systemClock, type Clock } from '../clock.js';
import type { AttemptResult, AuthStateStore, CounterResult } from './state.js';

/**
 * In-process AuthStateStore for the single-instance quickstart (docs/operations.md). Same contract as the
 * Redis store, same key expiry; it is never used when NODE_ENV=production.
 */
export function createMemoryStateStore(clock: Clock = systemClock, maxKeys = 100_000): AuthStateStore {
  const entries = new Map<string, { value: string; expiresAt: number }>();

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
  const status = (keys: readonly string[], max: number): AttemptResult => {
    let highest = 0;
    let ttl = 0;
    for (const key of keys) {
      const c = count(key);
      highest = Math.max(highest, c);
      if (c >= max) ttl = Math.max(ttl, ttlOf(key));
    }
    return highest >= max ? { locked: true, retryAfter: ttl, count: highest } : { locked: false, retryAfter: 0, count: highest };
  };

  return {
    kind: 'memory',
    async registerAttempt(keys, max, windowSeconds) {
      const s = status(keys, max);
      if (s.locked) return s;
      let highest = 0;
      for (const key of keys) {
        const c = count(key) + 1;
        const e = live(key);
        const keepTtl = e && c < max ? (e.expiresAt - clock.now()) / 1000 : windowSeconds;
        set(key, String(c), keepTtl);
        highest = Math.max(highest, c);
      }
      return { locked: false, retryAfter: 0, count: highest };
    },
    async lockStatus(keys, max) {
      return status(keys, max);
    },
    async clear(keys) {
      for (const key of keys) entries.delete(key);
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
    },
  };
}
