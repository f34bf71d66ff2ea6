/**
 * Revocation push on one instance: the wire format refuses anything that is not an event, cache
 * lifetimes are long only while the push is up (and fall back at once when it drops), a pushed
 * event replaces the cached answer at once, a reconnect forgets everything, and a session id
 * that is unknown or another user's is refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent, type RevocationEvent } from '../../gateway/store/revocation-bus.js';
import { createSessions } from '../../gateway/auth/sessions.js';
import type { TokenClaims } from '../../gateway/auth/types.js';
import { manualClock } from '../../gateway/clock.js';
import { createLogger } from '../../gateway/ops/logger.js';
import { createDispatcher } from '../../gateway/routes/table.js';
import { createMemoryStateStore } from '../../gateway/store/memory.js';
import type { SessionStore } from '../../gateway/store/sessions.js';
import type { UserStore } from '../../gateway/store/users.js';
import type { RequestContext } from '../../gateway/http/context.js';

const USER = '7a2b3c4d-aaaa-4bbb-8ccc-ddddeeeeffff';
const OTHER = '11111111-aaaa-4bbb-8ccc-ddddeeeeffff';
const SID = '22222222-aaaa-4bbb-8ccc-ddddeeeeffff';
const log = createLogger({ level: 'silent', format: 'json' });

describe('wire format', () => {
  it('round-trips every event kind', () => {
    const events: RevocationEvent[] = [
      { kind: 'jti', jti: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', userId: USER },
      { kind: 'session', sid: SID, userId: USER },
      { kind: 'user', userId: USER },
      { kind: 'node', nodeId: OTHER },
    ];
    for (const e of events) expect(decodeEvent(encodeEvent(e, 'me'))).toEqual({ origin: 'me', event: e });
  });

  it('never throws on junk and accepts nothing that is not an event', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (payload) => {
        const decoded = decodeEvent(payload);
        return decoded === null || ['jti', 'session', 'user', 'node'].includes(decoded.event.kind);
      }),
      { numRuns: 300 },
    );
    expect(decodeEvent('{"e":{"kind":"user","userId":"x"}}')).toBeNull();
    expect(decodeEvent('{"e":{"kind":"session","sid":"not a uuid","userId":"' + USER + '"}}')).toBeNull();
    expect(decodeEvent('null')).toBeNull();
  });
});

function setup() {
  const clock = manualClock(Date.UTC(2026, 6, 1, 12));
  let up = true;
  let statusReads = 0;
  let sessionRow: { userId: string; revoked: boolean; expiresAt: Date } | null = {
    userId: USER,
    revoked: false,
    expiresAt: new Date(clock.now() + 3_600_000),
  };
  const users = {
    async statusOf() {
      statusReads += 1;
      return { status: 'active' as const, mustChangePassword: false, passwordChangedAt: new Date(0) };
    },
  } as unknown as UserStore;
  const sessionStore: Pick<SessionStore, 'statusOf'> = { statusOf: async () => sessionRow };
  const sessions = createSessions(
    { state: createMemoryStateStore(clock), users, sessionStore, log },
    { clock, pushUp: () => up, pushedCacheMs: 30_000 },
  );
  const iat = Math.floor(clock.now() / 1000) - 60;
  const claims: TokenClaims = {
    tid: USER,
    sub: USER,
    email: 'a@b.test',
    role: 'agent',
    jti: 'jti-1',
    iat,
    exp: iat + 3600,
    sid: SID,
  };
  return {
    clock,
    sessions,
    claims,
    statusReads: () => statusReads,
    setUp: (v: boolean) => (up = v),
    setRow: (r: typeof sessionRow) => (sessionRow = r),
  };
}

describe('session checks with the push', () => {
  it('keeps answers 30 s while pushed and only the short lifetime once the push is down', async () => {
    const t = setup();
    expect((await t.sessions.check(t.claims)).verdict).toBe('ok');
    t.clock.advance(20_000);
    expect(t.sessions.checkCached(t.claims)?.verdict).toBe('ok'); // still cached: pushed
    t.setUp(false);
    expect(t.sessions.checkCached(t.claims)).toBeNull(); // older than the short lifetime: re-read
    const reads = t.statusReads();
    await t.sessions.check(t.claims);
    expect(t.statusReads()).toBe(reads + 1);
  });

  it('a pushed session revocation is refused at once although the cached answer was "ok"', async () => {
    const t = setup();
    expect((await t.sessions.check(t.claims)).verdict).toBe('ok');
    t.sessions.apply({ kind: 'session', sid: SID, userId: USER });
    expect(t.sessions.checkCached(t.claims)?.verdict).toBe('revoked');
    t.sessions.apply({ kind: 'jti', jti: 'jti-2', userId: USER });
    expect((await t.sessions.check({ ...t.claims, jti: 'jti-2', sid: undefined })).verdict).toBe('revoked');
  });

  it('a user event and a reconnect make the next check read the stores again', async () => {
    const t = setup();
    await t.sessions.check(t.claims);
    t.setRow({ userId: USER, revoked: true, expiresAt: new Date(t.clock.now() + 3_600_000) });
    expect(t.sessions.checkCached(t.claims)?.verdict).toBe('ok'); // not told yet
    t.sessions.apply({ kind: 'user', userId: USER });
    expect((await t.sessions.check(t.claims)).verdict).toBe('revoked');
    t.setRow({ userId: USER, revoked: false, expiresAt: new Date(t.clock.now() + 3_600_000) });
    const other = { ...t.claims, sid: OTHER };
    t.setRow(null);
    expect((await t.sessions.check(other)).verdict).toBe('revoked'); // unknown session
    t.setRow({ userId: OTHER, revoked: false, expiresAt: new Date(t.clock.now() + 3_600_000) });
    t.sessions.forgetAll();
    expect((await t.sessions.check(other)).verdict).toBe('revoked'); // another user's session
  });

  it('a session past its absolute end is refused; a token without sid is not checked against sessions', async () => {
    const t = setup();
    t.setRow({ userId: USER, revoked: false, expiresAt: new Date(t.clock.now() + 1_000) });
    expect((await t.sessions.check(t.claims)).verdict).toBe('ok');
    t.clock.advance(1_500);
    expect(t.sessions.checkCached(t.claims)?.verdict).toBe('revoked');
    t.setRow(null);
    expect((await t.sessions.check({ ...t.claims, sid: undefined })).verdict).toBe('ok');
  });
});

describe('dispatcher parameter segment', () => {
  it('routes /a/{id} after exact paths, with 405 for other methods', async () => {
    const seen: string[] = [];
    const dispatch = createDispatcher({
      'GET /x/sessions': async () => void seen.push('list'),
      'DELETE /x/sessions/{id}': async (ctx) => void seen.push(`delete ${ctx.path}`),
    });
    const ctx = (method: string, path: string) =>
      ({ req: { method }, res: { setHeader: () => {} }, path }) as unknown as RequestContext;
    await dispatch(ctx('GET', '/x/sessions'));
    await dispatch(ctx('DELETE', '/x/sessions/abc'));
    await expect(dispatch(ctx('GET', '/x/sessions/abc'))).rejects.toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
    await expect(dispatch(ctx('DELETE', '/x/sessions/abc/def'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(seen).toEqual(['list', 'delete /x/sessions/abc']);
  });
});

describe('session last_seen_at batching', () => {
  it('queues a session at most once a minute and writes the queue in one statement', async () => {
    const { createSessionActivity } = await import('../../gateway/auth/session-activity.js');
    const clock = manualClock(Date.UTC(2026, 6, 1, 12));
    const writes: string[][] = [];
    const activity = createSessionActivity(
      { store: { touch: async (ids) => void writes.push([...ids]) }, log, clock },
      { intervalMs: 60_000, flushMs: 3_600_000 },
    );
    for (let i = 0; i < 100; i++) activity.seen(SID);
    activity.seen(OTHER);
    await activity.flush();
    expect(writes).toEqual([[SID, OTHER]]);
    clock.advance(30_000);
    activity.seen(SID);
    await activity.flush();
    expect(writes).toHaveLength(1); // within the minute: nothing new
    clock.advance(31_000);
    activity.seen(SID);
    await activity.close();
    expect(writes).toEqual([[SID, OTHER], [SID]]);
  });
});
