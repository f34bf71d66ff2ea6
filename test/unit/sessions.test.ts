/**
 * Session checks on the hot path (docs/api.md, docs/benchmark.md): requests that miss the cache together share
 * one store read, and a logout or password change made while a read is out is never overwritten
 * by that older read, nor joined by a request that came after it; a change to another user (every
 * gateway hears every user's) neither evicts this user's cached answers nor spoils their reads.
 */
import { describe, expect, it } from 'vitest';
import { createSessions } from '../../gateway/auth/sessions.js';
import type { TokenClaims } from '../../gateway/auth/types.js';
import { manualClock } from '../../gateway/clock.js';
import { createLogger } from '../../gateway/ops/logger.js';
import { createMemoryStateStore } from '../../gateway/store/memory.js';
import type { AuthStateStore } from '../../gateway/store/state.js';
import type { UserStore } from '../../gateway/store/users.js';

const USER = '7a2b3c4d-aaaa-4bbb-8ccc-ddddeeeeffff';
const OTHER = '11111111-aaaa-4bbb-8ccc-ddddeeeeffff';
const log = createLogger({ level: 'silent', format: 'json' });

/** `pushed`: the revocation push is up, so answers are cached 30 s (as on a gateway with Redis and Postgres). */
function setup(pushed = false) {
  const clock = manualClock(Date.UTC(2026, 6, 1, 12));
  const memory = createMemoryStateStore(clock);
  let markerReads = 0;
  let statusReads = 0;
  let gate: Promise<void> | null = null;
  // The real in-process store, with reads that can be held open to stage a race.
  const state: AuthStateStore = {
    ...memory,
    async getMarkers(keys) {
      markerReads += 1;
      const values = await memory.getMarkers(keys);
      if (gate) await gate;
      return values;
    },
  };
  const users = {
    async statusOf() {
      statusReads += 1;
      if (gate) await gate;
      return { status: 'active' as const, mustChangePassword: false, passwordChangedAt: new Date(0) };
    },
  } as unknown as UserStore;
  const sessions = createSessions({ state, users, log }, { clock, pushUp: () => pushed, pushedCacheMs: 30_000 });
  const iat = Math.floor(clock.now() / 1000) - 60;
  const claims: TokenClaims = {
    tid: USER,
    sub: USER,
    email: 'a@b.test',
    role: 'agent',
    jti: 'jti-1',
    iat,
    exp: iat + 3600,
  };
  let release = () => {};
  return {
    clock,
    memory,
    sessions,
    claims,
    reads: () => ({ markerReads, statusReads }),
    hold() {
      gate = new Promise<void>((resolve) => (release = resolve));
    },
    release() {
      gate = null;
      release();
    },
  };
}

