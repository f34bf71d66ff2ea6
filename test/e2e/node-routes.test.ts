/**
 * Node endpoints (docs/edge-nodes.md) end to end: the real `serve` process (dist/), real Postgres and Redis.
 * Each test speaks from its own client IP (X-Forwarded-For from a trusted loopback proxy) so the
 * per-IP failure throttle of one test never touches another.
 *
 * Proxied node routes: nothing listens on UPSTREAM_URL, so a request that passes authorization
 * ends in 502 (or the unwired proxy's 502); 401/403 mean the gateway refused it first.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateEnrollmentToken, hashKey, NODE_KEY_RE } from '../../gateway/auth/node-keys.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import { createPg } from '../../gateway/store/pg.js';
import type { Tenant } from '../../gateway/store/tenants.js';
import { call, makeTenant, makeUser, uniq } from '../helpers/fixtures.js';
import { spawnGateway, type GatewayProcess } from '../helpers/spawn-gateway.js';

const IP_LIMIT = 6;
const db = createPg({ url: inject('databaseUrl'), poolSize: 4 });
const nodes = createNodeStore(db);
let gw: GatewayProcess;
let tenant: Tenant;

const clientIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

function register(ip: string, json: unknown) {
  return call(`${gw.url}/api/v1/nodes/register`, { method: 'POST', json, headers: { 'x-forwarded-for': ip } });
}
function rotate(ip: string, key?: string) {
  return call(`${gw.url}/api/v1/nodes/rotate-key`, {
    method: 'POST',
    headers: { 'x-forwarded-for': ip, ...(key ? { authorization: `Bearer ${key}` } : {}) },
  });
}
function nodeCall(ip: string, key: string | undefined, path = '/api/v1/nodes/heartbeat', method = 'POST') {
  return call(`${gw.url}${path}`, {
    method,
    headers: { 'x-forwarded-for': ip, ...(key ? { authorization: `Bearer ${key}` } : {}) },
  });
}

async function enrollment(name = uniq('edge'), expiresInMs = 10 * 60_000) {
  const token = generateEnrollmentToken();
  await nodes.createEnrollment({
    tenantId: tenant.id,
    name,
    tokenHash: token.hash,
    expiresAt: new Date(Date.now() + expiresInMs),
  });
  return { token: token.rawToken, name };
}

async function registered(ip = clientIp()) {
  const { token, name } = await enrollment();
  const res = await register(ip, { enrollment_token: token });
  expect(res.status).toBe(201);
  return { ...(res.body.data as { node_id: string; tenant_id: string; api_key: string }), name, ip };
}

beforeAll(async () => {
  tenant = await makeTenant(db);
  gw = await spawnGateway('node-routes', {
    AUTH_LOGIN_IP_LIMIT: String(IP_LIMIT),
    TRUSTED_PROXIES: '127.0.0.1/32',
    UPSTREAM_URL: 'http://127.0.0.1:9',
  });
});

afterAll(async () => {
  await gw?.stop();
  await db.close();
});

describe('POST /api/v1/nodes/register', () => {
  it('redeems an enrollment token for a node key once: 201, no-store, audited', async () => {
    const { token, name } = await enrollment();
    const ip = clientIp();
    const res = await register(ip, { enrollment_token: token, name });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.status).toBe('success');
    expect(Object.keys(res.body.data).sort()).toEqual(['api_key', 'node_id', 'tenant_id']);
    expect(res.body.data.tenant_id).toBe(tenant.id);
    expect(res.body.data.api_key).toMatch(NODE_KEY_RE);
    const node = await nodes.findById(res.body.data.node_id);
    expect(node).toMatchObject({ tenantId: tenant.id, name, status: 'active' });
    expect(await nodes.findActiveByKeyHash(hashKey(res.body.data.api_key))).toMatchObject({ id: node!.id });
    await expect
      .poll(async () => (await db.query('SELECT event, ip FROM auth_events WHERE node_id = $1', [node!.id])).rows)
      .toEqual([{ event: 'node_registered', ip }]);

    const again = await register(ip, { enrollment_token: token });
    expect(again.status).toBe(401);
    expect(again.body).toEqual({ status: 'error', message: 'invalid credentials' });
    expect(again.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('refuses expired, unknown and malformed tokens alike with 401 invalid credentials', async () => {
    const expired = await enrollment(uniq('edge'), -1000);
    const ip = clientIp();
    for (const enrollment_token of [expired.token, generateEnrollmentToken().rawToken, 'not-a-token', '']) {
      const res = await register(ip, { enrollment_token });
      expect(res.status).toBe(401);
      expect(res.body.message).toBe('invalid credentials');
    }
    await expect
      .poll(async () =>
        Number(
          (await db.query(`SELECT count(*) AS n FROM auth_events WHERE event = 'node_auth_failure' AND ip = $1`, [ip]))
            .rows[0]!.n,
        ),
      )
      .toBe(4);
  });

  it.each([
    ['an unknown field', { enrollment_token: 'g2de_x', node_id: 'edge-01' }],
    ['a missing token', { name: 'edge-01' }],
    ['a token of the wrong type', { enrollment_token: 42 }],
    ['a blank name', { enrollment_token: 'g2de_x', name: '  ' }],
  ])('answers 400 for %s', async (_label, json) => {
    const res = await register(clientIp(), json);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ status: 'error', message: 'invalid request body' });
  });

  it('answers 415 without a JSON content type', async () => {
    const res = await call(`${gw.url}/api/v1/nodes/register`, {
      method: 'POST',
      body: 'enrollment_token=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': clientIp() },
    });
    expect(res.status).toBe(415);
  });

  it('answers 409 when the name does not match the enrollment, and keeps the token usable', async () => {
    const { token, name } = await enrollment('edge-named');
    const ip = clientIp();
    const wrong = await register(ip, { enrollment_token: token, name: 'edge-other' });
    expect(wrong.status).toBe(409);
    const right = await register(ip, { enrollment_token: token, name: name.toUpperCase() });
    expect(right.status).toBe(201);
  });

  it('throttles failed attempts per client IP (429 + Retry-After), even for a valid token then', async () => {
    const ip = clientIp();
    for (let i = 0; i < IP_LIMIT; i++)
      expect((await register(ip, { enrollment_token: generateEnrollmentToken().rawToken })).status).toBe(401);
    const { token } = await enrollment();
    const res = await register(ip, { enrollment_token: token });
    expect(res.status).toBe(429);
    expect(res.body.message).toBe('too many requests');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another client is unaffected.
    expect((await register(clientIp(), { enrollment_token: token })).status).toBe(201);
  });
});

describe('node keys on node routes', () => {
  it('authenticates the node on proxied node routes and refuses everything else with 401', async () => {
    const node = await registered();
    expect((await nodeCall(node.ip, node.api_key)).status).toBe(502);
    expect(
      (await nodeCall(node.ip, node.api_key, `/api/v1/edge/desired-state?node_id=${node.name}&since=0`, 'GET')).status,
    ).toBe(502);
    const ip = clientIp();
    for (const key of [undefined, 'g2dn_nope', node.api_key.slice(0, -1) + (node.api_key.endsWith('A') ? 'B' : 'A')]) {
      const res = await nodeCall(ip, key);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ status: 'error', message: 'missing or invalid authorization header' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('forces the node identity: another tenant_id or node_id is 403', async () => {
    const node = await registered();
    const other = '11111111-2222-4333-8444-555555555555';
    for (const q of [
      `tenant_id=${other}`,
      `node_id=${other}`,
      'node_id=someone-else',
      `tenant%5Fid=${other}`,
      `tenant_id=${node.tenant_id}&tenant_id=${other}`,
    ]) {
      const res = await nodeCall(node.ip, node.api_key, `/api/v1/nodes/media/manifest?${q}`, 'GET');
      expect(res.status, q).toBe(403);
      expect(res.body.message).toBe('forbidden');
    }
    for (const q of [`tenant_id=${node.tenant_id}`, `node_id=${node.node_id}`, `node_id=${node.name}`]) {
      expect((await nodeCall(node.ip, node.api_key, `/api/v1/nodes/media/manifest?${q}`, 'GET')).status, q).toBe(502);
    }
  });

  it('keeps user tokens and node keys apart (401 both ways)', async () => {
    const node = await registered();
    const user = await makeUser(db, tenant, { role: 'admin' });
    const login = await call(`${gw.url}/api/v1/auth/login`, {
      method: 'POST',
      json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
      headers: { 'x-forwarded-for': clientIp() },
    });
    expect(login.status).toBe(200);
    expect((await nodeCall(clientIp(), login.body.data.token)).status).toBe(401);
    expect((await nodeCall(node.ip, node.api_key, '/api/v1/cdrs', 'GET')).status).toBe(401);
  });

  it('does not count a value that is not a node key (a user JWT) toward the node throttle', async () => {
    const ip = clientIp();
    for (let i = 0; i < IP_LIMIT + 2; i++)
      expect((await nodeCall(ip, 'eyJhbGciOiJIUzI1NiJ9.e30.sig')).status).toBe(401);
    // Still counted in the metrics, under its own reason.
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(
      Number(/^g2d_gateway_node_auth_failures_total\{reason="malformed"\} (\d+)/m.exec(metrics)?.[1]),
    ).toBeGreaterThanOrEqual(IP_LIMIT + 2);
    const { token } = await enrollment();
    expect((await register(ip, { enrollment_token: token })).status).toBe(201);
  });

  it('counts failed node keys toward the same per-IP throttle as registration', async () => {
    const ip = clientIp();
    for (let i = 0; i < IP_LIMIT; i++) expect((await nodeCall(ip, `g2dn_${'x'.repeat(43)}`)).status).toBe(401);
    const { token } = await enrollment();
    expect((await register(ip, { enrollment_token: token })).status).toBe(429);
    expect((await rotate(ip, `g2dn_${'y'.repeat(43)}`)).status).toBe(429);
  });
});

describe('POST /api/v1/nodes/rotate-key', () => {
  it('issues a new key; the old one works until the new one is first used, then stops', async () => {
    const node = await registered();
    const res = await rotate(node.ip, node.api_key);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.data).toEqual({
      node_id: node.node_id,
      tenant_id: tenant.id,
      api_key: expect.stringMatching(NODE_KEY_RE),
    });
    const fresh = res.body.data.api_key as string;
    expect(fresh).not.toBe(node.api_key);
    expect((await nodeCall(node.ip, node.api_key)).status).toBe(502); // grace: the old key still works
    expect((await nodeCall(node.ip, fresh)).status).toBe(502); // first use of the new key…
    expect((await nodeCall(node.ip, node.api_key)).status).toBe(401); // …retires the old one
    expect((await rotate(node.ip, node.api_key)).status).toBe(401);
    expect((await nodeCall(node.ip, fresh)).status).toBe(502);
    await expect
      .poll(async () =>
        (
          await db.query<{ event: string }>('SELECT event FROM auth_events WHERE node_id = $1 ORDER BY id', [
            node.node_id,
          ])
        ).rows.map((r) => r.event),
      )
      .toEqual(['node_registered', 'node_key_rotated']);
  });

  it('answers 401 without a key and with a user token', async () => {
    const res = await rotate(clientIp());
    expect(res.status).toBe(401);
    expect(res.body.message).toBe('missing or invalid authorization header');
    expect((await rotate(clientIp(), 'eyJhbGciOiJIUzI1NiJ9.e30.x')).status).toBe(401);
  });

  it('two concurrent rotations with one key both get the same new key (one rotation, never two)', async () => {
    const node = await registered();
    const results = await Promise.all([rotate(node.ip, node.api_key), rotate(node.ip, node.api_key)]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(results[0]?.body.data.api_key).toBe(results[1]?.body.data.api_key);
    const retries = async () =>
      (
        await db.query<{ detail: { retry: boolean } }>(
          "SELECT detail FROM auth_events WHERE node_id = $1 AND event = 'node_key_rotated'",
          [node.node_id],
        )
      ).rows
        .map((r) => r.detail.retry)
        .sort();
    await expect.poll(retries).toEqual([false, true]);
  });
});

describe('revocation and secrets', () => {
  it('a revocation made elsewhere (another process) stops the key within 5 s', async () => {
    const node = await registered();
    expect((await nodeCall(node.ip, node.api_key)).status).toBe(502); // now cached in the gateway
    await createNodeStore(db).revoke(node.node_id);
    const started = Date.now();
    let status = 0;
    while (Date.now() - started < 10_000) {
      status = (await nodeCall(node.ip, node.api_key)).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('never logs a raw key or enrollment token', async () => {
    const { token } = await enrollment();
    const res = await register(clientIp(), { enrollment_token: token });
    const key = res.body.data.api_key as string;
    await nodeCall(clientIp(), key);
    await rotate(clientIp(), key);
    await new Promise((r) => setTimeout(r, 200));
    const out = gw.output();
    expect(out).not.toContain(token);
    expect(out).not.toContain(key);
    expect(out).not.toMatch(/g2d[ne]_[A-Za-z0-9_-]{43}/);
  });
});
