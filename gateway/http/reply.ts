import type { ServerResponse } from 'node:http';
import { toGatewayError } from '../errors.js';

/**
 * The one renderer (docs/api.md). Success: {"status":"success","data":…}; error:
 * {"status":"error","message":…}. Never a stack trace, never HTML.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(payload));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(payload);
}

export function sendData(res: ServerResponse, data: unknown, status = 200, headers: Record<string, string> = {}): void {
  sendJson(res, status, { status: 'success', data }, headers);
}

/** Responses carrying a token must not be cached (RFC 6749 §5.1). */
export const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

/** The error body for a status/message pair, plus the headers docs/api.md requires with it. */
export function errorHeaders(
  status: number,
  retryAfter: number | undefined,
  extra?: Readonly<Record<string, string>>,
): Record<string, string> {
  const headers: Record<string, string> = extra
    ? { ...extra, 'Cache-Control': 'no-store' }
    : { 'Cache-Control': 'no-store' };
  // RFC 6750 §3 / RFC 9110 §15.5.2: every 401 names the scheme.
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer realm="get2dial"';
  if (retryAfter !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfter)));
  return headers;
}

/**
 * Renders any thrown value as the documented envelope (docs/api.md). Unknown errors become 500 with the generic
 * message; the caller logs the detail with the request id.
 */
export function sendError(res: ServerResponse, err: unknown): void {
  const e = toGatewayError(err);
  sendJson(
    res,
    e.status,
    { status: 'error', message: e.publicMessage },
    errorHeaders(e.status, e.retryAfter, e.headers),
  );
}
