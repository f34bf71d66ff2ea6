/**
 * Lockout and per-IP throttle on the in-process state store with an injected clock: the answers
 * depend on the sequence of requests only (docs/security-model.md, "Lockout").
 */
import { describe, expect, it } from 'vitest';
import { createLockout, type Lockout } from '../../gateway/auth/lockout.js';
import { GatewayError } from '../../gateway/errors.js';
import { createMemoryStateStore } from '../../gateway/store/memory.js';
import { testClock } from '../helpers/app.js';

function setup(max = 3, seconds = 60, ipLimit = 3) {
  const clock = testClock();
  clock.freeze(1_800_000_000_000);
  const lockout = createLockout(
    { state: createMemoryStateStore(clock), clock },
    { maxAttempts: max, seconds },
    { limit: ipLimit, windowSeconds: 30 },
    { waitMs: 0 },
  );
  return { clock, lockout };
}

async function codeOf(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (err) {
    return err instanceof GatewayError ? err.code : 'not a GatewayError';
  }
}

async function failTimes(lockout: Lockout, email: string, workspace: string | null, n: number) {
  let last = { count: 0, locked: false };
  for (let i = 0; i < n; i++) last = await (await lockout.begin(email, workspace)).fail();
  return last;
}

describe('createLockout', () => {
  it('counts failures and locks on the last allowed one', async () => {
    const { lockout } = setup();
    expect(await failTimes(lockout, 'a@x.test', 't1', 2)).toEqual({ count: 2, locked: false });
    expect(await failTimes(lockout, 'a@x.test', 't1', 1)).toEqual({ count: 3, locked: true });
    const err = await lockout.begin('a@x.test', 't1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('ACCOUNT_LOCKED');
    expect((err as GatewayError).retryAfter).toBeGreaterThan(0);
  });

  it('the email is compared case- and space-insensitively', async () => {
    const { lockout } = setup();
    await failTimes(lockout, 'A@X.test ', 't1', 3);
    expect(await codeOf(lockout.begin('a@x.test', 't1'))).toBe('ACCOUNT_LOCKED');
  });

  it('opens again once the window has passed on the clock', async () => {
    const { lockout, clock } = setup();
    await failTimes(lockout, 'b@x.test', 't1', 3);
    clock.advance(59_000);
    expect(await codeOf(lockout.begin('b@x.test', 't1'))).toBe('ACCOUNT_LOCKED');
    clock.advance(2_000);
    expect(await codeOf(lockout.begin('b@x.test', 't1').then((a) => a.release()))).toBeNull();
  });

  it("one workspace's failures do not lock another workspace", async () => {
    const { lockout } = setup();
    await failTimes(lockout, 'c@x.test', 't1', 3);
    expect(await codeOf(lockout.begin('c@x.test', 't2').then((a) => a.release()))).toBeNull();
  });

  it('a success restarts only its own workspace count', async () => {
    const { lockout } = setup();
    await failTimes(lockout, 'd@x.test', 't1', 2);
    await failTimes(lockout, 'd@x.test', 't2', 2);
    await (await lockout.begin('d@x.test', 't1')).succeed('t1');
    expect((await failTimes(lockout, 'd@x.test', 't1', 1)).count).toBe(1);
    expect(await failTimes(lockout, 'd@x.test', 't2', 1)).toEqual({ count: 3, locked: true });
  });

  it('a released attempt counts nothing', async () => {
    const { lockout } = setup();
    for (let i = 0; i < 5; i++) (await lockout.begin('e@x.test', 't1')).release();
    expect((await failTimes(lockout, 'e@x.test', 't1', 1)).count).toBe(1);
  });

  it('unlock clears the tenant count', async () => {
    const { lockout } = setup();
    await failTimes(lockout, 'f@x.test', 't1', 3);
    await lockout.unlock('f@x.test', 't1');
    expect(await codeOf(lockout.begin('f@x.test', 't1').then((a) => a.release()))).toBeNull();
  });

  it('every slot held by attempts in flight: 503 after the wait, not a lock', async () => {
    const { lockout } = setup(2);
    await lockout.begin('g@x.test', 't1');
    await lockout.begin('g@x.test', 't1');
    expect(await codeOf(lockout.begin('g@x.test', 't1'))).toBe('SERVICE_UNAVAILABLE');
  });

  it('an attempt settled after its lease expired tells nothing: 503', async () => {
    const { lockout, clock } = setup();
    const attempt = await lockout.begin('h@x.test', 't1');
    clock.advance(31_000);
    expect(await codeOf(attempt.fail())).toBe('SERVICE_UNAVAILABLE');
  });

  it('per-IP throttle: 429 with Retry-After at the limit, per scope, until the window passes', async () => {
    const { lockout, clock } = setup(3, 60, 2);
    await lockout.failIp('login', '203.0.113.1');
    expect(await codeOf(lockout.checkIp('login', '203.0.113.1'))).toBeNull();
    await lockout.failIp('login', '203.0.113.1');
    const err = await lockout.checkIp('login', '203.0.113.1').catch((e: unknown) => e as GatewayError);
    expect(err).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect((err as GatewayError).retryAfter).toBeGreaterThan(0);
    expect(await codeOf(lockout.checkIp('node', '203.0.113.1'))).toBeNull();
    expect(await codeOf(lockout.checkIp('login', '203.0.113.2'))).toBeNull();
    clock.advance(31_000);
    expect(await codeOf(lockout.checkIp('login', '203.0.113.1'))).toBeNull();
  });

  it('refuses a nonsensical timing', () => {
    const clock = testClock();
    expect(() =>
      createLockout(
        { state: createMemoryStateStore(clock), clock },
        { maxAttempts: 1, seconds: 1 },
        { limit: 1, windowSeconds: 1 },
        { leaseSeconds: 0 },
      ),
    ).toThrow(RangeError);
  });
});
