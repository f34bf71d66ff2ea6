/**
 * What the upstream may receive (proxy/headers.ts, proxy/query.ts), as properties: whatever header
 * names, casings, schemes, whitespace and query spellings a client uses, none of the gateway's
 * credentials goes upstream; the identity headers of other systems are stripped; the gateway's own
 * X-G2D-* headers can be neither removed nor replaced.
 */
import type { IncomingHttpHeaders } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../gateway/auth/types.js';
import { buildUpstreamHeaders, compileHeaderStrip } from '../../gateway/proxy/headers.js';
import { upstreamQuery } from '../../gateway/proxy/query.js';

const T1 = '11111111-1111-4111-8111-111111111111';
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1LTEiLCJ0aWQiOiJ0LTEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtMDEyMzQ1';
const KEY = `g2dn_${'Ab3_'.repeat(10)}xyz`;
const REFRESH = `g2dr_${'Zz9-'.repeat(10)}abc`;
const CREDENTIALS = [JWT, KEY, REFRESH];
const PIECES = CREDENTIALS.flatMap((c) => [c, c.slice(-30)]);
const IDENTITIES: Identity[] = [
  {
    kind: 'user',
    tenantId: T1,
    homeTenantId: T1,
    userId: 'u-1',
    email: 'ana@example.com',
    role: 'agent',
    jti: 'j',
    iat: 0,
    exp: 0,
  },
  { kind: 'node', tenantId: T1, nodeId: 'n-1', nodeName: 'edge' },
  { kind: 'public' },
];

function build(
  headers: IncomingHttpHeaders,
  identity: Identity,
  extra: { strip?: string[]; websocket?: boolean } = {},
) {
  return buildUpstreamHeaders({
    req: { headers, socket: { remoteAddress: '203.0.113.7', encrypted: false } },
    requestId: 'gw-request-id-1',
    trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01', parentId: '00f067aa0ba902b7' },
    identity,
    assertion: 'signed.jws.value',
    trustedPeer: true,
    websocket: extra.websocket ?? false,
    ...(extra.strip ? { strip: compileHeaderStrip(extra.strip) } : {}),
  });
}

const credential = fc.constantFrom(...CREDENTIALS);
/** A header value carrying a credential the way clients (or attackers) write it. */
const carrying = fc
  .tuple(
    fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Token', 'token', 'JWT', 'ApiKey', '', 'Basic'),
    fc.constantFrom(' ', '  ', '\t', ' \t', ''),
    credential,
    fc.constantFrom('', '=', '==', ' ', ', Basic Zm9v'),
    fc.constantFrom('', 'session=abc; ', 'lang=fr; jwt='),
  )
  .map(([scheme, ws, cred, tail, lead]) => {
    if (scheme === 'Basic') return `Basic ${Buffer.from(`user:${cred}`).toString('base64')}`;
    return `${lead}${scheme}${scheme === '' ? '' : ws || ' '}${cred}${tail}`;
  });
const headerName = fc.constantFrom(
  'authorization',
  'x-api-key',
  'x-auth-token',
  'cookie',
  'x-access-token',
  'token',
  'api-key',
  'x-custom',
  'tracestate',
  'x-forwarded-host',
  'x-forwarded-for',
  'referer',
  'x-refresh-token',
  'sec-websocket-protocol',
);

describe('no gateway credential in any upstream header', () => {
  it('property: any header name, scheme, whitespace, position, route kind', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(headerName, carrying), { minLength: 1, maxLength: 5 }),
        fc.constantFrom(...IDENTITIES),
        fc.boolean(),
        (pairs, identity, websocket) => {
          const headers: IncomingHttpHeaders = { 'x-kept': 'plain', host: 'gw.example' };
          for (const [name, value] of pairs)
            headers[name] = headers[name] === undefined ? value : `${String(headers[name])}, ${value}`;
          const out = build(headers, identity, { websocket });
          const text = JSON.stringify(out);
          for (const p of PIECES) expect(text).not.toContain(p);
          expect(out['x-kept']).toBe('plain');
          if (identity.kind !== 'public') expect(out.authorization).toBeUndefined();
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a header named like a credential, an array value, and the cookies around one', () => {
    expect(
      Object.keys(build({ [JWT.toLowerCase()]: '1', [KEY.toLowerCase()]: '1' }, IDENTITIES[2] as Identity)),
    ).not.toContain(KEY.toLowerCase());
    const out = build({ cookie: `theme=dark; auth=${JWT}; lang=fr` }, IDENTITIES[2] as Identity);
    expect(out.cookie).toBe('theme=dark; lang=fr');
  });

  it('on public routes a foreign credential passes (Basic, a partner bearer); the gateway’s never does', () => {
    const pub = IDENTITIES[2] as Identity;
    expect(build({ authorization: 'Basic Zm9vOmJhcg==' }, pub).authorization).toBe('Basic Zm9vOmJhcg==');
    expect(build({ authorization: 'Bearer opaque-partner-token' }, pub).authorization).toBe(
      'Bearer opaque-partner-token',
    );
    for (const v of [`Bearer\t${JWT}`, `bearer  ${JWT}`, `Bearer ${JWT}=`, `Token ${KEY}`, `Bearer ${REFRESH}`])
      expect(build({ authorization: v }, pub).authorization, v).toBeUndefined();
    expect(build({ 'x-api-key': KEY }, pub)['x-api-key']).toBeUndefined();
  });
});

