/**
 * End to end over real sockets: the gateway in process in front of the verifying stub, which
 * echoes every header and the query it received. Whatever a client sends — header names in any
 * casing, any scheme and whitespace, query spellings, on user, node, public and WebSocket routes —
 * the upstream never sees one of the gateway's credentials (a JWT, a node key, a refresh token, a
 * ticket), and never the Authorization header a user or node request authenticated with.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { generateNodeKey } from '../../gateway/auth/node-keys.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser, uniq } from '../helpers/fixtures.js';
import { send, startProxyEnv, type ProxyEnv } from '../helpers/proxy-env.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
let env: ProxyEnv;
let jwt: string;
let nodeKey: string;
const refresh = `g2dr_${randomBytes(32).toString('base64url')}`;
const ticket = `tkt${randomBytes(24).toString('hex')}`;

beforeAll(async () => {
  env = await startProxyEnv(
    [
      { prefix: '/api/v1/edge/health', upstream: '{STUB}', auth: 'public' },
      { prefix: '/api/v1/edge', upstream: '{STUB}', auth: 'node' },
      { prefix: '/api/v1', upstream: '{STUB}', auth: 'user' },
      { prefix: '/ws/agent', upstream: '{STUB}', auth: 'user', websocket: true },
      { prefix: '/ws/pub', upstream: '{STUB}', auth: 'public', websocket: true },
    ],
    {},
    'proxy-credentials',
  );
  const tenant = await makeTenant(db);
  const user = await makeUser(db, tenant);
  const res = await call(`${env.base}/api/v1/auth/login`, {
    method: 'POST',
    json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
  });
  jwt = res.body.data.token;
  const key = generateNodeKey();
  await createNodeStore(db).create({ tenantId: tenant.id, name: uniq('edge'), apiKeyHash: key.hash });
  nodeKey = key.rawKey;
});

afterAll(async () => {
  await env?.close();
  await db.close();
});

const secrets = () => [jwt, nodeKey, refresh, ticket, (jwt.split('.')[2] as string).slice(0, 30), nodeKey.slice(5, 30)];

/** What reached the stub last: its request-target and the headers it echoed. */
function seenUpstream(body: unknown): string {
  return `${env.stub.received.at(-1) ?? ''}\n${JSON.stringify(body)}`;
}

const casing = (name: string) =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));

