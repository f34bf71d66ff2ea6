/**
 * Scale-out (docs/scale-out.md): three real gateway processes on one Postgres and one Redis, sharing only
 * configuration (AUTH_JWT_SECRET, IDENTITY_SIGNING_KEY). No sticky sessions: a token minted by one
 * works on the others, failed logins spread across them lock at exactly the limit, and a logout, a
 * password change or a node revocation on one is honoured by all within 5 s.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateNodeKey } from '../../gateway/auth/node-keys.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser, uniq } from '../helpers/fixtures.js';
import { gatewayEnv, startGateway, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let gws: GatewayProcess[] = [];

beforeAll(async () => {
  const signingKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const env = gatewayEnv('multi', {
    IDENTITY_SIGNING_KEY: signingKey,
    AUTH_LOGIN_IP_LIMIT: '100000',
    UPSTREAM_URL: 'http://127.0.0.1:9',
    SHUTDOWN_GRACE_SECONDS: '2',
  });
  gws = await Promise.all([startGateway(env), startGateway(env), startGateway(env)]);
});

afterAll(async () => {
  await Promise.all(gws.map((g) => g.stop()));
  await db.close();
});

const login = (gw: GatewayProcess, json: unknown) => call(`${gw.url}/api/v1/auth/login`, { method: 'POST', json });
const me = (gw: GatewayProcess, token: string) => call(`${gw.url}/api/v1/auth/me`, { token });

/** Resolves with the ms it took until `probe` held on every instance; fails past 5 s (docs/scale-out.md). */
async function everywhereWithin5s(probe: (gw: GatewayProcess) => Promise<boolean>, what: string): Promise<number> {
  const t0 = Date.now();
  await Promise.all(
    gws.map((gw, i) =>
      waitFor(() => probe(gw), { timeoutMs: 5_000, intervalMs: 100, what: `${what} on instance ${i}` }),
    ),
  );
  return Date.now() - t0;
}

describe('three instances, one Postgres, one Redis', () => {
  it('accepts a token minted by one instance on every other', async () => {
    const [a, b, c] = gws as [GatewayProcess, GatewayProcess, GatewayProcess];
    expect(new Set(gws.map((g) => g.port)).size).toBe(3);
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant, { role: 'supervisor' });
    const res = await login(a, { email: user.email, password: user.password, tenant_domain: tenant.domain });
    expect(res.status).toBe(200);
    for (const gw of [a, b, c]) {
      const r = await me(gw, res.body.data.token);
      expect(r.status).toBe(200);
      expect(r.body.data.id).toBe(user.id);
    }
  });

  it('locks at exactly the limit when failed logins are spread round-robin', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const gw = gws[i % gws.length] as GatewayProcess;
      statuses.push(
        (await login(gw, { email: user.email, password: `wrong-password-${i}`, tenant_domain: tenant.domain })).status,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 403, 403]);
    // Locked everywhere, even for the right password, with the documented message and Retry-After.
    for (const gw of gws) {
      const r = await login(gw, { email: user.email, password: user.password, tenant_domain: tenant.domain });
      expect(r.status).toBe(403);
      expect(r.body).toEqual({ status: 'error', message: 'account temporarily locked' });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  });

  it('locks at exactly the limit under concurrent failures on all instances', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        login(gws[i % gws.length] as GatewayProcess, {
          email: user.email,
          password: `wrong-${i}-password`,
          tenant_domain: tenant.domain,
        }),
      ),
    );
    const counts = results.reduce<Record<number, number>>(
      (acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }),
      {},
    );
    expect(counts).toEqual({ 401: 10, 403: 14 });
  });

  it('honours a logout on one instance everywhere within 5 s', async () => {
    const [a] = gws as [GatewayProcess];
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const token: string = (await login(a, { email: user.email, password: user.password, tenant_domain: tenant.domain }))
      .body.data.token;
    for (const gw of gws) expect((await me(gw, token)).status).toBe(200); // every instance has it cached as valid
    expect((await call(`${a.url}/api/v1/auth/logout`, { method: 'POST', token })).status).toBe(200);
    await everywhereWithin5s(async (gw) => (await me(gw, token)).status === 401, 'logout');
  });

  it('honours a password change on one instance everywhere within 5 s', async () => {
    const [a, b] = gws as [GatewayProcess, GatewayProcess];
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const old: string = (await login(a, { email: user.email, password: user.password, tenant_domain: tenant.domain }))
      .body.data.token;
    for (const gw of gws) expect((await me(gw, old)).status).toBe(200);
    const changed = await call(`${b.url}/api/v1/auth/me/password`, {
      method: 'POST',
      token: old,
      json: { current_password: user.password, new_password: 'Correct-Horse-Battery-Staple-77' },
    });
    expect(changed.status).toBe(200);
    await everywhereWithin5s(async (gw) => (await me(gw, old)).status === 401, 'old token refused');
    for (const gw of gws) expect((await me(gw, changed.body.data.token)).status).toBe(200);
  });

  it('honours a node revocation everywhere within 5 s', async () => {
    const tenant = await makeTenant(db);
    const key = generateNodeKey();
    const nodes = createNodeStore(db);
    const node = await nodes.create({ tenantId: tenant.id, name: uniq('node'), apiKeyHash: key.hash });
    const nodeCall = (gw: GatewayProcess) =>
      call(`${gw.url}/api/v1/edge/heartbeat`, { headers: { authorization: `Bearer ${key.rawKey}` } });
    // Authenticated everywhere (502: nothing listens upstream), so every instance has the key cached.
    for (const gw of gws) expect((await nodeCall(gw)).status).toBe(502);
    expect(await nodes.revoke(node.id)).not.toBeNull();
    await everywhereWithin5s(async (gw) => (await nodeCall(gw)).status === 401, 'node key refused');
  });
});
