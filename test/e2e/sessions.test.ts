/**
 * Sessions, refresh-token rotation and revocation push (docs/api.md), against two
 * real gateway processes on one Postgres and one Redis: reuse detection and racing refreshes
 * across instances, logout of every session, session list/delete, junk refresh bodies, and how
 * fast a revocation on one instance reaches the other (pushed; and with the push channel killed).
 */
import { generateKeyPairSync } from 'node:crypto';
import { Redis } from 'ioredis';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { createPg } from '../../gateway/store/pg.js';
import { createUserStore } from '../../gateway/store/users.js';
import { call, makeTenant, makeUser } from '../helpers/fixtures.js';
import { startGateway, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let a: GatewayProcess;
let b: GatewayProcess;
let upstream: TestUpstream;

beforeAll(async () => {
  upstream = await startTestUpstream();
  const signingKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const env = {
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `${inject('redisPrefix')}sessions:`,
    AUTH_JWT_SECRET: 'sessions-test-secret-sessions-test-0123',
    IDENTITY_SIGNING_KEY: signingKey,
    AUTH_LOGIN_IP_LIMIT: '100000',
    UPSTREAM_URL: upstream.url,
    SHUTDOWN_GRACE_SECONDS: '1',
  };
  [a, b] = await Promise.all([startGateway(env), startGateway(env)]);
  // Both instances hear pushes before the timing tests start.
  await Promise.all(
    [a, b].map((gw) => waitFor(() => gw.output().includes('revocation push: subscribed'), { what: 'subscription' })),
  );
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await upstream?.stop();
  await db.close();
});

const login = async (gw: GatewayProcess, user: { email: string; password: string }, ua = 'vitest') => {
  const res = await call(`${gw.url}/api/v1/auth/login`, {
    method: 'POST',
    json: { email: user.email, password: user.password },
    headers: { 'user-agent': ua },
  });
  expect(res.status).toBe(200);
  return res.body.data as { token: string; refresh_token: string; refresh_expires_at: string; expires_at: string };
};
const refresh = (gw: GatewayProcess, refreshToken: unknown) =>
  call(`${gw.url}/api/v1/auth/refresh`, { method: 'POST', json: { refresh_token: refreshToken } });
const me = (gw: GatewayProcess, token: string) => call(`${gw.url}/api/v1/auth/me`, { token });
const proxied = (gw: GatewayProcess, token: string) => call(`${gw.url}/api/v1/calls`, { token });
const sidOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).sid as string;

async function freshUser() {
  const tenant = await makeTenant(db);
  return makeUser(db, tenant);
}

