/**
 * Single-use and overlap guarantees across two real gateway processes on one Postgres and one
 * Redis (docs/api.md "WebSocket tickets", docs/edge-nodes.md "Key rotation"):
 * - a WebSocket ticket opens exactly one socket, whichever instances the racing upgrades reach,
 *   and never shows up in either instance's logs;
 * - a node that lost its rotate-key answer retries on the other instance and gets the same new
 *   key; the old key dies on both once the new key is used, or when the grace ends.
 */
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { generateNodeKey, hashKey, NODE_KEY_RE } from '../../gateway/auth/node-keys.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser, uniq } from '../helpers/fixtures.js';
import { gatewayEnv, startGateway, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

const GRACE_SECONDS = 3;
const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
const nodes = createNodeStore(db);
let upstream: TestUpstream;
let a: GatewayProcess;
let b: GatewayProcess;

beforeAll(async () => {
  upstream = await startTestUpstream();
  const env = gatewayEnv('two-instance', {
    IDENTITY_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    AUTH_LOGIN_IP_LIMIT: '100000',
    UPSTREAM_URL: upstream.url,
    NODE_KEY_ROTATION_GRACE_SECONDS: String(GRACE_SECONDS),
    SHUTDOWN_GRACE_SECONDS: '1',
  });
  [a, b] = await Promise.all([startGateway(env), startGateway(env)]);
});

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await upstream?.stop();
  await db.close();
});

async function login(gw: GatewayProcess): Promise<string> {
  const tenant = await makeTenant(db);
  const user = await makeUser(db, tenant);
  const res = await call(`${gw.url}/api/v1/auth/login`, {
    method: 'POST',
    json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
  });
  expect(res.status).toBe(200);
  return res.body.data.token as string;
}

/** 101 (the socket is closed at once) or the status the gateway refused the upgrade with. */
function upgrade(gw: GatewayProcess, path: string): Promise<number> {
  const ws = new WebSocket(`${gw.url.replace('http', 'ws')}${path}`);
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', reject);
  });
}

describe('WebSocket tickets on two instances', () => {
  it('of any number of racing upgrades with one ticket, on either instance, exactly one opens', async () => {
    const token = await login(a);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 2, maxLength: 6 }),
        fc.boolean(),
        async (targets, issueOnA) => {
          const res = await call(`${(issueOnA ? a : b).url}/api/v1/auth/ws-ticket`, { method: 'POST', token });
          expect(res.status).toBe(200);
          const ticket = res.body.data.ticket as string;
          const statuses = await Promise.all(targets.map((onA) => upgrade(onA ? a : b, `/ws/agent?ticket=${ticket}`)));
          expect(statuses.filter((s) => s === 101)).toHaveLength(1);
          expect(statuses.filter((s) => s !== 101).every((s) => s === 401)).toBe(true);
        },
      ),
      { numRuns: 8 },
    );
  });

  it('never writes a ticket to either log; the access line shows it redacted', async () => {
    const token = await login(b);
    const res = await call(`${b.url}/api/v1/auth/ws-ticket`, { method: 'POST', token });
    const ticket = res.body.data.ticket as string;
    expect(await upgrade(a, `/ws/agent?ticket=${ticket}`)).toBe(101);
    expect(await upgrade(b, `/ws/agent?ticket=${ticket}`)).toBe(401);
    // (Percent-encoded spellings such as `%74icket=` are the URL scrubber's decoded-name judgement,
    // tested with it: the scrubber reads its names from CREDENTIAL_PARAMS in ops/logger.ts.)
    await waitFor(() => a.output().includes('ticket=[REDACTED]'), { what: 'the redacted access line' });
    await new Promise((r) => setTimeout(r, 200));
    for (const gw of [a, b]) {
      expect(gw.output()).not.toContain(ticket);
      expect(gw.output()).not.toMatch(/g2dt_[A-Za-z0-9_-]{43}/);
    }
  });
});

