/**
 * The TOTP replay guard against attacker-ordered submissions (RFC 6238 §5.2: a verifier must not
 * accept the same OTP twice): real Postgres (the sealed secret) and real Redis (last accepted step),
 * a clock the property moves. Model: a code is accepted iff its step is within ±1 of now and later
 * than every step accepted before.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { manualClock } from '../../gateway/clock.js';
import { createSecretBox } from '../../gateway/auth/mfa-crypto.js';
import { createMfaService } from '../../gateway/auth/mfa.js';
import { hotp, newTotpSecret } from '../../gateway/auth/totp.js';
import { createMfaStore } from '../../gateway/store/mfa.js';
import { createPg } from '../../gateway/store/pg.js';
import { createRedisClient, createRedisStateStore, type RedisClient } from '../../gateway/store/redis.js';
import { makeTenant, makeUser } from '../helpers/fixtures.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let client: RedisClient;

beforeAll(() => {
  const prefix = `${inject('redisPrefix')}mfa-replay:${randomBytes(4).toString('hex')}:`;
  client = createRedisClient({ url: inject('redisUrl'), keyPrefix: prefix });
});

afterAll(async () => {
  client.disconnect();
  await db.close();
});

describe('TOTP replay guard (property)', () => {
  it('accepts each code once, never an older step, whatever the order and timing', async () => {
    const tenant = await makeTenant(db);
    const store = createMfaStore(db);
    const box = createSecretBox('p'.repeat(40));
    const action = fc.record({
      advanceSeconds: fc.integer({ min: 0, max: 45 }),
      offset: fc.integer({ min: -2, max: 2 }),
      twice: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 8 }), async (actions) => {
        const user = await makeUser(db, tenant, { passwordHash: 'not-a-real-hash' });
        const secret = newTotpSecret();
        const sealed = box.seal(secret, user.id);
        await store.setPending(user.id, sealed);
        await store.enable(user.id, sealed, []);
        const clock = manualClock(1_700_000_000_000);
        const mfa = createMfaService({ store, box, state: createRedisStateStore(client, ''), clock });
        let last = -Infinity;
        for (const a of actions) {
          clock.advance(a.advanceSeconds * 1000);
          const now = Math.floor(clock.now() / 30_000);
          const step = now + a.offset;
          const code = hotp(secret, step);
          // Two instances racing with the same code: at most one acceptance.
          const tries = a.twice
            ? await Promise.all([mfa.check(user.id, code), mfa.check(user.id, code)])
            : [await mfa.check(user.id, code)];
          const accepted = tries.filter((t) => t === 'totp').length;
          const expected = Math.abs(a.offset) <= 1 && step > last ? 1 : 0;
          expect(accepted).toBe(expected);
          if (accepted) last = step;
        }
      }),
      { numRuns: 25 },
    );
  });
});
