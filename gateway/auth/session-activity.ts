import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { SessionStore } from '../store/sessions.js';

export interface SessionActivity {
  /** A request authenticated with this session: noted in memory, written later (at most once a minute). */
  seen(sid: string): void;
  /** Writes what is pending now (shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `last_seen_at` bookkeeping off the request path: `seen()` is one map lookup; a session is queued
 * at most once per `intervalMs`, and the queue is written in one UPDATE per `flushMs`.
 */
export function createSessionActivity(
  deps: { store: Pick<SessionStore, 'touch'>; log: Logger; clock?: Clock },
  options: { intervalMs?: number; flushMs?: number } = {},
): SessionActivity {
  const clock = deps.clock ?? systemClock;
  const interval = options.intervalMs ?? 60_000;
  const flushEvery = options.flushMs ?? 5_000;
  const lastQueued = new LRUCache<string, number>({ max: 100_000 });
  let pending = new Set<string>();
  let writing: Promise<void> = Promise.resolve();

  async function flush(): Promise<void> {
    if (pending.size === 0) return writing;
    const batch = [...pending];
    pending = new Set();
    const at = new Date(clock.now());
    writing = writing.then(() =>
      deps.store.touch(batch, at).catch((err: unknown) => {
        deps.log.warn(
          { err: err instanceof Error ? err.message : String(err), sessions: batch.length },
          'session last_seen_at update failed',
        );
      }),
    );
    return writing;
  }
  const timer = setInterval(() => void flush(), flushEvery);
  timer.unref();

  return {
    seen(sid) {
      const now = clock.now();
      const last = lastQueued.get(sid);
      if (last !== undefined && now - last < interval) return;
      lastQueued.set(sid, now);
      pending.add(sid);
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
