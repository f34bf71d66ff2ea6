import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { holdsCredential } from '../util/credentials.js';

// A client-supplied id is kept when it is short and plain, so callers can correlate; anything
// else is replaced (it ends up in logs and upstream headers). A node key or a short JWT fits the
// pattern, so a credential-shaped id is replaced too: it would be logged and sent upstream.
const SAFE_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** Returns the request id for this request: the client's X-Request-Id if safe, else a new UUID. */
export function requestIdFor(headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id'];
  if (typeof given === 'string' && SAFE_ID.test(given) && !holdsCredential(given)) return given;
  return randomUUID();
}