/** Polls `probe` every 5 ms; resolves with the ms until it held (fails past `limitMs`). */
async function msUntil(probe: () => Promise<boolean>, limitMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await probe()) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('refresh tokens', () => {
  it('login returns a refresh token and a sid-bearing access token; refresh rotates it on any instance', async () => {
    const user = await freshUser();
    const first = await login(a, user);
    expect(first.refresh_token).toMatch(/^g2dr_[A-Za-z0-9_-]{43}$/);
    expect(first.refresh_expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const sid = sidOf(first.token);
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);
    const { rows } = await db.query<{ refresh_hash: string }>('SELECT refresh_hash FROM sessions WHERE id = $1', [sid]);
    expect(rows[0]!.refresh_hash).toMatch(/^[0-9a-f]{64}$/); // a digest, never the token
    expect(JSON.stringify(rows)).not.toContain(first.refresh_token);

    const res = await refresh(b, first.refresh_token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(res.body.data).sort()).toEqual([
      'expires_at',
      'refresh_expires_at',
      'refresh_token',
      'token',
      'user',
    ]);
    expect(res.body.data.user.id).toBe(user.id);
    expect(res.body.data.refresh_token).not.toBe(first.refresh_token);
    expect(sidOf(res.body.data.token)).toBe(sid);
    expect((await me(a, res.body.data.token)).status).toBe(200);
    expect((await refresh(a, res.body.data.refresh_token)).status).toBe(200);
  });

  it('a spent refresh token presented again ends the whole session on every instance (audit refresh_reuse)', async () => {
    const user = await freshUser();
    const first = await login(a, user);
    const rotated = (await refresh(a, first.refresh_token)).body.data;
    expect((await proxied(b, rotated.token)).status).toBe(200);
    const reuse = await refresh(b, first.refresh_token);
    expect(reuse.status).toBe(401);
    expect(reuse.body).toEqual({ status: 'error', message: 'invalid refresh token' });
    expect(reuse.headers.get('www-authenticate')).toMatch(/^Bearer/);
    // The thief's and the victim's copies are dead alike, on both instances, at once.
    for (const gw of [a, b]) {
      expect((await proxied(gw, rotated.token)).status).toBe(401);
      expect((await proxied(gw, first.token)).status).toBe(401);
    }
    expect((await refresh(a, rotated.refresh_token)).status).toBe(401);
    await waitFor(
      async () =>
        (await db.query("SELECT 1 FROM auth_events WHERE event = 'refresh_reuse' AND user_id = $1", [user.id]))
          .rowCount === 1,
      { what: 'audit row' },
    );
  });

  it('two refreshes of one token racing on two instances: exactly one succeeds', async () => {
    for (let round = 0; round < 5; round++) {
      const user = await freshUser();
      const first = await login(a, user);
      const results = await Promise.all([refresh(a, first.refresh_token), refresh(b, first.refresh_token)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    }
  });

  it('whatever order refresh tokens of one session are presented in, on either instance, the outcome follows the rotation model', async () => {
    // The attacker (holding a copy of some earlier token) chooses the order: presenting the current
    // token rotates it; presenting any spent one ends the session for good; nothing else succeeds.
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ pick: fc.nat(), onB: fc.boolean() }), { minLength: 1, maxLength: 6 }),
        async (ops) => {
          const user = await freshUser();
          const first = await login(a, user);
          const issued = [first.refresh_token];
          let access = first.token;
          let alive = true;
          for (const op of ops) {
            const j = op.pick % issued.length;
            const res = await refresh(op.onB ? b : a, issued[j]);
            if (alive && j === issued.length - 1) {
              if (res.status !== 200) return false;
              issued.push(res.body.data.refresh_token);
              access = res.body.data.token;
            } else {
              if (res.status !== 401) return false;
              alive = false;
            }
          }
          const statuses = await Promise.all([proxied(a, access), proxied(b, access)]);
          return statuses.every((r) => r.status === (alive ? 200 : 401));
        },
      ),
      { numRuns: 8 },
    );
  });

  it('a disabled user, a revoked session and a password change end refresh', async () => {
    const disabled = await freshUser();
    const s1 = await login(a, disabled);
    await createUserStore(db).setStatus(disabled.id, 'disabled');
    expect((await refresh(b, s1.refresh_token)).status).toBe(401);

    const revoked = await freshUser();
    const s2 = await login(a, revoked);
    expect(
      (await call(`${a.url}/api/v1/auth/sessions/${sidOf(s2.token)}`, { method: 'DELETE', token: s2.token })).status,
    ).toBe(200);
    expect((await refresh(b, s2.refresh_token)).status).toBe(401);

    const changer = await freshUser();
    const s3 = await login(a, changer);
    const other = await login(b, changer);
    const changed = await call(`${a.url}/api/v1/auth/me/password`, {
      method: 'POST',
      token: s3.token,
      json: { current_password: changer.password, new_password: 'a-brand-new-passphrase-42' },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.data.refresh_token).toMatch(/^g2dr_/);
    expect((await refresh(b, s3.refresh_token)).status).toBe(401);
    expect((await refresh(b, other.refresh_token)).status).toBe(401);
    expect((await proxied(b, other.token)).status).toBe(401);
    // The new token opened a session of its own, which refreshes.
    expect((await proxied(b, changed.body.data.token)).status).toBe(200);
    expect((await refresh(b, changed.body.data.refresh_token)).status).toBe(200);
  });

  it('junk refresh bodies get the envelope: 400 for a bad body, 401 for any string that is not a live token, never 500', async () => {
    const bad = [
      [{}, 400],
      [{ refresh_token: 42 }, 400],
      [{ refresh_token: null }, 400],
      [{ refresh_token: 'g2dr_x', extra: 1 }, 400],
      [{ refresh_token: '' }, 401],
      [{ refresh_token: `g2dr_${'A'.repeat(43)}` }, 401],
      [{ refresh_token: 'x'.repeat(100_000) }, 401],
    ] as const;
    for (const [json, status] of bad) {
      const res = await call(`${a.url}/api/v1/auth/refresh`, { method: 'POST', json });
      expect(res.status, JSON.stringify(json).slice(0, 60)).toBe(status);
      expect(res.body.status).toBe('error');
    }
    expect(
      (
        await call(`${a.url}/api/v1/auth/refresh`, {
          method: 'POST',
          body: 'not json',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(400);
    expect((await call(`${a.url}/api/v1/auth/refresh`, { method: 'POST', body: '{}' })).status).toBe(415);
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 80 }), async (s) => {
        const res = await refresh(b, s);
        return res.status === 401 && res.body.message === 'invalid refresh token';
      }),
      { numRuns: 40 },
    );
  });
});

