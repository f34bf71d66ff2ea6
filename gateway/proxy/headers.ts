import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Identity } from '../auth/types.js';
import { IDENTITY_HEADERS } from '@get2dial/identity-verifier';
import { DEFAULT_STRIP_CLIENT_HEADERS } from '../config/types.js';
import { holdsCredential, nameHoldsCredential } from '../util/credentials.js';

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
const WS_HANDSHAKE: ReadonlySet<string> = new Set([
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'sec-websocket-accept',
]);
const FORWARDED: ReadonlySet<string> = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
  'forwarded',
]);

/**
 * `x-g2d-`, `x_g2d_`, `x-g2d_`, `x_g2d-` in any case: servers that fold `_` into `-` (CGI, some
 * frameworks) would otherwise hand a spoofed identity header to the upstream. (docs/security-model.md)
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

/**
 * Client headers of other identity systems, compiled once from STRIP_CLIENT_HEADERS: exact names
 * in a Set, `*`-suffixed entries as prefixes; names compared lower-cased with `_` read as `-`
 * (CGI and some frameworks fold one into the other).
 */
export interface HeaderStrip {
  has(lowerName: string): boolean;
}

/** Compiles a STRIP_CLIENT_HEADERS list (defaults when undefined) into a lookup with no per-request allocation. */
export function compileHeaderStrip(entries: readonly string[] = DEFAULT_STRIP_CLIENT_HEADERS): HeaderStrip {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const raw of entries) {
    const e = raw.toLowerCase().replaceAll('_', '-');
    if (e.endsWith('*')) prefixes.push(e.slice(0, -1));
    else exact.add(e);
  }
  return {
    has(lowerName) {
      const n = lowerName.includes('_') ? lowerName.replaceAll('_', '-') : lowerName;
      if (exact.has(n)) return true;
      for (const p of prefixes) if (n.startsWith(p)) return true;
      return false;
    },
  };
}

const DEFAULT_STRIP = compileHeaderStrip();

/**
 * Whether a client header value carries one of the gateway's credentials (util/credentials.ts):
 * a JWT or a `g2d*_` secret under any scheme, spacing or position, also inside `Basic` (base64).
 */
function carriesCredential(name: string, value: string): boolean {
  if (holdsCredential(value)) return true;
  if (name === 'authorization' && value.length > 6 && /^basic\s/i.test(value)) {
    return holdsCredential(Buffer.from(value.slice(6).trim(), 'base64').toString('latin1'));
  }
  return false;
}

/** The Cookie header without the pairs that carry a credential (the others still go); null when none is left. */
function withoutCredentialCookies(value: string): string | null {
  const kept = value.split(';').filter((pair) => !holdsCredential(pair));
  return kept.length === 0 ? null : kept.map((p) => p.trim()).join('; ');
}

export interface UpstreamHeaderInput {
  /** The client's request (only `headers` and the socket's address/TLS state are read). */
  readonly req: {
    readonly headers: IncomingHttpHeaders;
    readonly socket: { readonly remoteAddress?: string | undefined; readonly encrypted?: boolean };
  };
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
  /** STRIP_CLIENT_HEADERS, compiled (compileHeaderStrip); the defaults when absent. */
  readonly strip?: HeaderStrip;
}

