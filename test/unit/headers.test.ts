import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Identity, UserIdentity } from '../../gateway/auth/types.js';
import { buildUpstreamHeaders, filterResponseHeaders } from '../../gateway/proxy/headers.js';
import { sanitizeCloseCode, stripTokenParam, validClientHandshake } from '../../gateway/proxy/ws-frames.js';

const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';
const user: UserIdentity = {
  kind: 'user',
  tenantId: T1,
  homeTenantId: T1,
  userId: 'u-1',
  email: 'ana@example.com',
  role: 'agent',
  jti: 'j',
  iat: 0,
  exp: 0,
};
const TRACE = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01', parentId: null };

function build(
  headers: IncomingHttpHeaders,
  opts: {
    identity?: Identity;
    trusted?: boolean;
    peer?: string;
    websocket?: boolean;
    encrypted?: boolean;
    parentId?: string | null;
  } = {},
) {
  return buildUpstreamHeaders({
    req: { headers, socket: { remoteAddress: opts.peer ?? '203.0.113.7', encrypted: opts.encrypted ?? false } },
    requestId: 'gw-request-id-1',
    trace: { ...TRACE, parentId: opts.parentId ?? null },
    identity: opts.identity ?? user,
    assertion: 'signed.jws.value',
    trustedPeer: opts.trusted ?? false,
    websocket: opts.websocket ?? false,
  });
}

describe('strip: spoofed identity headers never reach the upstream (docs/upstream-integration.md)', () => {
  const spoofs = [
    'x-g2d-tenant-id',
    'X-G2D-Tenant-Id',
    'x-G2d-ROLE',
    'x-g2d-identity',
    'x-g2d-acting-tenant-id',
    'x-g2d-anything-new',
    'x_g2d_tenant_id',
    'X_G2D_ROLE',
    'x-g2d_user_id',
    'x_g2d-node-id',
  ];
  it.each(spoofs)('%s', (name) => {
    const out = build({ [name.toLowerCase()]: 'evil', [name]: 'evil' });
    for (const [k, v] of Object.entries(out)) {
      if (/^x[-_]g2d[-_]/i.test(k)) expect(v, k).not.toBe('evil');
    }
    expect(Object.keys(out).filter((k) => /^x[-_]g2d[-_]/i.test(k) && k !== k.toLowerCase())).toEqual([]);
    expect(Object.keys(out).filter((k) => k.includes('_'))).toEqual([]);
  });

  it('keeps look-alikes that are not ours', () => {
    const out = build({ 'x-g2dx': 'a', 'x-g2': 'b', 'xx-g2d-role': 'c' });
    expect(out).toMatchObject({ 'x-g2dx': 'a', 'x-g2': 'b', 'xx-g2d-role': 'c' });
  });
});

describe('strip: hop-by-hop (RFC 9110 §7.6.1) and Connection-nominated headers', () => {
  const hop = [
    'connection',
    'keep-alive',
    'proxy-connection',
    'te',
    'trailer',
    'transfer-encoding',
    'upgrade',
    'proxy-authorization',
    'proxy-authenticate',
    'host',
    'expect',
  ];
  it.each(hop)('%s is dropped', (name) => {
    const out = build({ [name]: name === 'connection' ? 'keep-alive' : 'x' });
    expect(out[name]).toBeUndefined();
  });

  it('drops every header the client names in Connection, in any case and spacing', () => {
    const out = build({ connection: 'keep-alive, X-Secret ,x-other', 'x-secret': '1', 'x-other': '2', 'x-kept': '3' });
    expect(out['x-secret']).toBeUndefined();
    expect(out['x-other']).toBeUndefined();
    expect(out['x-kept']).toBe('3');
  });

  it('a Connection header cannot remove the gateway headers (they are injected after the strip)', () => {
    const out = build({
      connection: 'x-forwarded-for, x-request-id, x-g2d-identity, x-g2d-auth, traceparent',
      'x-forwarded-for': '1.2.3.4',
    });
    expect(out).toMatchObject({
      'x-forwarded-for': '203.0.113.7',
      'x-request-id': 'gw-request-id-1',
      'x-g2d-identity': 'signed.jws.value',
      'x-g2d-auth': 'user',
      traceparent: TRACE.traceparent,
    });
  });
});

