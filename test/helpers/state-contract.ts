/**
 * One contract for AuthStateStore (one suite for every implementation), shared by every store and Redis topology the
 * gateway supports: the in-process store (manual clock) and Redis single node, Cluster and
 * Sentinel (real servers, real waits of 1–2 s: their TTLs are the server's own).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthStateStore } from '../../gateway/store/state.js';

export interface Harness {
  readonly store: AuthStateStore;
  /** Lets `seconds` pass for the store. */
  advance(seconds: number): Promise<void>;
  close(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/**
 * Fresh logical keys per test (the Redis prefix is shared by every run of a file). The random part
 * is a Cluster hash tag, so keys derived from one (`${k}:a`, `${k}:b`) share a slot, as the
 * gateway's lock keys of one identity do (`lock:{<email hash>}:<tenant>`).
 */
export const key = (name: string) => `${name}:{${randomBytes(6).toString('hex')}}`;

export function contract(label: string, setup: () => Promise<Harness>): void {
  describe(`AuthStateStore contract: ${label}`, () => {
    let h: Harness;
    let store: AuthStateStore;
    beforeAll(async () => {
      h = await setup();
      store = h.store;
    });
    afterAll(async () => {
      await h.close();
    });

    it('counts attempts, locks at max, and refuses without counting while locked', async () => {
      const k = key('lock');
      for (let i = 1; i <= 3; i++) {
        expect(await store.registerAttempt([k], 3, 60)).toEqual({ locked: false, retryAfter: 0, count: i });
      }
      const refused = await store.registerAttempt([k], 3, 60);
      expect(refused.locked).toBe(true);
      expect(refused.count).toBe(3);
      for (let i = 0; i < 5; i++) await store.registerAttempt([k], 3, 60);
      expect((await store.lockStatus([k], 3)).count).toBe(3);
      expect(await store.lockStatus([k], 4)).toEqual({ locked: false, retryAfter: 0, count: 3 });
    });

    it('answers Retry-After from the lock: at most the window, more than zero', async () => {
      const k = key('retry');
      for (let i = 0; i < 2; i++) await store.registerAttempt([k], 2, 60);
      const r = await store.registerAttempt([k], 2, 60);
      expect(r.locked).toBe(true);
      expect(r.retryAfter).toBeGreaterThanOrEqual(58);
      expect(r.retryAfter).toBeLessThanOrEqual(60);
      const s = await store.lockStatus([k], 2);
      expect(s.locked).toBe(true);
      expect(s.retryAfter).toBeGreaterThan(0);
      expect(s.retryAfter).toBeLessThanOrEqual(60);
    });

    it('forgets failures when the window ends (count starts again at 1)', async () => {
      const k = key('window');
      await store.registerAttempt([k], 5, 1);
      expect((await store.registerAttempt([k], 5, 1)).count).toBe(2);
      await h.advance(1.3);
      expect(await store.lockStatus([k], 5)).toEqual({ locked: false, retryAfter: 0, count: 0 });
      expect((await store.registerAttempt([k], 5, 1)).count).toBe(1);
    });

    it('re-arms the window when the count reaches max, so the lock lasts the full window', async () => {
      const k = key('rearm');
      await store.registerAttempt([k], 2, 2);
      await h.advance(1.2);
      await store.registerAttempt([k], 2, 2); // reaches max: the lock now runs 2 s from here
      await h.advance(1.2); // 2.4 s after the first attempt: past the original window
      expect((await store.registerAttempt([k], 2, 2)).locked).toBe(true);
      await h.advance(1.1); // 2.3 s after the lock began
      const after = await store.registerAttempt([k], 2, 2);
      expect(after).toEqual({ locked: false, retryAfter: 0, count: 1 });
    });

    it('several keys: locked if any key is locked (none counted), otherwise every key is counted', async () => {
      // One identity's keys (one hash tag), as the gateway's multi-key calls always are.
      const k = key('multi');
      const [a, b, c] = [`${k}:a`, `${k}:b`, `${k}:c`];
      for (let i = 0; i < 3; i++) await store.registerAttempt([a], 3, 60);
      const r = await store.registerAttempt([b, a], 3, 60);
      expect(r.locked).toBe(true);
      expect(r.retryAfter).toBeGreaterThan(0);
      expect((await store.lockStatus([b], 3)).count).toBe(0);

      await store.registerAttempt([b], 3, 60);
      expect(await store.registerAttempt([b, c], 3, 60)).toEqual({ locked: false, retryAfter: 0, count: 2 });
      expect((await store.lockStatus([b], 3)).count).toBe(2);
      expect((await store.lockStatus([c], 3)).count).toBe(1);
      expect((await store.lockStatus([c, a], 3)).locked).toBe(true);
    });

    it('clear removes the counters (success, `cli user unlock`)', async () => {
      const k = key('clear');
      const [a, b] = [`${k}:a`, `${k}:b`];
      for (let i = 0; i < 3; i++) await store.registerAttempt([a, b], 3, 60);
      expect((await store.lockStatus([a], 3)).locked).toBe(true);
      await store.clear([a, b]);
      await store.clear([]);
      expect(await store.lockStatus([a, b], 3)).toEqual({ locked: false, retryAfter: 0, count: 0 });
      expect((await store.registerAttempt([a], 3, 60)).count).toBe(1);
    });

    it('hit / peek: a fixed window that counts, reads without counting, and resets when it ends', async () => {
      const k = key('hit');
      expect(await store.peek(k)).toEqual({ count: 0, ttl: 0 });
      const first = await store.hit(k, 1);
      expect(first.count).toBe(1);
      expect(first.ttl).toBeGreaterThan(0);
      expect(first.ttl).toBeLessThanOrEqual(1);
      expect((await store.hit(k, 1)).count).toBe(2);
      const p = await store.peek(k);
      expect(p.count).toBe(2);
      expect(p.ttl).toBeLessThanOrEqual(1);
      expect((await store.peek(k)).count).toBe(2);
      await h.advance(1.3);
      expect(await store.peek(k)).toEqual({ count: 0, ttl: 0 });
      expect((await store.hit(k, 1)).count).toBe(1);
    });

    it('hit keeps the window of the first hit (fixed, not sliding)', async () => {
      const k = key('fixed');
      await store.hit(k, 2);
      await h.advance(1.2);
      expect((await store.hit(k, 2)).count).toBe(2);
      await h.advance(1.1); // 2.3 s after the first hit
      expect((await store.hit(k, 2)).count).toBe(1);
    });

    it('markers expire by themselves; getMarkers reads several at once with null where absent', async () => {
      const [a, b, missing] = [key('marker-a'), key('marker-b'), key('marker-none')];
      await store.setMarker(a, 'revoked', 1);
      await store.setMarker(b, '1700000000000', 60);
      expect(await store.getMarker(a)).toBe('revoked');
      expect(await store.getMarker(missing)).toBeNull();
      expect(await store.getMarkers([a, missing, b])).toEqual(['revoked', null, '1700000000000']);
      expect(await store.getMarkers([])).toEqual([]);
      await h.advance(1.3);
      expect(await store.getMarker(a)).toBeNull();
      expect(await store.getMarkers([a, b])).toEqual([null, '1700000000000']);
      await store.setMarker(b, 'replaced', 60);
      expect(await store.getMarker(b)).toBe('replaced');
    });

    it('is atomic: 30 parallel attempts with max 10 let exactly 10 through', async () => {
      const k = key('race');
      const results = await Promise.all(Array.from({ length: 30 }, () => store.registerAttempt([k, `${k}:second`], 10, 60)));
      expect(results.filter((r) => !r.locked)).toHaveLength(10);
      expect(results.filter((r) => r.locked)).toHaveLength(20);
      expect(results.filter((r) => !r.locked).map((r) => r.count).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect((await store.lockStatus([`${k}:second`], 10)).count).toBe(10);
    });

    it('rateSync books the requests reported as debt per key, answers in order, and the debt drains with time', async () => {
      const a = key('rl');
      const b = key('rl');
      expect(await store.rateSync([])).toEqual([]);
      expect(await store.rateSync([{ key: a, used: 0, msPerRequest: 100 }])).toEqual([0]);
      const [da, db] = await store.rateSync([
        { key: a, used: 3, msPerRequest: 100 },
        { key: b, used: 1, msPerRequest: 60_000 },
      ]);
      expect(da).toBeGreaterThan(200);
      expect(da).toBeLessThanOrEqual(300);
      expect(db).toBeGreaterThan(59_800);
      expect(db).toBeLessThanOrEqual(60_000);
      // Reports from two instances add up: the debt is shared.
      const [again] = await store.rateSync([{ key: a, used: 2, msPerRequest: 100 }]);
      expect(again).toBeGreaterThan(350);
      expect(again).toBeLessThanOrEqual(500);
      await h.advance(0.2);
      const [later] = await store.rateSync([{ key: a, used: 0, msPerRequest: 100 }]);
      expect(later).toBeGreaterThan(100);
      expect(later).toBeLessThanOrEqual(300);
      await h.advance(0.4);
      expect(await store.rateSync([{ key: a, used: 0, msPerRequest: 100 }])).toEqual([0]);
    });

    it('pings', async () => {
      expect(await store.ping(1000)).toBe(true);
    });
  });
}

