import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Identity } from '../auth/types.js';
import { IDENTITY_HEADERS } from '../auth/identity-verifier.js';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) plus those that only make sense on one connection:
 * `proxy-connection` (legacy), `upgrade` (the proxy speaks its own handshake), `expect` (the
 * gateway answers `100-continue` itself), `host` (the upstream gets its own).
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);
const REQUEST_ONLY_DROP: ReadonlySet<string> = new Set(['host', 'expect', 'http2-settings']);
/** The client's half of a WebSocket handshake; the gateway opens its own upstream (RFC 6455 §4.1). */
const WS_HANDSHAKE: ReadonlySet<string> = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol', 'sec-websocket-accept']);
const FORWARDED: ReadonlySet<string> = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix', 'x-real-ip', 'forwarded']);

/**
 * `x-g2d-`, `x_g2d_`, `x-g2d_`, `x_g2d-` in any case: servers that fold `_` into `-` (CGI, some
 * frameworks) would otherwise hand a spoofed identity header to the upstream. docs/upstream-integration.md.
 */
function isG2dHeader(name: string): boolean {
  if (name.length < 6) return false;
  const c0 = name.charCodeAt(0) | 0x20;
  if (c0 !== 0x78 /* x */) return false;
  const s1 = name.charCodeAt(1);
  const s5 = name.charCodeAt(5);
  return (s1 === 0x2d || s1 === 0x5f) && (s5 === 0x2d || s5 === 0x5f) && name.slice(2, 5).toLowerCase() === 'g2d';
}

/** The names a `Connection` header nominates as hop-by-hop (RFC 9110 §7.6.1); null when none beyond the usual. */
function nominated(connection: string | string[] | undefined): Set<string> | null {
  if (connection === undefined) return null;
  const value = Array.isArray(connection) ? connection.join(',') : connection;
  const lower = value.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close' || lower === 'upgrade') return null;
  const out = new Set<string>();
  for (const part of lower.split(',')) {
    const name = part.trim();
    if (name !== '') out.add(name);
  }
  return out;
}

/** `Bearer <node key>` or `Bearer <JWS compact>` (RFC 6750 §2.1; scheme case-insensitive). */
const GATEWAY_CREDENTIAL = /^bearer +(?:g2dn_[A-Za-z0-9_-]+|[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*) *$/i;

function isGatewayCredential(value: string | undefined): boolean {
  return value !== undefined && GATEWAY_CREDENTIAL.test(value);
}

export interface UpstreamHeaderInput {
  /** The client's request (only `headers` and the socket's address/TLS state are read). */
  readonly req: { readonly headers: IncomingHttpHeaders; readonly socket: { readonly remoteAddress?: string | undefined; readonly encrypted?: boolean } };
  readonly requestId: string;
  readonly identity: Identity;
  /** The signed assertion for `identity` (X-G2D-Identity). */
  readonly assertion: string;
  /** The socket peer is in TRUSTED_PROXIES: its X-Forwarded-* / Forwarded are kept and extended. */
  readonly trustedPeer: boolean;
  /** W3C trace context of the request (http/trace.ts): `traceparent` sent upstream; the caller's `tracestate` rides along when it continued a trace. */
  readonly trace: { readonly traceparent: string; readonly parentId: string | null };
  /** A WebSocket upgrade: the client's handshake headers are dropped (the `ws` client writes its own). */
  readonly websocket?: boolean;
}

function stripV4Mapped(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/**
 * The header set the upstream receives (docs/api.md, docs/upstream-integration.md): copy the client's headers
 * minus hop-by-hop ones, names listed in `Connection`, every `x-g2d-*` spelling, `authorization`
 * on user/node requests (tokens and node keys never go upstream) and forwarding headers from
 * untrusted peers; THEN add the gateway's own, so no client header can remove or replace them.
 */
export function buildUpstreamHeaders(input: UpstreamHeaderInput): Record<string, string | string[]> {
  const { req, identity } = input;
  const src = req.headers;
  const drop = nominated(src.connection);
  // On public routes a foreign credential passes, but never the gateway's own: edge nodes send
  // their key everywhere (edge/health too), browsers their JWT (docs/security-model.md: keys never go upstream).
  const dropAuthorization = identity.kind !== 'public' || isGatewayCredential(src.authorization);
  const out: Record<string, string | string[]> = {};
  for (const name in src) {
    const value = src[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || REQUEST_ONLY_DROP.has(name) || isG2dHeader(name)) continue;
    if (drop !== null && drop.has(name)) continue;
    if (dropAuthorization && name === 'authorization') continue;
    if (FORWARDED.has(name) && !input.trustedPeer) continue;
    if (input.websocket && WS_HANDSHAKE.has(name)) continue;
    if (name === 'traceparent' || name === 'tracestate' || name === 'x-request-id') continue;
    out[name] = value;
  }

  // ---- inject (after the strip: these always win)
  const peer = stripV4Mapped(req.socket.remoteAddress ?? '');
  const priorXff = input.trustedPeer ? joinList(src['x-forwarded-for']) : '';
  out['x-forwarded-for'] = priorXff ? `${priorXff}, ${peer}` : peer;
  const proto = input.trustedPeer ? firstToken(src['x-forwarded-proto']) : '';
  out['x-forwarded-proto'] = proto === 'http' || proto === 'https' ? proto : req.socket.encrypted ? 'https' : 'http';
  const fwdHost = input.trustedPeer ? firstToken(src['x-forwarded-host']) : '';
  const host = fwdHost || src.host;
  if (host) out['x-forwarded-host'] = host;
  else delete out['x-forwarded-host'];
  out['x-request-id'] = input.requestId;
  out.traceparent = input.trace.traceparent;
  if (input.trace.parentId !== null && typeof src.tracestate === 'string') out.tracestate = src.tracestate;

  const h = IDENTITY_HEADERS;
  out[h.auth] = identity.kind;
  if (identity.kind === 'user') {
    out[h.tenantId] = identity.tenantId;
    out[h.userId] = identity.userId;
    out[h.email] = identity.email;
    out[h.role] = identity.role;
    out[h.authMethods] = (identity.amr ?? ['pwd']).join(',');
    // docs/security-model.md: a platform admin acting cross-tenant; the header carries the admin's HOME tenant.
    if (identity.homeTenantId !== identity.tenantId) out[h.actingTenantId] = identity.homeTenantId;
  } else if (identity.kind === 'node') {
    out[h.tenantId] = identity.tenantId;
    out[h.nodeId] = identity.nodeId;
  }
  out[h.assertion] = input.assertion;
  return out;
}

function joinList(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return (Array.isArray(value) ? value.join(', ') : value).trim();
}

function firstToken(value: string | string[] | undefined): string {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return '';
  const comma = v.indexOf(',');
  return (comma === -1 ? v : v.slice(0, comma)).trim().toLowerCase();
}

/**
 * The upstream response headers the client receives: hop-by-hop ones and names the upstream's
 * `Connection` lists are dropped (the gateway frames its own response), `x-request-id` is ours.
 */
export function filterResponseHeaders(headers: Record<string, string | string[] | undefined>, requestId: string): OutgoingHttpHeaders {
  const drop = nominated(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (drop !== null && drop.has(name)) continue;
    out[name] = value;
  }
  out['x-request-id'] = requestId;
  return out;
}