describe('strip: credentials', () => {
  it('authorization is removed on user and node requests', () => {
    expect(build({ authorization: 'Bearer abc' }).authorization).toBeUndefined();
    expect(
      build(
        { authorization: 'Bearer g2dn_x' },
        { identity: { kind: 'node', tenantId: T1, nodeId: 'n', nodeName: 'n' } },
      ).authorization,
    ).toBeUndefined();
  });
  it('kept on public routes (not the gateway’s credential)', () => {
    expect(build({ authorization: 'Basic Zm9v' }, { identity: { kind: 'public' } }).authorization).toBe('Basic Zm9v');
    expect(
      build({ authorization: 'Bearer opaque-partner-token' }, { identity: { kind: 'public' } }).authorization,
    ).toBe('Bearer opaque-partner-token');
  });
  it('removed on public routes when it is the gateway’s credential: a node key, a refresh token or a JWT (an edge node sends its key to edge/health too)', () => {
    const nodeKey = `g2dn_${'A'.repeat(43)}`;
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const refreshToken = `g2dr_${'B'.repeat(43)}`;
    for (const value of [
      `Bearer ${nodeKey}`,
      `bearer ${nodeKey}`,
      `Bearer ${jwt}`,
      `BEARER  ${jwt}`,
      `Bearer ${refreshToken}`,
    ]) {
      expect(build({ authorization: value }, { identity: { kind: 'public' } }).authorization, value).toBeUndefined();
    }
  });
  it('cookies and ordinary headers pass', () => {
    expect(
      build({ cookie: 'a=b', 'content-type': 'application/json', 'content-length': '12', accept: '*/*' }),
    ).toMatchObject({ cookie: 'a=b', 'content-type': 'application/json', 'content-length': '12', accept: '*/*' });
  });
});

describe('forwarding headers', () => {
  const fwd = {
    'x-forwarded-for': '198.51.100.1, 10.0.0.2',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'app.example.com',
    forwarded: 'for=198.51.100.1',
    'x-real-ip': '1.1.1.1',
    host: 'gw.internal:8080',
  };

  it('untrusted peer: its X-Forwarded-*/Forwarded are replaced by what the gateway saw', () => {
    const out = build(fwd, { trusted: false, peer: '::ffff:203.0.113.7' });
    expect(out['x-forwarded-for']).toBe('203.0.113.7');
    expect(out['x-forwarded-proto']).toBe('http');
    expect(out['x-forwarded-host']).toBe('gw.internal:8080');
    expect(out.forwarded).toBeUndefined();
    expect(out['x-real-ip']).toBeUndefined();
  });

  it('trusted peer: the chain is extended with the peer and proto/host are believed', () => {
    const out = build(fwd, { trusted: true, peer: '10.0.0.3' });
    expect(out['x-forwarded-for']).toBe('198.51.100.1, 10.0.0.2, 10.0.0.3');
    expect(out['x-forwarded-proto']).toBe('https');
    expect(out['x-forwarded-host']).toBe('app.example.com');
    expect(out.forwarded).toBe('for=198.51.100.1');
  });

  it('trusted peer with a nonsense proto falls back to the socket; TLS socket says https', () => {
    expect(build({ 'x-forwarded-proto': 'gopher' }, { trusted: true })['x-forwarded-proto']).toBe('http');
    expect(build({}, { encrypted: true })['x-forwarded-proto']).toBe('https');
  });
});

describe('inject', () => {
  it('user identity headers, request id and trace context win over client copies', () => {
    const out = build({
      'x-request-id': 'client-id-123456',
      traceparent: '00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01',
      tracestate: 'vendor=1',
    });
    expect(out).toMatchObject({
      'x-g2d-auth': 'user',
      'x-g2d-tenant-id': T1,
      'x-g2d-user-id': 'u-1',
      'x-g2d-user-email': 'ana@example.com',
      'x-g2d-role': 'agent',
      'x-g2d-identity': 'signed.jws.value',
      'x-request-id': 'gw-request-id-1',
      traceparent: TRACE.traceparent,
    });
    // tracestate belongs to the caller's trace; a new trace drops it.
    expect(out.tracestate).toBeUndefined();
    expect(build({ tracestate: 'vendor=1' }, { parentId: '00f067aa0ba902b7' }).tracestate).toBe('vendor=1');
  });

  it('platform admin acting cross-tenant gets X-G2D-Acting-Tenant-Id = home tenant', () => {
    const out = build({}, { identity: { ...user, role: 'platform_admin', tenantId: T2, homeTenantId: T1 } });
    expect(out['x-g2d-tenant-id']).toBe(T2);
    expect(out['x-g2d-acting-tenant-id']).toBe(T1);
  });

  it('node identity: node id, no user headers', () => {
    const out = build({}, { identity: { kind: 'node', tenantId: T1, nodeId: 'n-1', nodeName: 'edge' } });
    expect(out['x-g2d-node-id']).toBe('n-1');
    expect(out['x-g2d-user-id']).toBeUndefined();
    expect(out['x-g2d-role']).toBeUndefined();
  });

  it('websocket: the client handshake headers are not copied (the ws client writes its own)', () => {
    const out = build(
      {
        'sec-websocket-key': 'k',
        'sec-websocket-version': '13',
        'sec-websocket-protocol': 'p',
        'sec-websocket-extensions': 'permessage-deflate',
        origin: 'https://app.example.com',
      },
      { websocket: true },
    );
    expect(Object.keys(out).filter((k) => k.startsWith('sec-websocket'))).toEqual([]);
    expect(out.origin).toBe('https://app.example.com');
  });
});

