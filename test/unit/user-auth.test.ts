/**
 * User authentication: where the token is read from (Bearer header, `?token=` on upgrades) and
 * token + session verification on the real token service, the in-process state store, an
 * injected clock and the user rows of a database of its own.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessions } from '../../gateway/auth/sessions.js';
import { createTokenService } from '../../gateway/auth/tokens.js';
import {
  bearerToken,
  createUserAuthenticator,
  requireUser,
  toUserIdentity,
  upgradeToken,
} from '../../gateway/auth/user-auth.js';
import { loadConfig } from '../../gateway/config/index.js';
import { GatewayError } from '../../gateway/errors.js';
import { createMemoryStateStore } from '../../gateway/store/memory.js';
import { createPg, type Db } from '../../gateway/store/pg.js';
import { createUserStore } from '../../gateway/store/users.js';
import { APP_JWT_SECRET, freshDatabase, startProbe, testClock, fastUser } from '../helpers/app.js';
import { makeTenant } from '../helpers/fixtures.js';

describe('bearerToken / upgradeToken on real requests', () => {
  let probe: Awaited<ReturnType<typeof startProbe>>;
  beforeAll(async () => {
    probe = await startProbe((req, res) => {
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      res.end(JSON.stringify({ bearer: bearerToken(req), upgrade: upgradeToken(req, query) }));
    });
  });
  afterAll(() => probe?.close());
  const read = async (path: string, authorization?: string) =>
    (await fetch(probe.url + path, { headers: authorization ? { authorization } : {} })).json() as Promise<{
      bearer: string | null;
      upgrade: string | null;
    }>;

  it.each([
    ['Bearer abc.def-_~+/=', 'abc.def-_~+/='],
    ['bearer abc', 'abc'],
    ['BEARER   abc  ', 'abc'],
    ['Bearer', null],
    ['Bearer a b', null],
    ['Basic abc', null],
    ['Bearer abc"', null],
  ])('%j → %j', async (header, token) => {
    expect((await read('/', header)).bearer).toBe(token);
  });

  it('upgrade: the query token, the header, or both when equal', async () => {
    expect((await read('/?token=q1')).upgrade).toBe('q1');
    expect((await read('/', 'Bearer h1')).upgrade).toBe('h1');
    expect((await read('/?token=same', 'Bearer same')).upgrade).toBe('same');
  });

  it('upgrade: two different tokens, two query tokens or an empty one are no token', async () => {
    expect((await read('/?token=a', 'Bearer b')).upgrade).toBeNull();
    expect((await read('/?token=a&token=a')).upgrade).toBeNull();
    expect((await read('/?token=')).upgrade).toBeNull();
  });
});

describe('createUserAuthenticator', () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let db: Db;
  const clock = testClock();
  const failures: string[] = [];
  let auth: ReturnType<typeof createUserAuthenticator>;
  let tokens: ReturnType<typeof createTokenService>;
  let sessions: ReturnType<typeof createSessions>;

  beforeAll(async () => {
    database = await freshDatabase();
    db = createPg({ url: database.url, poolSize: 2 });
    const config = loadConfig({ AUTH_JWT_SECRET: APP_JWT_SECRET });
    tokens = createTokenService({ ...config.jwt, secret: APP_JWT_SECRET }, { clock });
    sessions = createSessions(
      { state: createMemoryStateStore(clock), users: createUserStore(db), log: pino({ level: 'silent' }) },
      { clock, statusCacheMs: 0, revocationCacheMs: 0 },
    );
    auth = createUserAuthenticator({ tokens, sessions, onFailure: (r) => failures.push(r) });
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  const mintFor = async (user: { id: string; tenantId: string; email: string; role: 'agent' }) =>
    (await tokens.mint({ userId: user.id, tenantId: user.tenantId, email: user.email, role: user.role })).token;

  it('a fresh token of an active user authenticates, and again from the caches', async () => {
    const user = await fastUser(db, await makeTenant(db));
    const token = await mintFor({ ...user, role: 'agent' });
    const first = await auth.authenticate(token, async (u) => u);
    expect(first?.claims.sub).toBe(user.id);
    expect(first?.mustChangePassword).toBe(false);
    expect((await auth.authenticate(token, async (u) => u))?.claims.sub).toBe(user.id);
    expect(toUserIdentity(first!.claims)).toMatchObject({
      kind: 'user',
      userId: user.id,
      tenantId: user.tenantId,
      homeTenantId: user.tenantId,
    });
  });

  it('no token, a malformed one and a forged one are null with a reason, never a throw', async () => {
    failures.length = 0;
    expect(await auth.authenticate(null, async (u) => u)).toBeNull();
    expect(await auth.authenticate('x.y.z', async (u) => u)).toBeNull();
    const user = await fastUser(db, await makeTenant(db));
    const token = await mintFor({ ...user, role: 'agent' });
    expect(
      await auth.authenticate(token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA'), async (u) => u),
    ).toBeNull();
    expect(failures[0]).toBe('missing');
    expect(failures.length).toBe(3);
  });

  it('revoked (logout), disabled and expired tokens are refused', async () => {
    const tenant = await makeTenant(db);
    const a = await fastUser(db, tenant);
    const ta = await mintFor({ ...a, role: 'agent' });
    const claims = (await auth.authenticate(ta, async (u) => u))!.claims;
    await sessions.revoke(claims);
    expect(await auth.authenticate(ta, async (u) => u)).toBeNull();

    const b = await fastUser(db, tenant);
    const tb = await mintFor({ ...b, role: 'agent' });
    await createUserStore(db).setStatus(b.id, 'disabled');
    sessions.forgetUser(b.id);
    expect(await auth.authenticate(tb, async (u) => u)).toBeNull();

    const c = await fastUser(db, tenant);
    const tc = await mintFor({ ...c, role: 'agent' });
    clock.advance(13 * 3600 * 1000);
    try {
      expect(await auth.authenticate(tc, async (u) => u)).toBeNull();
    } finally {
      clock.advance(-13 * 3600 * 1000);
    }
  });

  it('must_change_password is carried, not refused', async () => {
    const user = await fastUser(db, await makeTenant(db), { mustChangePassword: true });
    expect(
      (await auth.authenticate(await mintFor({ ...user, role: 'agent' }), async (u) => u))?.mustChangePassword,
    ).toBe(true);
  });

  it('requireUser throws UNAUTHENTICATED for no user', async () => {
    const err = await requireUser(auth, null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('UNAUTHENTICATED');
  });
});
