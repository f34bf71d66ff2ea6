/** Pure helpers of the WebSocket proxy (kept apart so they are unit-tested without sockets). */
import type { IncomingMessage } from 'node:http';
import { upstreamQuery } from './query.js';

/** The upgrade credentials carried in a query (docs/api.md): they never go upstream. */

/**
 * The upgrade's query as the upstream receives it: proxy/query.ts upstreamQuery, the same strip as
 * for HTTP (every `token`/`ticket` spelling and credential-shaped value removed, the rest as sent).
 */
export function stripTokenParam(rawQuery: string): string {
  return upstreamQuery(rawQuery);
}

export interface MappedClose {
  readonly code: number;
  /** Relay the peer's reason (the code was relayed as-is); otherwise send `reason`. */
  readonly keepReason: boolean;
  readonly reason: string;
}

/**
 * Maps a close code received on one side to one that may be sent on the other (RFC 6455 §7.4.1):
 * 1005 (no code) is relayed as a close without a code, 1006 (no close frame: the peer vanished)
 * becomes 1001 toward the upstream or 1011 toward the client, 1015 (TLS) becomes 1011; registered
 * and application codes (1000–1003, 1007–1014, 3000–4999) pass unchanged.
 */
export function sanitizeCloseCode(code: number, from: 'client' | 'upstream'): MappedClose | undefined {
  if (code === 1005) return undefined;
  if ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)) {
    return { code, keepReason: true, reason: '' };
  }
  if (code === 1006 && from === 'client') return { code: 1001, keepReason: false, reason: 'client went away' };
  return { code: 1011, keepReason: false, reason: from === 'upstream' ? 'upstream closed abnormally' : 'client error' };
}

const KEY_RE = /^[+/0-9A-Za-z]{22}==$/;
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Checks the client's half of the handshake (RFC 6455 §4.2.1) BEFORE the upstream is dialled, so
 * a malformed request never costs an upstream connection. Returns the problem, or null when valid.
 */
export function validClientHandshake(req: Pick<IncomingMessage, 'method' | 'headers'>): string | null {
  if (req.method !== 'GET') return 'websocket handshake must be GET';
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !KEY_RE.test(key)) return 'missing or invalid Sec-WebSocket-Key';
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'missing or invalid Sec-WebSocket-Version';
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols !== undefined) {
    const seen = new Set<string>();
    for (const raw of protocols.split(',')) {
      const p = raw.trim();
      if (!TOKEN_RE.test(p) || seen.has(p)) return 'invalid Sec-WebSocket-Protocol';
      seen.add(p);
    }
  }
  return null;
}
