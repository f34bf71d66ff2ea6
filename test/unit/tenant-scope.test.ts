/**
 * Tenant scope of user requests (docs/security-model.md): `?tenant_id=` only for a platform admin,
 * under any spelling the upstream might read; checked in process behind the default route table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, tokenFor, type TestApp, fastUser } from '../helpers/app.js';
import { call, makeTenant, platformTenant } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/spawn-gateway.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';
import type { Tenant } from '../../gateway/store/tenants.js';

let t: TestApp;
let upstream: TestUpstream;
let home: Tenant;
let other: Tenant;
let adminToken: string;
let agentToken: string;
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

beforeAll(async () => {
  upstream = await startTestUpstream();
  t = await startApp({ env: { UPSTREAM_URL: upstream.url } });
  home = await makeTenant(t.db);
  other = await makeTenant(t.db);
  adminToken = await tokenFor(t, await fastUser(t.db, await platformTenant(t.db), { role: 'platform_admin' }));
  agentToken = await tokenFor(t, await fastUser(t.db, home, { role: 'agent' }));
});
afterAll(async () => {
  await t?.close();
  await upstream?.stop();
});

/** The tenant the upstream was told (identity assertion header), or the error. */
async function get(query: string, token: string) {
  const before = upstream.received.length;
  const r = await call(`${t.url}/api/v1/scope?${query}`, { token });
  const seen = upstream.received.slice(before).at(-1);
  return { status: r.status, body: r.body, tenant: seen?.headers['x-g2d-tenant-id'] };
}

describe('platform admin', () => {
  it('acts in the named tenant, whatever its case', async () => {
    const r = await get(`tenant_id=${other.id.toUpperCase()}`, adminToken);
    expect(r.status).toBe(200);
    expect(r.tenant).toBe(other.id);
  });

  it.each([
    ['a malformed id', 'tenant_id=not-a-uuid', 400],
    ['an unknown tenant', `tenant_id=${UNKNOWN}`, 404],
    ['the parameter twice', 'tenant_id=a&tenant_id=b', 400],
  ])('%s → %i', async (_name, query, status) => {
    const r = await get(query, adminToken);
    expect(r.status).toBe(status);
    expect(r.body.status).toBe('error');
  });

  it('another spelling naming a different tenant → 400', async () => {
    expect((await get(`tenant_id=${other.id}&tenant%5Fid=${UNKNOWN}`, adminToken)).status).toBe(400);
  });

  it('the override is audited (once a minute per admin and tenant)', async () => {
    await get(`tenant_id=${home.id}`, adminToken);
    await get(`tenant_id=${home.id}`, adminToken);
    const count = async () =>
      Number(
        (
          await t.db.query<{ n: string }>(
            "SELECT count(*) AS n FROM auth_events WHERE event = 'tenant_override' AND tenant_id = $1",
            [home.id],
          )
        ).rows[0]?.n,
      );
    await waitFor(async () => (await count()) > 0, { timeoutMs: 10_000, what: 'the tenant_override audit row' });
    expect(await count()).toBe(1);
  });
});

describe('other roles', () => {
  it('may name their own tenant', async () => {
    const r = await get(`tenant_id=${home.id}`, agentToken);
    expect(r.status).toBe(200);
    expect(r.tenant).toBe(home.id);
  });

  it.each(['tenant_id=OTHER', 'tenant%5Fid=OTHER', 'TENANT_ID=OTHER', 'tenant_id%5B%5D=OTHER'])(
    'naming another tenant as %s → 403',
    async (query) => {
      const r = await get(query.replace('OTHER', other.id), agentToken);
      expect(r.status).toBe(403);
      expect(r.body).toEqual({ status: 'error', message: 'forbidden' });
    },
  );
});
