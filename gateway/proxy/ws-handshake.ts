/**
 * Both halves of a proxied WebSocket opening handshake (RFC 6455 §4), done by hand so that after
 * it the proxy holds two plain TCP sockets and relays bytes (proxy/ws-relay.ts): the gateway's own
 * upgrade request to the upstream (a fresh key, the client's subprotocols, no extension offered),
 * checked like a client must (§4.1), and the 101 written to the client (§4.2.2).
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../errors.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2 step 5.4). */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

export interface UpstreamDial {
  /** Upstream origin (`http:` or `https:`). */
  readonly origin: URL;
  /** The request-target, byte for byte (path and stripped query). */
  readonly target: string;
  readonly headers: Record<string, string | string[]>;
  /** Subprotocols offered (the client's, minus credential-shaped ones). */
  readonly protocols: readonly string[];
  readonly timeoutMs: number;
}

export interface UpstreamSocket {
  readonly socket: Socket;
  /** Bytes the upstream sent right after its 101 (already frames). */
  readonly head: Buffer;
  /** The subprotocol the upstream chose, '' for none. */
  readonly protocol: string;
}

export interface PendingDial {
  readonly done: Promise<UpstreamSocket>;
  /** Abandons the dial (client gone, shutdown); `done` rejects. */
  abort(reason: string): void;
}

/**
 * Opens the upstream WebSocket: 101 with the right Sec-WebSocket-Accept, a subprotocol among those
 * offered (or none when none was offered) and no extension, else 502; no answer in time, 504.
 */
export function dialUpstream(dial: UpstreamDial): PendingDial {
  const key = randomBytes(16).toString('base64');
  const https = dial.origin.protocol === 'https:';
  const headers: Record<string, string | string[]> = {
    ...dial.headers,
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-key': key,
    'sec-websocket-version': '13',
  };
  if (dial.protocols.length > 0) headers['sec-websocket-protocol'] = dial.protocols.join(', ');
  const req = (https ? httpsRequest : httpRequest)({
    protocol: dial.origin.protocol,
    hostname: dial.origin.hostname.replace(/^\[|\]$/g, ''),
    port: dial.origin.port || (https ? 443 : 80),
    method: 'GET',
    path: dial.target,
    headers,
    agent: false,
  });
  let settle: { resolve: (s: UpstreamSocket) => void; reject: (e: GatewayError) => void } | null = null;
  const done = new Promise<UpstreamSocket>((resolve, reject) => (settle = { resolve, reject }));
  const fail = (e: GatewayError) => {
    clearTimeout(timer);
    const s = settle;
    settle = null;
    req.destroy();
    s?.reject(e);
  };
  const timer = setTimeout(
    () => fail(new GatewayError('GATEWAY_TIMEOUT', { detail: 'upstream websocket: opening handshake has timed out' })),
    dial.timeoutMs,
  );
  timer.unref();
  req.on('error', (err) =>
    fail(new GatewayError('BAD_GATEWAY', { detail: `upstream websocket: ${err.message}`, cause: err })),
  );
  req.on('response', (res) => {
    res.resume();
    fail(new GatewayError('BAD_GATEWAY', { detail: `upstream refused websocket with ${res.statusCode ?? '?'}` }));
  });
  req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
    const problem = checkUpstreamAnswer(res, key, dial.protocols);
    if (problem !== null) {
      socket.destroy();
      return fail(new GatewayError('BAD_GATEWAY', { detail: `upstream websocket: ${problem}` }));
    }
    clearTimeout(timer);
    const s = settle;
    settle = null;
    if (s === null) return socket.destroy();
    s.resolve({ socket, head, protocol: headerOf(res, 'sec-websocket-protocol') ?? '' });
  });
  req.end();
  return { done, abort: (reason) => fail(new GatewayError('BAD_GATEWAY', { detail: reason })) };
}

function headerOf(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The client's checks of the server's answer (RFC 6455 §4.1, steps 1–6 of the answer's validation). */
function checkUpstreamAnswer(res: IncomingMessage, key: string, offered: readonly string[]): string | null {
  if ((headerOf(res, 'upgrade') ?? '').toLowerCase() !== 'websocket') return 'invalid Upgrade header';
  if (headerOf(res, 'sec-websocket-accept') !== acceptFor(key)) return 'invalid Sec-WebSocket-Accept header';
  if (headerOf(res, 'sec-websocket-extensions') !== undefined) return 'extension chosen though none was offered';
  const protocol = headerOf(res, 'sec-websocket-protocol');
  if (protocol !== undefined && !offered.includes(protocol)) return 'subprotocol not among those offered';
  if (protocol === undefined && offered.length > 0) return 'no subprotocol chosen';
  return null;
}

/**
 * Completes the client's handshake: writes the 101 (RFC 6455 §4.2.2) with the upstream's
 * subprotocol and no extension. Returns false when the socket can no longer take it.
 */
export function acceptClient(socket: Duplex, req: IncomingMessage, protocol: string): boolean {
  if (!socket.readable || !socket.writable || socket.destroyed) return false;
  const key = req.headers['sec-websocket-key'] as string;
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptFor(key)}`,
  ];
  if (protocol !== '') lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return true;
}