describe('response headers', () => {
  it('drops hop-by-hop and Connection-nominated names, sets our request id', () => {
    const out = filterResponseHeaders(
      {
        connection: 'close, x-internal',
        'x-internal': 'secret',
        'transfer-encoding': 'chunked',
        'keep-alive': 'timeout=5',
        'content-type': 'text/plain',
        'set-cookie': ['a=1', 'b=2'],
        'x-request-id': 'upstream-id',
      },
      'gw-id',
    );
    expect(out).toEqual({ 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], 'x-request-id': 'gw-id' });
  });
});

describe('websocket helpers', () => {
  it.each([
    ['token=abc', ''],
    ['a=1&token=abc&b=2', 'a=1&b=2'],
    ['token=1&token=2&x=%20y', 'x=%20y'],
    ['%74oken=abc&keep=1', 'keep=1'],
    ['tok%65n=abc', ''],
    ['token', ''],
    ['tokens=1&my_token=2', 'tokens=1&my_token=2'],
    ['a=%zz&token=1', 'a=%zz'],
    ['', ''],
    ['ticket=g2dt_x&room=7', 'room=7'],
    ['room=7&%74icket=g2dt_x&tick%65t=y&ticket', 'room=7'],
    // Names are judged case-folded, as authentication reads them: `Ticket` is a ticket.
    ['tickets=1&my_ticket=2&Ticket=3', 'tickets=1&my_ticket=2'],
  ])('stripTokenParam(%j) = %j', (input, expected) => {
    expect(stripTokenParam(input)).toBe(expected);
  });

  it.each([
    [1000, 'client', { code: 1000, keepReason: true }],
    [4001, 'upstream', { code: 4001, keepReason: true }],
    [1011, 'upstream', { code: 1011, keepReason: true }],
    [1006, 'client', { code: 1001, keepReason: false }],
    [1006, 'upstream', { code: 1011, keepReason: false }],
    [1015, 'upstream', { code: 1011, keepReason: false }],
  ] as const)('close %i from %s', (code, from, expected) => {
    expect(sanitizeCloseCode(code, from)).toMatchObject(expected);
  });
  it('1005 (no status) is relayed as a close without a code', () => {
    expect(sanitizeCloseCode(1005, 'client')).toBeUndefined();
  });

  it('validates the client handshake before dialling the upstream', () => {
    const ok = {
      method: 'GET',
      headers: { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
    };
    expect(validClientHandshake(ok)).toBeNull();
    expect(validClientHandshake({ ...ok, method: 'POST' })).not.toBeNull();
    expect(validClientHandshake({ ...ok, headers: { ...ok.headers, 'sec-websocket-key': 'short' } })).not.toBeNull();
    expect(validClientHandshake({ ...ok, headers: { ...ok.headers, 'sec-websocket-version': '12' } })).not.toBeNull();
    expect(validClientHandshake({ ...ok, headers: { ...ok.headers, 'sec-websocket-protocol': 'a, b' } })).toBeNull();
    expect(
      validClientHandshake({ ...ok, headers: { ...ok.headers, 'sec-websocket-protocol': 'a, a' } }),
    ).not.toBeNull();
    expect(validClientHandshake({ ...ok, headers: { ...ok.headers, 'sec-websocket-protocol': 'a b' } })).not.toBeNull();
  });
});