describe('sessions', () => {
  it('sends one store read for many concurrent checks of one token, then serves from cache', async () => {
    const s = setup();
    s.hold();
    const pending = Array.from({ length: 20 }, () => s.sessions.check(s.claims));
    s.release();
    const verdicts = await Promise.all(pending);
    expect(verdicts.every((v) => v.verdict === 'ok')).toBe(true);
    expect(s.reads()).toEqual({ markerReads: 1, statusReads: 1 });
    await s.sessions.check(s.claims);
    expect(s.reads()).toEqual({ markerReads: 1, statusReads: 1 });
    s.clock.advance(5_000);
    await s.sessions.check(s.claims);
    expect(s.reads()).toEqual({ markerReads: 2, statusReads: 2 });
  });

  it('a logout during a read is not overwritten by that read', async () => {
    const s = setup();
    s.hold();
    const before = s.sessions.check(s.claims);
    await s.sessions.revoke(s.claims);
    s.release();
    await before;
    expect((await s.sessions.check(s.claims)).verdict).toBe('revoked');
  });

  it('a check after a password change does not join a read that started before it', async () => {
    const s = setup();
    s.clock.advance(3_000); // nothing cached yet either way
    s.hold();
    const before = s.sessions.check(s.claims);
    await s.sessions.invalidateBefore(USER, s.clock.now(), 3600);
    const after = s.sessions.check(s.claims);
    s.release();
    await before;
    expect((await after).verdict).toBe('stale');
    expect((await s.sessions.check(s.claims)).verdict).toBe('stale');
  });

  it('checkCached answers like check() only while both cached answers are fresh, and sees a local logout at once', async () => {
    const t = setup();
    expect(t.sessions.checkCached(t.claims)).toBeNull();
    const first = await t.sessions.check(t.claims);
    expect(first.verdict).toBe('ok');
    expect(t.sessions.checkCached(t.claims)).toEqual(first);
    const reads = t.reads();
    expect(t.sessions.checkCached(t.claims)).toEqual(first);
    expect(t.reads()).toEqual(reads);
    // The revocation answer ages out after 2 s: the hot path must go back to the store.
    t.clock.advance(2_000);
    expect(t.sessions.checkCached(t.claims)).toBeNull();
    expect((await t.sessions.check(t.claims)).verdict).toBe('ok');
    await t.sessions.revoke(t.claims);
    expect(t.sessions.checkCached(t.claims)?.verdict).toBe('revoked');
  });

  it('refresh-ahead: a use in the last fifth of the lifetime answers from cache and re-reads once in the background', async () => {
    const t = setup(true);
    await t.sessions.check(t.claims);
    const reads = t.reads();
    t.clock.advance(20_000); // two thirds of the 30 s: nothing read
    expect(t.sessions.checkCached(t.claims)?.verdict).toBe('ok');
    expect(t.reads()).toEqual(reads);
    // A revocation written behind the gateway's back (no push): seen within the lifetime, not after it.
    await t.memory.setMarker(`revoked:${t.claims.jti}`, '1', 600);
    t.clock.advance(5_000); // 25 s of 30
    expect(t.sessions.checkCached(t.claims)?.verdict).toBe('ok');
    expect(t.sessions.checkCached(t.claims)?.verdict).toBe('ok');
    await new Promise((r) => setImmediate(r));
    expect(t.reads()).toEqual({ markerReads: reads.markerReads + 1, statusReads: reads.statusReads + 1 });
    expect(t.sessions.checkCached(t.claims)?.verdict).toBe('revoked');
  });

  it("another user's changes leave this user's cached answers alone; this user's own do not", async () => {
    const t = setup(true);
    await t.sessions.check(t.claims);
    const otherClaims = { ...t.claims, sub: OTHER, jti: 'jti-other' };
    await t.sessions.check(otherClaims);
    const reads = t.reads();
    t.sessions.apply({ kind: 'user', userId: OTHER });
    t.sessions.apply({ kind: 'jti', jti: 'jti-9', userId: OTHER });
    await t.sessions.invalidateBefore(OTHER, t.clock.now(), 3600);
    t.sessions.forgetUser(OTHER);
    expect(t.sessions.checkCached(t.claims)?.verdict).toBe('ok');
    expect(t.reads()).toEqual(reads);
    expect(t.sessions.checkCached(otherClaims)).toBeNull();
    t.sessions.apply({ kind: 'user', userId: USER });
    expect(t.sessions.checkCached(t.claims)).toBeNull();
  });

  it('a read out while another user changes is still cached; one out while this user changes is not', async () => {
    const t = setup(true);
    t.hold();
    const before = t.sessions.check(t.claims);
    t.sessions.apply({ kind: 'user', userId: OTHER });
    t.release();
    await before;
    expect(t.sessions.checkCached(t.claims)?.verdict).toBe('ok');
    t.clock.advance(31_000); // the cached answers age out even while pushed
    t.hold();
    const again = t.sessions.check(t.claims);
    t.sessions.apply({ kind: 'session', sid: '22222222-aaaa-4bbb-8ccc-ddddeeeeffff', userId: USER });
    t.release();
    expect((await again).verdict).toBe('ok');
    expect(t.sessions.checkCached(t.claims)).toBeNull();
  });
});
