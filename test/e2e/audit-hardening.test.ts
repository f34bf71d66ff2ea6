/**
 * Regressions from the adversarial audit: requests a Pomerium/Envoy reviewer would send, each of
 * which got past a check or answered outside the SPEC §4 envelope. The real gateway (in process,
 * real Postgres and Redis) in front of the verifying stub, over real sockets.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser, platformTenant } from '../helpers/fixtures.js';
import { send, startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let env: ProxyEnv;

beforeAll(async () => {
  env = await startProxyEnv(
    [
      { prefix: '/api/v1/edge/health', upstream: '{STUB}', auth: 'public' },
      { prefix: '/api/v1/nodes', upstream: '{STUB}', auth: 'node' },
      { prefix: '/api/v1', upstream: '{STUB}', auth: 'user' },
      { prefix: '/ws/agent', upstream: '{STUB}', auth: 'user', websocket: true },
    ],
    {},
    'audit',
  );
});

afterAll(async () => {
  await env?.close();
  await db.close();
});

async function loginAs(role: 'agent' | 'platform_admin' = 'agent') {
  const tenant = role === 'platform_admin' ? await platformTenant(db) : await makeTenant(db);
  const user = await makeUser(db, tenant, { role });
  const res = await call(`${env.base}/api/v1/auth/login`, { method: 'POST', json: { email: user.email, password: user.password, tenant_domain: tenant.domain } });
  expect(res.status).toBe(200);
  return { tenant, user, token: res.body.data.token as string };
}

describe('tenant scope (SPEC §6): every spelling an upstream framework might read as tenant_id', () => {
  // PHP/Rails/qs read `tenant_id[]` and `tenant_id[0]` as tenant_id (PHP also `tenant.id`),
  // case-insensitive frameworks `TENANT_ID`, double-decoding ones `tenant%255Fid`, and some split
  // the query on `;`. Before the fix all of these reached the upstream unchecked.
  const spellings = (id: string) => [
    `tenant_id[]=${id}`,
    `tenant_id%5B%5D=${id}`,
    `tenant_id[0]=${id}`,
    `TENANT_ID=${id}`,
    `Tenant_Id=${id}`,
    `tenant%255Fid=${id}`,
    `tenant.id=${id}`,
    `a=1;tenant_id=${id}`,
  ];

  it('a non-admin naming another tenant under any spelling gets 403 and nothing reaches upstream', async () => {
    const { token } = await loginAs('agent');
    const other = await makeTenant(db);
    const before = env.stub.received.length;
    for (const q of spellings(other.id)) {
      const res = await send(`${env.base}/api/v1/calls?${q}`, { headers: { authorization: `Bearer ${token}` } });
      expect({ q, status: res.status, body: res.json }).toEqual({ q, status: 403, body: { status: 'error', message: 'forbidden' } });
    }
    expect(env.stub.received.length).toBe(before);
  });

  it('a non-admin naming its own tenant under any spelling passes', async () => {
    const { tenant, token } = await loginAs('agent');
    for (const q of spellings(tenant.id)) {
      const res = await send(`${env.base}/api/v1/calls?${q}`, { headers: { authorization: `Bearer ${token}` } });
      expect({ q, status: res.status }).toEqual({ q, status: 200 });
    }
  });

  it('a platform admin cannot name a tenant the gateway did not act in (400), so the audit trail and headers agree', async () => {
    const { token } = await loginAs('platform_admin');
    const target = await makeTenant(db);
    const other = await makeTenant(db);
    const before = env.stub.received.length;
    for (const q of [`tenant_id[]=${target.id}`, `tenant_id=${target.id}&tenant_id[]=${other.id}`, `tenant_id=${target.id}&TENANT_ID=${other.id}`]) {
      const res = await send(`${env.base}/api/v1/calls?${q}`, { headers: { authorization: `Bearer ${token}` } });
      expect({ q, status: res.status, message: res.json?.message }).toEqual({ q, status: 400, message: 'tenant_id must be given once, as tenant_id=<uuid>' });
    }
    expect(env.stub.received.length).toBe(before);
    // The documented form still works, and a second spelling naming the same tenant is harmless.
    const ok = await send(`${env.base}/api/v1/calls?tenant_id=${target.id}&tenant_id[]=${target.id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(ok.json.data.identity).toMatchObject({ tenantId: target.id });
  });
});

describe('JSON bodies on gateway routes (SPEC §4): bad input is a 4xx in the envelope, never a 500', () => {
  const login = (body: Buffer | string, headers: Record<string, string> = {}) =>
    send(`${env.base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : Readable.from([body]) });
  const invalidBody = { status: 400, json: { status: 'error', message: 'invalid request body' } };

  it('a NUL character in any string field is 400 (Postgres cannot store it: it was a 500)', async () => {
    const tenant = await makeTenant(db);
    for (const body of [
      { email: 'a\u0000b@example.test', password: 'x' },
      { email: 'a@example.test', password: 'x', tenant_domain: `${tenant.domain}\u0000` },
      { email: 'a@example.test', password: 'x\u0000' },
    ]) {
      const res = await login(JSON.stringify(body));
      expect({ status: res.status, json: res.json }).toEqual(invalidBody);
    }
    const reg = await send(`${env.base}/api/v1/nodes/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ enrollment_token: 'x', name: 'a\u0000' }) });
    expect({ status: reg.status, json: reg.json }).toEqual(invalidBody);
  });

  it('a body that is not valid UTF-8 is 400 instead of being read with U+FFFD substitutions', async () => {
    const { user } = await loginAs('agent');
    const bytes = Buffer.concat([Buffer.from(`{"email":"${user.email}","password":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const res = await login(bytes);
    expect({ status: res.status, json: res.json }).toEqual(invalidBody);
  });

  it('a Content-Encoding the gateway does not decode is 415, not read as plain JSON', async () => {
    const { user } = await loginAs('agent');
    const res = await login(JSON.stringify({ email: user.email, password: user.password }), { 'content-encoding': 'gzip' });
    expect({ status: res.status, json: res.json }).toEqual({ status: 415, json: { status: 'error', message: 'unsupported media type' } });
    const identity = await login(JSON.stringify({ email: user.email, password: user.password }), { 'content-encoding': 'identity' });
    expect(identity.status).toBe(200);
  });
});
