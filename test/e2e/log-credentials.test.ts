/**
 * No credential in any log line, whatever its spelling: the real `serve` process is sent a
 * catalogue of query-parameter spellings (`%74oken`, `TOKEN`, `to%6Ben`, `token[]`, `+token`,
 * double-encoded, `access_token`, `api_key`, `ticket`, `refresh_token` …) and credential-shaped
 * values under ordinary names, in paths, in X-Request-Id, on user, node, public, gateway-owned and
 * WebSocket routes, with successes, refusals, audit events and upstream failures; then its captured
 * output is searched for every secret and its telling pieces (docs/security-model.md).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateNodeKey } from '../../gateway/auth/node-keys.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser, uniq } from '../helpers/fixtures.js';
import { deadPort } from '../helpers/proxy-env.js';
import { jsonLines, startGateway, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
const SIGNING_KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const b64 = (n: number) => randomBytes(n).toString('base64url');

/** Parameter spellings an upstream (or the gateway's own authenticator) reads as a credential. */
const NAME_CATALOGUE = [
  'token',
  '%74oken',
  'TOKEN',
  'Token',
  'to%6Ben',
  '%2574oken',
  'token[]',
  'token%5B%5D',
  '+token',
  '%20token',
  'token.',
  'tok%C2%ADen',
  'access_token',
  'ACCESS-TOKEN',
  'access%5Ftoken',
  'api_key',
  'apiKey',
  'x-api-key',
  'ticket',
  'TICKET',
  'refresh_token',
  'id_token',
  'password',
  'client_secret',
  'key',
];

/** A raw request on its own connection (no client-side normalization); resolves with the status line's code. */
function raw(port: number, target: string, headers: Record<string, string> = {}, upgrade = false): Promise<number> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      const ws = upgrade
        ? 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
        : 'Connection: close\r\n';
      s.write(`GET ${target} HTTP/1.1\r\nHost: gw\r\n${ws}${extra}\r\n`);
    });
    let data = '';
    const done = () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0));
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (upgrade && data.includes('\r\n\r\n')) s.destroy();
    });
    s.on('error', done);
    s.on('close', done);
    setTimeout(() => s.destroy(), 5000);
  });
}

