/**
 * One contract for AuthStateStore (one suite for every implementation), shared by every store and Redis topology the
 * gateway supports: the in-process store (manual clock) and Redis single node, Cluster and
 * Sentinel (real servers, real waits of 1–2 s: their TTLs are the server's own).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WORKSPACES } from '../../gateway/store/lock-model.js';
import type { AuthStateStore, LockPolicy } from '../../gateway/store/state.js';

export interface Harness {
  readonly store: AuthStateStore;
  /** Lets `seconds` pass for the store. */
  advance(seconds: number): Promise<void>;
  close(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/**
 * Fresh logical keys per test (the Redis prefix is shared by every run of a file). The random part
 * is a Cluster hash tag, as in the gateway's lock keys (`lock:{<email digest>}`, one hash per email).
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

    const policy = (max: number, windowSeconds = 60, leaseSeconds = 30): LockPolicy => ({
      max,
      windowSeconds,
      leaseSeconds,
    });
    let leases = 0;
    const lease = () => `lease-${++leases}`;
    /** One wrong password: begin, then settle as failed. */
    const fail = async (k: string, ws: string | null, p: LockPolicy) => {
      const id = lease();
      const b = await store.beginAttempt(k, ws, id, p);
      if (b.outcome !== 'granted') return b;
      return { ...b, ...(await store.settleAttempt(k, id, { kind: 'failed' }, p)) };
    };
    const probe = async (k: string, ws: string | null, p: LockPolicy) => {
      const id = lease();
      const b = await store.beginAttempt(k, ws, id, p);
      if (b.outcome === 'granted') await store.settleAttempt(k, id, { kind: 'released' }, p);
      return b;
    };

    it('counts settled failures, locks at max, and refuses without counting while locked', async () => {
      const k = key('lock');
      const p = policy(3);
      for (let i = 1; i <= 3; i++)
        expect(await fail(k, 'A', p)).toMatchObject({ outcome: 'granted', count: i, settled: true, locked: i === 3 });
      const refused = await probe(k, 'A', p);
      expect(refused).toMatchObject({ outcome: 'locked', count: 3 });
      for (let i = 0; i < 5; i++) await fail(k, 'A', p);
      expect((await probe(k, 'A', p)).count).toBe(3);
      expect(await probe(k, 'A', policy(4))).toEqual({ outcome: 'granted', retryAfter: 0, count: 3 });
    });

    it('answers Retry-After from the lock: at most the window, more than zero', async () => {
      const k = key('retry');
      for (let i = 0; i < 2; i++) await fail(k, null, policy(2));
      const r = await probe(k, null, policy(2));
      expect(r.outcome).toBe('locked');
      expect(r.retryAfter).toBeGreaterThanOrEqual(58);
      expect(r.retryAfter).toBeLessThanOrEqual(60);
    });

    it('forgets failures when the window ends (count starts again at 0)', async () => {
      const k = key('window');
      await fail(k, 'A', policy(5, 1));
      expect((await fail(k, null, policy(5, 1))).count).toBe(2); // highest workspace (A: 1) + email-wide (1)
      await h.advance(1.3);
      expect(await probe(k, 'A', policy(5, 1))).toEqual({ outcome: 'granted', retryAfter: 0, count: 0 });
      expect(await probe(k, null, policy(5, 1))).toEqual({ outcome: 'granted', retryAfter: 0, count: 0 });
    });

    it('re-arms the window when a failure locks, so the lock lasts the full window', async () => {
      const k = key('rearm');
      const p = policy(2, 2);
      await fail(k, 'A', p);
      await h.advance(1.2);
      expect(await fail(k, 'A', p)).toMatchObject({ locked: true }); // the lock now runs 2 s from here
      await h.advance(1.2); // 2.4 s after the first failure: past the original window
      expect((await probe(k, 'A', p)).outcome).toBe('locked');
      await h.advance(1.1); // 2.3 s after the lock began
      expect(await probe(k, 'A', p)).toEqual({ outcome: 'granted', retryAfter: 0, count: 0 });
    });

    it('a named request counts its workspace plus the email-wide count; a no-domain request the highest workspace plus it', async () => {
      const k = key('sums');
      const p = policy(10);
      for (let i = 0; i < 6; i++) await fail(k, 'A', p);
      for (let i = 0; i < 3; i++) await fail(k, null, p);
      expect(await probe(k, 'A', p)).toMatchObject({ outcome: 'granted', count: 9 });
      expect(await probe(k, 'B', p)).toMatchObject({ outcome: 'granted', count: 3 });
      expect(await probe(k, null, p)).toMatchObject({ outcome: 'granted', count: 9 });
      expect(await fail(k, 'A', p)).toMatchObject({ count: 10, locked: true });
      expect((await probe(k, 'A', p)).outcome).toBe('locked');
      expect((await probe(k, null, p)).outcome).toBe('locked');
      expect(await probe(k, 'B', p)).toMatchObject({ outcome: 'granted', count: 3 });
      expect(await fail(k, null, p)).toMatchObject({ outcome: 'locked' }); // refused, not counted
      expect(await probe(k, 'B', p)).toMatchObject({ count: 3 });
    });

    it('success restarts only the count of the workspace that authenticated, never another one', async () => {
      const k = key('success');
      const p = policy(10);
      for (let i = 0; i < 5; i++) await fail(k, 'A', p);
      for (let i = 0; i < 4; i++) await fail(k, 'B', p);
      for (let i = 0; i < 2; i++) await fail(k, null, p);
      // Named: clears B's count only.
      const named = lease();
      expect((await store.beginAttempt(k, 'B', named, p)).outcome).toBe('granted');
      expect(await store.settleAttempt(k, named, { kind: 'authenticated', workspace: 'B' }, p)).toMatchObject({
        settled: true,
      });
      expect(await probe(k, 'B', p)).toMatchObject({ count: 0 });
      expect(await probe(k, 'A', p)).toMatchObject({ count: 7 });
      expect(await probe(k, 'other', p)).toMatchObject({ count: 2 });
      expect(await probe(k, null, p)).toMatchObject({ count: 7 });
      // Without a domain: the password was checked against every account, so it still counts
      // email-wide (a wrong password for everybody else); only B's own count starts again.
      const any = lease();
      expect((await store.beginAttempt(k, null, any, p)).outcome).toBe('granted');
      expect(await store.settleAttempt(k, any, { kind: 'authenticated', workspace: 'B' }, p)).toMatchObject({
        settled: true,
      });
      expect(await probe(k, 'B', p)).toMatchObject({ count: 0 });
      expect(await probe(k, 'A', p)).toMatchObject({ count: 8 });
      expect(await probe(k, 'other', p)).toMatchObject({ count: 3 });
      expect(await probe(k, null, p)).toMatchObject({ count: 8 });
      await fail(k, null, p);
      expect(await probe(k, 'B', p)).toMatchObject({ count: 1 });
      expect(await fail(k, 'A', p)).toMatchObject({ count: 10, locked: true });
      expect(await probe(k, 'A', p)).toMatchObject({ outcome: 'locked', count: 10 });
      // Without a domain only B, which logged in, still has room: such a request reaches B alone.
      expect(await probe(k, null, p)).toMatchObject({ outcome: 'granted', count: 10, only: ['B'] });
      expect(await probe(k, 'B', p)).toMatchObject({ outcome: 'granted', count: 1 });
    });

    it('a spent email-wide count still admits no-domain logins restricted to workspaces that logged in', async () => {
      const k = key('restricted');
      const p = policy(3);
      const login = async (ws: string | null, outcome: 'ok' | 'wrong', as = 'A') => {
        const id = lease();
        const b = await store.beginAttempt(k, ws, id, p);
        if (b.outcome === 'granted')
          await store.settleAttempt(
            k,
            id,
            outcome === 'ok' ? { kind: 'authenticated', workspace: as } : { kind: 'failed' },
            p,
          );
        return b;
      };
      await login(null, 'wrong');
      await login(null, 'wrong');
      await login(null, 'ok'); // the email-wide count is now 3: spent
      expect((await probe(k, 'B', p)).outcome).toBe('locked');
      for (let i = 0; i < 5; i++) {
        const r = await login(null, 'ok');
        expect(r).toMatchObject({ outcome: 'granted', only: ['A'] });
        expect(r.retryAfter).toBeGreaterThan(0);
      }
      expect((await probe(k, 'A', p)).count).toBe(0);
      // Misses count against A (and everyone), until A's own room is spent too.
      for (let i = 0; i < 3; i++) expect(await login(null, 'wrong')).toMatchObject({ outcome: 'granted', only: ['A'] });
      expect((await probe(k, null, p)).outcome).toBe('locked');
      expect((await probe(k, 'A', p)).outcome).toBe('locked');
    });

    it('unlock clears the workspace and the email-wide count (`cli user unlock`)', async () => {
      const k = key('unlock');
      const p = policy(3);
      await fail(k, 'B', p);
      await fail(k, 'A', p);
      await fail(k, null, p);
      expect(await fail(k, 'A', p)).toMatchObject({ count: 3, locked: true });
      expect((await probe(k, null, p)).outcome).toBe('locked');
      await store.unlock(k, 'A');
      expect(await probe(k, 'A', p)).toEqual({ outcome: 'granted', retryAfter: 0, count: 0 });
      expect(await probe(k, 'B', p)).toMatchObject({ outcome: 'granted', count: 1 });
      await store.unlock(k, 'B');
      expect(await probe(k, null, p)).toEqual({ outcome: 'granted', retryAfter: 0, count: 0 });
    });

    it('in-flight attempts make others wait (busy), never lock; a right password frees the slot', async () => {
      const k = key('busy');
      const p = policy(3);
      const ids = [lease(), lease(), lease()];
      for (const id of ids) expect((await store.beginAttempt(k, 'A', id, p)).outcome).toBe('granted');
      expect(await probe(k, 'A', p)).toEqual({ outcome: 'busy', retryAfter: 0, count: 0 });
      expect((await probe(k, null, p)).outcome).toBe('busy'); // could be checked against A
      expect((await probe(k, 'B', p)).outcome).toBe('granted');
      for (const id of ids)
        expect(await store.settleAttempt(k, id, { kind: 'authenticated', workspace: 'A' }, p)).toMatchObject({
          settled: true,
        });
      expect(await probe(k, 'A', p)).toEqual({ outcome: 'granted', retryAfter: 0, count: 0 });
      // No-domain leases hold a slot of every workspace.
      const all = [lease(), lease()];
      for (const id of all) expect((await store.beginAttempt(k, null, id, p)).outcome).toBe('granted');
      await fail(k, 'B', p);
      expect((await probe(k, 'B', p)).outcome).toBe('busy');
      expect((await probe(k, 'C', p)).outcome).toBe('granted');
      for (const id of all) await store.settleAttempt(k, id, { kind: 'released' }, p);
      expect(await probe(k, 'B', p)).toMatchObject({ outcome: 'granted', count: 1 });
    });

    it('a lease expires by itself (a gateway that died mid-attempt), and settling it late changes nothing', async () => {
      const k = key('lease');
      const p = policy(2, 60, 1);
      const [x, y] = [lease(), lease()];
      expect((await store.beginAttempt(k, 'A', x, p)).outcome).toBe('granted');
      expect((await store.beginAttempt(k, 'A', y, p)).outcome).toBe('granted');
      expect((await probe(k, 'A', p)).outcome).toBe('busy');
      await h.advance(1.3);
      expect(await store.settleAttempt(k, x, { kind: 'failed' }, p)).toEqual({
        settled: false,
        count: 0,
        locked: false,
      });
      expect(await probe(k, 'A', p)).toEqual({ outcome: 'granted', retryAfter: 0, count: 0 });
    });

    it('folds failures naming more than MAX_WORKSPACES workspaces into the email-wide count', async () => {
      const k = key('fold');
      const p = policy(1000);
      for (let i = 0; i < MAX_WORKSPACES; i++) await fail(k, `w${i}`, p);
      expect(await probe(k, 'w0', p)).toMatchObject({ count: 1 });
      await fail(k, 'extra', p);
      expect(await probe(k, 'w0', p)).toMatchObject({ count: 2 });
      expect(await probe(k, 'other', p)).toMatchObject({ count: 1 });
      expect(await probe(k, null, p)).toMatchObject({ count: 2 });
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

    it('takeMarker reads and deletes at once: one of many parallel takes gets the value, none after expiry', async () => {
      const [a, b, missing] = [key('take-a'), key('take-b'), key('take-none')];
      await store.setMarker(a, 'ticket-binding', 60);
      const takes = await Promise.all(Array.from({ length: 20 }, () => store.takeMarker(a)));
      expect(takes.filter((v) => v !== null)).toEqual(['ticket-binding']);
      expect(await store.getMarker(a)).toBeNull();
      expect(await store.takeMarker(a)).toBeNull();
      expect(await store.takeMarker(missing)).toBeNull();
      await store.setMarker(b, 'short', 1);
      await h.advance(1.3);
      expect(await store.takeMarker(b)).toBeNull();
    });

    it('is atomic: 30 parallel attempts with max 10 let exactly 10 through; they lock only once settled', async () => {
      const k = key('race');
      const p = policy(10);
      const ids = Array.from({ length: 30 }, () => lease());
      const begun = await Promise.all(ids.map((id, i) => store.beginAttempt(k, i % 2 ? 'A' : null, id, p)));
      expect(begun.filter((r) => r.outcome === 'granted')).toHaveLength(10);
      expect(begun.filter((r) => r.outcome === 'busy')).toHaveLength(20);
      const granted = ids.filter((_, i) => begun[i]?.outcome === 'granted');
      const settled = await Promise.all(granted.map((id) => store.settleAttempt(k, id, { kind: 'failed' }, p)));
      expect(settled.filter((r) => r.locked)).toHaveLength(1);
      expect((await probe(k, 'A', p)).outcome).toBe('locked');
      expect((await probe(k, null, p)).outcome).toBe('locked');
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