describe('session management', () => {
  it("lists open sessions newest first with the current one marked; DELETE revokes; another user's id is 404", async () => {
    const user = await freshUser();
    const older = await login(a, user, 'agent-older');
    await new Promise((r) => setTimeout(r, 20));
    const newer = await login(b, user, 'agent-newer');
    const list = await call(`${a.url}/api/v1/auth/sessions`, { token: newer.token });
    expect(list.status).toBe(200);
    expect(list.body.data.map((s: { id: string }) => s.id)).toEqual([sidOf(newer.token), sidOf(older.token)]);
    expect(list.body.data[0]).toMatchObject({ current: true, user_agent: 'agent-newer', ip: '127.0.0.1' });
    expect(Object.keys(list.body.data[1]).sort()).toEqual([
      'created_at',
      'current',
      'id',
      'ip',
      'last_seen_at',
      'user_agent',
    ]);

    const stranger = await freshUser();
    const theirs = await login(a, stranger);
    for (const id of [sidOf(theirs.token), '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await call(`${b.url}/api/v1/auth/sessions/${id}`, { method: 'DELETE', token: newer.token });
      expect(res.status, id).toBe(404);
      expect(res.body).toEqual({ status: 'error', message: 'not found' });
    }
    expect((await proxied(a, theirs.token)).status).toBe(200);

    const del = await call(`${b.url}/api/v1/auth/sessions/${sidOf(older.token)}`, {
      method: 'DELETE',
      token: newer.token,
    });
    expect(del.status).toBe(200);
    expect((await proxied(a, older.token)).status).toBe(401);
    expect((await proxied(a, newer.token)).status).toBe(200);
    expect((await call(`${a.url}/api/v1/auth/sessions`, { token: newer.token })).body.data).toHaveLength(1);
    await waitFor(
      async () =>
        (await db.query("SELECT 1 FROM auth_events WHERE event = 'session_revoked' AND user_id = $1", [user.id]))
          .rowCount === 1,
      { what: 'audit row' },
    );
  });

  it('logout with {"all": true} ends every session of the caller on every instance; plain logout ends the current one', async () => {
    const user = await freshUser();
    const s1 = await login(a, user);
    const s2 = await login(b, user);
    const s3 = await login(a, user);
    const plain = await call(`${b.url}/api/v1/auth/logout`, { method: 'POST', token: s3.token });
    expect(plain.status).toBe(200);
    expect((await refresh(a, s3.refresh_token)).status).toBe(401);
    expect((await proxied(a, s1.token)).status).toBe(200);

    const all = await call(`${a.url}/api/v1/auth/logout`, { method: 'POST', token: s1.token, json: { all: true } });
    expect(all.status).toBe(200);
    for (const s of [s1, s2]) {
      for (const gw of [a, b]) expect((await proxied(gw, s.token)).status).toBe(401);
      expect((await refresh(b, s.refresh_token)).status).toBe(401);
    }
    expect(
      (
        await call(`${a.url}/api/v1/auth/logout`, {
          method: 'POST',
          token: (await login(a, user)).token,
          json: { all: 'yes' },
        })
      ).status,
    ).toBe(400);
    await waitFor(
      async () =>
        (await db.query("SELECT 1 FROM auth_events WHERE event = 'logout_all' AND user_id = $1", [user.id]))
          .rowCount === 1,
      { what: 'audit row' },
    );
  });
});

describe('revocation push', () => {
  it('a logout on one instance is refused on the other well within a second (caches are long while pushed)', async () => {
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      const user = await freshUser();
      const s = await login(a, user);
      expect((await proxied(b, s.token)).status).toBe(200); // cached on b now
      expect((await call(`${a.url}/api/v1/auth/logout`, { method: 'POST', token: s.token })).status).toBe(200);
      samples.push(await msUntil(async () => (await proxied(b, s.token)).status === 401, 1_000));
    }
    expect(Math.max(...samples)).toBeLessThan(1_000);
  });

  it('closes the open WebSocket of a session with 1008 at once when it logs out through the other instance', async () => {
    const user = await freshUser();
    const s = await login(a, user);
    const ws = new WebSocket(`${b.url.replace('http', 'ws')}/ws/agent?token=${s.token}`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const t0 = Date.now();
    expect((await call(`${a.url}/api/v1/auth/logout`, { method: 'POST', token: s.token })).status).toBe(200);
    expect(await closed).toBe(1008);
    // The 5 s re-check would take up to 5 s; the push takes a round trip.
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('with the subscriber connection killed, revocations still reach within ~5 s, and the channel comes back by itself', async () => {
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
    try {
      const name = `g2d-revocation-sub-${b.child.pid}`;
      const user = await freshUser();
      const s = await login(a, user);
      expect((await proxied(b, s.token)).status).toBe(200);
      const before = (b.output().match(/revocation push: subscribed/g) ?? []).length;
      const clients = (await redis.client('LIST')) as string;
      const line = clients.split('\n').find((l) => l.includes(` name=${name} `));
      expect(line, 'subscriber connection listed by name').toBeTruthy();
      const id = /(?:^|\s)id=(\d+)/.exec(line as string)![1]!;
      await redis.client('KILL', 'ID', id);
      expect((await call(`${a.url}/api/v1/auth/logout`, { method: 'POST', token: s.token })).status).toBe(200);
      expect(await msUntil(async () => (await proxied(b, s.token)).status === 401, 5_500)).toBeLessThan(5_500);
      await waitFor(() => b.output().includes('revocation push: channel down'), { what: 'down logged' });
      await waitFor(() => (b.output().match(/revocation push: subscribed/g) ?? []).length > before, {
        timeoutMs: 10_000,
        what: 'resubscribed',
      });
      // Pushed again: the next logout is seen at once.
      const t = await freshUser();
      const s2 = await login(a, t);
      expect((await proxied(b, s2.token)).status).toBe(200);
      expect((await call(`${a.url}/api/v1/auth/logout`, { method: 'POST', token: s2.token })).status).toBe(200);
      expect(await msUntil(async () => (await proxied(b, s2.token)).status === 401, 1_000)).toBeLessThan(1_000);
    } finally {
      redis.disconnect();
    }
  });
});