describe('the upstream never sees a gateway credential', () => {
  it('property: header names, casings, schemes, whitespace and query spellings on user, node and public routes', async () => {
    const which = fc.constantFrom('jwt', 'key', 'refresh');
    const header = fc.tuple(
      fc
        .constantFrom('authorization', 'x-api-key', 'x-auth-token', 'x-access-token', 'cookie', 'x-custom')
        .chain(casing),
      fc.constantFrom('Bearer ', 'bearer  ', 'Bearer\t', 'Token ', 'BEARER ', '', 'jwt='),
      which,
      fc.constantFrom('', '=', ' '),
    );
    const param = fc.tuple(
      fc.constantFrom(
        'token',
        '%74oken',
        'TOKEN',
        'to%6Ben',
        'token[]',
        '+token',
        'access_token',
        'api_key',
        'refresh_token',
        'q',
        'ticket',
        'Ticket',
      ),
      which,
    );
    const route = fc.constantFrom('user', 'node', 'public');
    await fc.assert(
      fc.asyncProperty(
        route,
        fc.array(header, { maxLength: 3 }),
        fc.array(param, { maxLength: 3 }),
        async (kind, headerParts, params) => {
          const value = (w: string) => (w === 'jwt' ? jwt : w === 'key' ? nodeKey : refresh);
          const headers: Record<string, string> = {};
          for (const [name, scheme, w, tail] of headerParts)
            if (name.toLowerCase() !== 'authorization') headers[name] = `${scheme}${value(w)}${tail}`;
          // The route's own credential, so user and node requests get through to the stub.
          if (kind === 'user') headers.Authorization = `Bearer ${jwt}`;
          else if (kind === 'node') headers.authorization = `Bearer ${nodeKey}`;
          else {
            const own = headerParts.find(([n]) => n.toLowerCase() === 'authorization');
            if (own) headers[own[0]] = `${own[1]}${value(own[2])}${own[3]}`;
          }
          const query = [
            ...params.map(([n, w]) => `${n}=${n.toLowerCase() === 'ticket' ? ticket : encodeURIComponent(value(w))}`),
            'page=2',
          ].join('&');
          const path =
            kind === 'user' ? '/api/v1/calls' : kind === 'node' ? '/api/v1/edge/state' : '/api/v1/edge/health';
          const res = await send(`${env.base}${path}?${query}`, { headers });
          expect(res.status, JSON.stringify(res.json)).toBe(200);
          const seen = seenUpstream(res.json);
          for (const s of secrets()) expect(seen.includes(s), `${kind}: upstream saw ${s.slice(0, 8)}…`).toBe(false);
          if (kind !== 'public') expect(res.json.data.headers.authorization).toBeUndefined();
          expect(res.json.data.query).toMatch(/(?:^|&)page=2$/);
        },
      ),
      { numRuns: 60 },
    );
  }, 60_000);

  it('a valid bearer plus ?token=<jwt> on a user route: the query token is dropped', async () => {
    const res = await send(`${env.base}/api/v1/calls?token=${jwt}&limit=5`, {
      headers: { authorization: `Bearer ${jwt}` },
    });
    expect(res.status).toBe(200);
    expect(res.json.data.query).toBe('limit=5');
    expect(seenUpstream(res.json)).not.toContain(jwt);
  });

  it('public route: Bearer<TAB>, double space, padding, Token scheme, X-Api-Key, ?api_key=, ?access_token=', async () => {
    for (const headers of [
      { authorization: `Bearer\t${jwt}` },
      { authorization: `bearer  ${jwt}` },
      { authorization: `Bearer ${jwt}=` },
      { authorization: `Token ${nodeKey}` },
      { 'X-Api-Key': nodeKey },
    ]) {
      const res = await send(`${env.base}/api/v1/edge/health?api_key=${nodeKey}&access_token=${jwt}&ok=1`, { headers });
      expect(res.status).toBe(200);
      expect(res.json.data.query).toBe('ok=1');
      const seen = seenUpstream(res.json);
      for (const s of secrets()) expect(seen.includes(s), JSON.stringify(headers)).toBe(false);
    }
  });

  it('WebSocket upgrades: token/ticket spellings, credential values, subprotocols and headers stay at the gateway', async () => {
    const base = env.base.replace('http', 'ws');
    for (const [path, headers, protocols] of [
      [`/ws/agent?%74oken=${jwt}&room=1&api_key=${nodeKey}`, { 'X-Api-Key': nodeKey }, []],
      [`/ws/agent?room=1&TOKEN=${jwt}`, { Cookie: `a=1; t=${refresh}` }, []],
      [`/ws/agent?room=1`, { Authorization: `Bearer ${jwt}` }, ['access_token', jwt]],
      [`/ws/pub?room=1&access_token=${jwt}&ticket=${ticket}`, { Authorization: `Bearer\t${jwt}` }, []],
    ] as [string, Record<string, string>, string[]][]) {
      const ws = new WebSocket(`${base}${path}`, protocols, { headers });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`${path}: status ${res.statusCode}`)));
        ws.once('error', reject);
      });
      ws.send('whoami');
      const who = await new Promise<string>((resolve) => ws.once('message', (d: Buffer) => resolve(d.toString())));
      ws.close();
      expect(JSON.parse(who).url).toBe(`${path.split('?')[0]}?room=1`);
      for (const s of secrets()) expect(who.includes(s), `${path}: upstream saw ${s.slice(0, 8)}…`).toBe(false);
    }
    // A token and a ticket together are ambiguous: refused before anything goes upstream.
    const both = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${base}/ws/agent?%74oken=${jwt}&room=1&ticket=${ticket}`);
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('a token and a ticket together were accepted')));
      ws.once('error', reject);
    });
    expect(both).toBe(400);
  });
});

describe('identity headers of other systems (STRIP_CLIENT_HEADERS defaults)', () => {
  it('never reach the upstream, in any casing or with underscores; the gateway’s X-G2D-* win', async () => {
    const res = await send(`${env.base}/api/v1/edge/health`, {
      headers: {
        'X-Tenant-Id': 'evil-tenant',
        'x-user-id': 'evil-user',
        'X-USER-ROLE': 'platform_admin',
        X_Node_Id: 'evil-node',
        'Remote-User': 'admin',
        'X-Forwarded-User': 'admin',
        'X-Auth-Request-Email': 'admin@example.com',
        'x-auth-request-groups': 'admins',
        'X-G2D-Auth': 'user',
        'X-Kept': 'yes',
      },
    });
    expect(res.status).toBe(200);
    const seen = res.json.data.headers as Record<string, string>;
    expect(JSON.stringify(seen)).not.toMatch(/evil|admin/);
    expect(seen['x-g2d-auth']).toBe('public');
    expect(seen['x-kept']).toBe('yes');
  });
});

describe('route confusion by case and trailing junk', () => {
  it('a path that folds onto another route is 400 and never reaches the upstream; a harmless capital passes', async () => {
    const before = env.stub.received.length;
    for (const path of [
      '/api/v1/EDGE/state',
      '/api/v1/edge./state',
      '/api/v1/edge%20/state',
      '/api/v1/edge%E2%80%8B/state',
      '/api/v1/AUTH/me',
      '/api/v1/Edge/health',
    ]) {
      const res = await send(`${env.base}${path}`, { headers: { authorization: `Bearer ${jwt}` } });
      expect(res.status, path).toBe(400);
      expect(res.json).toEqual({ status: 'error', message: 'invalid request path' });
    }
    expect(env.stub.received.length).toBe(before);
    const ok = await send(`${env.base}/api/v1/Calls`, { headers: { authorization: `Bearer ${jwt}` } });
    expect(ok.status).toBe(200);
    expect(ok.json.data.path).toBe('/api/v1/Calls');
  });
});