describe('no credential in any log line, under any spelling', () => {
  let gw: GatewayProcess;
  let upstream: TestUpstream;
  let dir: string;

  beforeAll(async () => {
    upstream = await startTestUpstream();
    dir = mkdtempSync(join(tmpdir(), 'g2d-logcred-'));
    const routes = join(dir, 'routes.json');
    writeFileSync(
      routes,
      JSON.stringify([
        { prefix: '/api/v1/edge/health', auth: 'public' },
        { prefix: '/api/v1/nodes', auth: 'node' },
        { prefix: '/api/v1/edge', auth: 'node' },
        { prefix: '/api/v1/dead', upstream: `http://127.0.0.1:${await deadPort()}`, auth: 'public' },
        { prefix: '/api/v1', auth: 'user' },
        { prefix: '/ws/agent', auth: 'user', websocket: true },
      ]),
    );
    gw = await startGateway({
      DATABASE_URL: inject('databaseUrl'),
      REDIS_URL: inject('redisUrl'),
      REDIS_KEY_PREFIX: `${inject('redisPrefix')}logcred:`,
      AUTH_JWT_SECRET: `logcred-${b64(24)}`,
      IDENTITY_SIGNING_KEY: SIGNING_KEY,
      AUTH_LOGIN_IP_LIMIT: '100000',
      UPSTREAM_URL: upstream.url,
      GATEWAY_ROUTES_FILE: routes,
      LOG_LEVEL: 'debug',
      SHUTDOWN_GRACE_SECONDS: '2',
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
    await db.close();
  });

  it('access, error and audit lines hold no token, key, refresh token or ticket', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const login = await call(`${gw.url}/api/v1/auth/login`, {
      method: 'POST',
      json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
    });
    expect(login.status).toBe(200);
    const jwt: string = login.body.data.token;
    const key = generateNodeKey();
    await createNodeStore(db).create({ tenantId: tenant.id, name: uniq('edge'), apiKeyHash: key.hash });
    const refresh = `g2dr_${b64(32)}`;
    const bearer = { Authorization: `Bearer ${jwt}` };
    const nodeAuth = { Authorization: `Bearer ${key.rawKey}` };

    const secrets: string[] = [jwt, key.rawKey, refresh];
    const statuses: [string, number][] = [];
    const hit = async (label: string, p: Promise<number>) => statuses.push([label, await p]);

    // 1. Every spelling of a credential parameter, with an opaque secret nobody could recognise by shape.
    for (const name of NAME_CATALOGUE) {
      const opaque = `opaque${b64(12)}`;
      secrets.push(opaque);
      await hit(`user ${name}`, raw(gw.port, `/api/v1/things?page=2&${name}=${opaque}`, bearer));
      await hit(`gateway ${name}`, raw(gw.port, `/api/v1/auth/me?${name}=${opaque}`, bearer));
      await hit(`public ${name}`, raw(gw.port, `/api/v1/edge/health?${name}=${opaque}`));
      await hit(`node ${name}`, raw(gw.port, `/api/v1/edge/state?${name}=${opaque}`, nodeAuth));
      await hit(`dead ${name}`, raw(gw.port, `/api/v1/dead/x?${name}=${opaque}`));
      await hit(`ws ${name}`, raw(gw.port, `/ws/agent?${name}=${opaque}`, {}, true));
    }
    // 2. Credential-shaped values under names that say nothing, plain and percent-encoded.
    const encodeAll = (s: string) => [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    for (const value of [
      jwt,
      key.rawKey,
      refresh,
      encodeAll(jwt),
      encodeAll(key.rawKey),
      encodeURIComponent(encodeAll(refresh)),
      `x${jwt}`,
    ]) {
      await hit('user value', raw(gw.port, `/api/v1/things?q=${value}&page=2`, bearer));
      await hit('public value', raw(gw.port, `/api/v1/edge/health?${value}`));
      await hit('dead value', raw(gw.port, `/api/v1/dead/x?filter=${value}#frag`));
      await hit('ws value', raw(gw.port, `/ws/agent?token=${jwt}&room=${value}`, {}, true));
      await hit('gateway value', raw(gw.port, `/api/v1/auth/me?q=${value}`));
    }
    // 3. Credentials in paths (user route, a node route whose key is wrong: an audit event with the path).
    await hit('user path', raw(gw.port, `/api/v1/files/${jwt}`, bearer));
    await hit(
      'node path',
      raw(gw.port, `/api/v1/edge/files/${key.rawKey}/${jwt}`, { Authorization: `Bearer g2dn_${b64(32)}` }),
    );
    await hit('dead path', raw(gw.port, `/api/v1/dead/${refresh}`));
    // 4. A credential offered as the request id (it is logged with every line of the request).
    await hit('request id', raw(gw.port, '/api/v1/things', { ...bearer, 'X-Request-Id': key.rawKey }));
    // 5. The WebSocket upgrade that authenticates by ?token= spellings.
    await hit('ws %74oken', raw(gw.port, `/ws/agent?%74oken=${jwt}`, {}, true));
    await hit('ws TOKEN', raw(gw.port, `/ws/agent?room=1&TOKEN=${jwt}`, {}, true));

    expect(await gw.stop()).toBe(0);
    const output = gw.output();
    const leaks: string[] = [];
    for (const s of secrets) {
      const pieces = [s];
      if (s.split('.').length === 3) pieces.push(s.split('.')[2] as string);
      if (/^g2d[a-z]_/.test(s)) pieces.push(s.slice(5, 30));
      for (const p of pieces) if (output.includes(p)) leaks.push(`${s.slice(0, 10)}… (${statuses.length} requests)`);
    }
    expect(
      leaks,
      output
        .split('\n')
        .filter((l) => secrets.some((s) => l.includes(s)))
        .slice(0, 3)
        .join('\n'),
    ).toEqual([]);

    // The exercise did what it says: proxied successes, refusals, upgrades, audit and error lines.
    const codes = new Set(statuses.map(([, s]) => s));
    for (const c of [101, 200, 401, 502]) expect(codes.has(c), `a ${c} among ${[...codes].join(',')}`).toBe(true);
    const lines = jsonLines(output);
    const access = lines.filter((l) => l.msg === 'request');
    expect(access.length).toBeGreaterThanOrEqual(statuses.length);
    expect(access.some((l) => l.url === '/api/v1/auth/me?%74oken=[REDACTED]')).toBe(true);
    expect(access.some((l) => l.url === '/api/v1/things?page=2&token=[REDACTED]')).toBe(true);
    expect(
      lines.some((l) => l.audit === 'node_auth_failure' && typeof (l.detail as { path?: string }).path === 'string'),
    ).toBe(true);
    expect(lines.some((l) => l.level === 'error')).toBe(true);
  }, 60_000);
});