describe('STRIP_CLIENT_HEADERS and strip-then-inject', () => {
  const defaults = [
    'X-Tenant-Id',
    'X-User-Id',
    'X-User-Role',
    'X-Node-Id',
    'Remote-User',
    'X-Forwarded-User',
    'X-Auth-Request-User',
    'X-Auth-Request-Email',
    'X-Auth-Request-Groups',
  ];
  const spell = (name: string) =>
    fc
      .tuple(fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }), fc.boolean())
      .map(([upper, underscore]) => {
        const cased = [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join('');
        return underscore ? cased.replaceAll('-', '_') : cased;
      });
  const ours = [
    'x-g2d-auth',
    'x-g2d-tenant-id',
    'x-g2d-user-id',
    'x-g2d-user-email',
    'x-g2d-role',
    'x-g2d-node-id',
    'x-g2d-identity',
    'x-g2d-acting-tenant-id',
    'x-g2d-auth-methods',
  ];

  it('property: other systems’ identity headers never pass, in any casing, duplicated, any value; ours always win', () => {
    const name = fc.oneof(
      fc.constantFrom(...defaults).chain(spell),
      fc.constantFrom(...ours).chain(spell),
      fc.constantFrom('connection'),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, fc.string({ maxLength: 40 })), { minLength: 1, maxLength: 8 }),
        fc.constantFrom(...IDENTITIES),
        (pairs, identity) => {
          // Node lower-cases names; underscores stay (some servers fold them to '-': both spellings count).
          const headers: IncomingHttpHeaders = {};
          for (const [n, v] of pairs) {
            const key = n.toLowerCase();
            headers[key] =
              key === 'connection' ? ours.join(', ') : headers[key] === undefined ? v : `${String(headers[key])}, ${v}`;
          }
          const out = build(headers, identity);
          for (const k of Object.keys(out)) {
            const folded = k.replaceAll('_', '-');
            expect(defaults.map((d) => d.toLowerCase())).not.toContain(folded);
            expect(folded.startsWith('x-auth-request-')).toBe(false);
          }
          expect(out['x-g2d-auth']).toBe(identity.kind);
          expect(out['x-g2d-identity']).toBe('signed.jws.value');
          if (identity.kind !== 'public') expect(out['x-g2d-tenant-id']).toBe(T1);
          for (const k of Object.keys(out).filter((x) => /^x[-_]g2d[-_]/.test(x))) expect(ours).toContain(k);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a configured list replaces the defaults; `*` is a prefix', () => {
    const out = build(
      { 'x-tenant-id': 'a', 'x-team': 'b', 'x-team-role': 'c', 'x-other': 'd' },
      IDENTITIES[0] as Identity,
      { strip: ['x-team*'] },
    );
    expect(out).toMatchObject({ 'x-tenant-id': 'a', 'x-other': 'd' });
    expect(out['x-team']).toBeUndefined();
    expect(out['x-team-role']).toBeUndefined();
  });
});

describe('upstreamQuery', () => {
  it.each([
    ['', ''],
    ['a=1&b=2', 'a=1&b=2'],
    ['a=%2F&b=+&c&a=2&d=&e=%C3%A9', 'a=%2F&b=+&c&a=2&d=&e=%C3%A9'],
    ['token=x&room=1', 'room=1'],
    ['room=1&%74oken=x&TOKEN=y&to%6Ben=z&token[]=w&+token=v&%2574oken=u', 'room=1'],
    ['ticket=abc&Ticket=d&a=1', 'a=1'],
    [`q=${JWT}&api_key=${KEY}&access_token=${JWT}&refresh_token=${REFRESH}&page=2`, 'page=2'],
    [`a=1;token=x&b=2`, 'b=2'],
    ['tokens=1&my_token=2&page_token=3', 'tokens=1&my_token=2&page_token=3'],
    ['api_key=partner-key&access_token=opaque', 'api_key=partner-key&access_token=opaque'],
  ])('%j → %j', (input, expected) => {
    expect(upstreamQuery(input)).toBe(expected);
  });

  it('property: no credential survives; every other pair keeps its bytes and order', () => {
    const name = fc.constantFrom(
      'token',
      '%74oken',
      'TOKEN',
      'to%6Ben',
      'token[]',
      '+token',
      '%2574oken',
      'ticket',
      'q',
      'api_key',
      'access_token',
      'refresh_token',
      'x',
    );
    const value = fc.oneof(
      credential,
      credential.map((c) => encodeURIComponent(c).replaceAll('_', '%5F')),
      credential.map((c) => `Bearer+${c}`),
    );
    const plain = fc
      .tuple(fc.constantFrom('a', 'b', 'page', 'q', 'x'), fc.constantFrom('', '=', '=1', '=%20', '=+', '=%C3%A9'))
      .map(([n, v]) => `${n}${v}`);
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            plain,
            fc.tuple(name, value).map(([n, v]) => `${n}=${v}`),
          ),
          { maxLength: 8 },
        ),
        (parts) => {
          const out = upstreamQuery(parts.join('&'));
          for (const p of PIECES) expect(decodeURIComponent(out.replaceAll('+', ' '))).not.toContain(p);
          expect(out).toBe(parts.filter((p) => /^(?:a|b|page|q|x)(?:=|=1|=%20|=\+|=%C3%A9)?$/.test(p)).join('&'));
        },
      ),
      { numRuns: 300 },
    );
  });
});