function stripV4Mapped(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/**
 * The header set the upstream receives (docs/security-model.md): copy the client's headers minus
 * hop-by-hop ones, names listed in `Connection`, every `x-g2d-*` spelling, the identity headers of
 * other systems (STRIP_CLIENT_HEADERS), `authorization` on user/node requests, any header whose
 * name or value carries one of the gateway's credentials (a JWT or a `g2d*_` secret, any scheme or
 * header: an edge node sends its key everywhere, edge/health too; a browser its JWT), cookies that
 * carry one, and forwarding headers from untrusted peers; THEN add the gateway's own, so no client
 * header can remove or replace them.
 */
export function buildUpstreamHeaders(input: UpstreamHeaderInput): Record<string, string | string[]> {
  const { req, identity } = input;
  const src = req.headers;
  const drop = nominated(src.connection);
  const strip = input.strip ?? DEFAULT_STRIP;
  // User and node requests were authenticated by this header: it is never forwarded. On public
  // routes a foreign credential (Basic, a partner's opaque bearer) passes, the gateway's never.
  const publicRoute = identity.kind === 'public';
  const out: Record<string, string | string[]> = {};
  for (const name in src) {
    let value = src[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || REQUEST_ONLY_DROP.has(name) || isG2dHeader(name) || strip.has(name)) continue;
    if (drop !== null && drop.has(name)) continue;
    if (name === 'authorization' && !publicRoute) continue;
    if (FORWARDED.has(name) && !input.trustedPeer) continue;
    if (input.websocket && WS_HANDSHAKE.has(name)) continue;
    if (name === 'traceparent' || name === 'tracestate' || name === 'x-request-id') continue;
    if (typeof value === 'string') {
      if (value.length > 20 && carriesCredential(name, value)) {
        if (name !== 'cookie') continue;
        const cookies = withoutCredentialCookies(value);
        if (cookies === null) continue;
        value = cookies;
      }
    } else if (value.some((v) => carriesCredential(name, v))) continue;
    if (name.length > 20 && nameHoldsCredential(name)) continue;
    out[name] = value;
  }

  // ---- inject (after the strip: these always win)
  const peer = stripV4Mapped(req.socket.remoteAddress ?? '');
  const priorXff = input.trustedPeer ? clean(joinList(src['x-forwarded-for'])) : '';
  out['x-forwarded-for'] = priorXff ? `${priorXff}, ${peer}` : peer;
  const proto = input.trustedPeer ? firstToken(src['x-forwarded-proto']) : '';
  out['x-forwarded-proto'] = proto === 'http' || proto === 'https' ? proto : req.socket.encrypted ? 'https' : 'http';
  const fwdHost = input.trustedPeer ? clean(firstToken(src['x-forwarded-host'])) : '';
  const host = fwdHost || clean(src.host ?? '');
  if (host) out['x-forwarded-host'] = host;
  else delete out['x-forwarded-host'];
  out['x-request-id'] = input.requestId;
  out.traceparent = input.trace.traceparent;
  if (input.trace.parentId !== null && typeof src.tracestate === 'string' && !holdsCredential(src.tracestate))
    out.tracestate = src.tracestate;

  const h = IDENTITY_HEADERS;
  out[h.auth] = identity.kind;
  if (identity.kind === 'user') {
    out[h.tenantId] = identity.tenantId;
    out[h.userId] = identity.userId;
    out[h.email] = identity.email;
    out[h.role] = identity.role;
    out[h.authMethods] = (identity.amr ?? ['pwd']).join(',');
    // A platform admin acting cross-tenant; the header carries the admin's HOME tenant.
    if (identity.homeTenantId !== identity.tenantId) out[h.actingTenantId] = identity.homeTenantId;
  } else if (identity.kind === 'node') {
    out[h.tenantId] = identity.tenantId;
    out[h.nodeId] = identity.nodeId;
  }
  out[h.assertion] = input.assertion;
  return out;
}

/** A forwarding value from a trusted proxy, unless it carries a credential (then as if absent). */
function clean(value: string): string {
  return holdsCredential(value) ? '' : value;
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

/** What the gateway itself decided about a response before the upstream answered (CORS, http/cors.ts). */
export interface ResponsePolicy {
  /** Drop the upstream's `Access-Control-*` headers (an origin not in HTTP_ALLOWED_ORIGINS, or none). */
  readonly dropAccessControl: boolean;
  /** The client response, for the headers the gateway already set there (`Vary`, `Access-Control-*`). */
  readonly res: { getHeader(name: string): number | string | string[] | undefined };
}

/**
 * The upstream response headers the client receives: hop-by-hop ones and names the upstream's
 * `Connection` lists are dropped (the gateway frames its own response), `x-request-id` is ours.
 * With a policy: `Vary` and `Access-Control-Expose-Headers` are merged with what the gateway set
 * (RFC 9110 §12.5.5: a cache must key on both lists; replacing ours would drop `Origin`), the
 * gateway's `Access-Control-Allow-Origin` wins, and `Access-Control-*` is dropped when told.
 */
export function filterResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  requestId: string,
  policy?: ResponsePolicy,
): OutgoingHttpHeaders {
  const drop = nominated(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (drop !== null && drop.has(name)) continue;
    if (policy !== undefined) {
      const accessControl = name.startsWith('access-control-');
      if (accessControl && policy.dropAccessControl) continue;
      if (name === 'vary' || name === 'access-control-expose-headers') {
        out[name] = mergeLists(policy.res.getHeader(name), value);
        continue;
      }
      if (accessControl && policy.res.getHeader(name) !== undefined) continue;
    }
    out[name] = value;
  }
  out['x-request-id'] = requestId;
  return out;
}

/** Two comma-separated header lists as one, each name once (case-insensitive); `*` absorbs the rest. */
function mergeLists(ours: number | string | string[] | undefined, theirs: string | string[]): string {
  const seen = new Map<string, string>();
  for (const list of [ours, theirs]) {
    if (list === undefined) continue;
    for (const part of (Array.isArray(list) ? list.join(',') : String(list)).split(',')) {
      const item = part.trim();
      if (item !== '' && !seen.has(item.toLowerCase())) seen.set(item.toLowerCase(), item);
    }
  }
  return seen.has('*') ? '*' : [...seen.values()].join(', ');
}
