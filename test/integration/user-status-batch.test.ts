/**
 * The hot path's user status reads against real Postgres: reads asked in the same tick share one
 * query, and each caller still gets exactly its own user's answer (disabled, unknown, upper-case
 * or malformed ids included), whatever the mix and order (fast-check).
 */
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPg, type Db } from '../../gateway/store/pg.js';
import { createUserStore, type User } from '../../gateway/store/users.js';
import { makeTenant, makeUser } from '../helpers/fixtures.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 4 });
let queries = 0;
/** The same pool, counting the queries it is given (the store runs on real Postgres either way). */
const counted: Pick<Db, 'query'> = {
  query: (...args: Parameters<Db['query']>) => {
    queries++;
    return db.query(...args);
  },
};
const users = createUserStore(counted);
let active: User[] = [];
let disabled: User;

beforeAll(async () => {
  const tenant = await makeTenant(db);
  active = await Promise.all(Array.from({ length: 5 }, () => makeUser(db, tenant)));
  disabled = await makeUser(db, tenant);
  await createUserStore(db).setStatus(disabled.id, 'disabled');
});
afterAll(() => db.close());

describe('user status reads', () => {
  it('reads asked together go out as one query', async () => {
    queries = 0;
    const answers = await Promise.all([...active, disabled].map((u) => users.statusOf(u.id)));
    expect(queries).toBe(1);
    expect(answers.map((a) => a?.status)).toEqual([...active.map(() => 'active'), 'disabled']);
  });

  it('every caller gets its own user, in any mix of known, unknown, upper-case and malformed ids', async () => {
    const id = fc.oneof(
      fc.constantFrom(...active.map((u) => u.id), disabled.id),
      fc.constantFrom(...active.map((u) => u.id.toUpperCase())),
      fc.constant(randomUUID()),
      fc.constantFrom('not-a-uuid', '', "'; DROP TABLE users; --"),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(id, { minLength: 1, maxLength: 40 }), async (ids) => {
        const together = await Promise.all(ids.map((x) => users.statusOf(x)));
        for (const [i, x] of ids.entries()) {
          const known = [...active, disabled].find((u) => u.id === x.toLowerCase());
          expect(together[i]?.status).toBe(known ? (known === disabled ? 'disabled' : 'active') : undefined);
          if (known) expect(together[i]?.passwordChangedAt.getTime()).toBe(known.passwordChangedAt.getTime());
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a failed query fails the reads it carried, and later reads work again', async () => {
    const broken = createUserStore({ query: () => Promise.reject(new Error('connection lost')) });
    await expect(Promise.all([broken.statusOf(active[0]!.id), broken.statusOf(disabled.id)])).rejects.toThrow(
      'connection lost',
    );
    expect((await users.statusOf(disabled.id))?.status).toBe('disabled');
  });
});
