import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { toGatewayError } from '../errors.js';
import { errorHeaders } from './reply.js';

/**
 * Refuses a WebSocket upgrade with a real HTTP response on the raw socket, then closes it
 * (the `ws` habit: validate the handshake, answer in HTTP, never let a byte go upstream).
 * Returns the status written.
 */
export function refuseUpgrade(socket: Duplex, err: unknown, requestId: string): number {
  const e = toGatewayError(err);
  const body = JSON.stringify({ status: 'error', message: e.publicMessage });
  const headers: Record<string, string> = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'X-Request-Id': requestId,
    Connection: 'close',
    ...errorHeaders(e.status, e.retryAfter, e.headers),
  };
  if (socket.writable) {
    const head =
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? 'Error'}\r\n` +
      Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n') +
      '\r\n\r\n';
    socket.end(head + body);
  }
  socket.destroySoon?.();
  return e.status;
}

declare module 'node:stream' {
  interface Duplex {
    destroySoon?: () => void;
  }
}