describe('node key rotation with overlap on two instances', () => {
  const heartbeat = (gw: GatewayProcess, key: string) =>
    call(`${gw.url}/api/v1/edge/heartbeat`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  const rotate = (gw: GatewayProcess, key: string) =>
    call(`${gw.url}/api/v1/nodes/rotate-key`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });

  async function node() {
    const tenant = await makeTenant(db);
    const key = generateNodeKey();
    const created = await nodes.create({ tenantId: tenant.id, name: uniq('edge'), apiKeyHash: key.hash });
    return { id: created.id, key: key.rawKey };
  }

  it('a retry with the old key (on the other instance) returns the same new key; the old key dies everywhere once the new one is used', async () => {
    const n = await node();
    // Both instances have the old key cached as valid.
    for (const gw of [a, b]) expect((await heartbeat(gw, n.key)).status).toBe(200);
    const first = await rotate(a, n.key);
    expect(first.status).toBe(200);
    const fresh = first.body.data.api_key as string;
    expect(fresh).toMatch(NODE_KEY_RE);
    // The node lost the answer and retries elsewhere: the same key, never a third one.
    const retried = await rotate(b, n.key);
    expect(retried.status).toBe(200);
    expect(retried.body.data.api_key).toBe(fresh);
    expect((await rotate(a, n.key)).body.data.api_key).toBe(fresh);
    for (const gw of [a, b]) expect((await heartbeat(gw, n.key)).status).toBe(200);
    // The new key is never stored, not even encrypted: only digests and a nonce are.
    const row = (await db.query('SELECT * FROM nodes WHERE id = $1', [n.id])).rows[0];
    expect(JSON.stringify(row)).not.toContain(fresh.slice(5));
    expect(row).toMatchObject({ api_key_hash: hashKey(fresh), previous_key_hash: hashKey(n.key) });

    // First use of the new key, on B: the old key is dead on B at once and on A through NOTIFY.
    expect((await heartbeat(b, fresh)).status).toBe(200);
    expect((await heartbeat(b, n.key)).status).toBe(401);
    await waitFor(async () => (await heartbeat(a, n.key)).status === 401, {
      timeoutMs: 2_000,
      what: 'old key refused on A',
    });
    expect((await rotate(a, n.key)).status).toBe(401);
    expect((await heartbeat(a, fresh)).status).toBe(200);
    await expect
      .poll(async () =>
        (
          await db.query<{ detail: { retry: boolean } }>(
            "SELECT detail FROM auth_events WHERE node_id = $1 AND event = 'node_key_rotated'",
            [n.id],
          )
        ).rows
          .map((r) => r.detail.retry)
          .sort(),
      )
      .toEqual([false, true, true]);
  });

  it('without a use of the new key, the old key dies when the grace ends; a retry after it is 401', async () => {
    const n = await node();
    for (const gw of [a, b]) expect((await heartbeat(gw, n.key)).status).toBe(200);
    const res = await rotate(b, n.key);
    expect(res.status).toBe(200);
    for (const gw of [a, b]) expect((await heartbeat(gw, n.key)).status).toBe(200);
    await new Promise((r) => setTimeout(r, GRACE_SECONDS * 1000 + 300));
    for (const gw of [a, b]) expect((await heartbeat(gw, n.key)).status).toBe(401);
    expect((await rotate(a, n.key)).status).toBe(401);
    for (const gw of [a, b]) expect((await heartbeat(gw, res.body.data.api_key)).status).toBe(200);
  }, 15_000);

  it('rotating with the new key is a use of it: a fresh rotation, and the first old key is dead', async () => {
    const n = await node();
    const second = (await rotate(a, n.key)).body.data.api_key as string;
    const third = await rotate(b, second);
    expect(third.status).toBe(200);
    expect(third.body.data.api_key).not.toBe(second);
    expect((await heartbeat(a, n.key)).status).toBe(401);
    expect((await rotate(a, second)).body.data.api_key).toBe(third.body.data.api_key); // second is now the previous key: a retry
  });
});
