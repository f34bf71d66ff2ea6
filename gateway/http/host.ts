import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

// RFC 9110 §7.2 / RFC 3986 §3.2.2: uri-host [ ":" port ], where uri-host is an IP literal in
// brackets or a reg-name (unreserved, pct-encoded, sub-delims). No userinfo, path, query, fragment
// or whitespace: those are how a Host value smuggles another authority into absolute URLs an
// upstream builds from X-Forwarded-Host.
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]{1,5})?$/;

/**
 * RFC 9112 §3.2: a request with more than one Host field line, or a Host value that is not a
 * valid authority, is answered 400 (Node keeps the first of several and accepts any value).
 * A missing Host is Node's to refuse (HTTP/1.1) or allow (HTTP/1.0).
 */
export function checkHost(req: IncomingMessage): void {
  const raw = req.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++seen > 1)
      throw new GatewayError('INVALID_HOST', { detail: 'more than one Host header' });
  }
  const host = req.headers.host;
  if (host !== undefined && !HOST_RE.test(host))
    throw new GatewayError('INVALID_HOST', { detail: 'Host is not a valid authority' });
}
