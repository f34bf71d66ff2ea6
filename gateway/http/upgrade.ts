/**
 * Upgrade requests that are not the gateway's business. Node hands every request carrying
 * `Connection: upgrade` to the server's 'upgrade' listener once one exists, so without this an
 * `Upgrade: h2c` (what `curl --http2` adds to plain-http requests) or a WebSocket handshake aimed at
 * an HTTP route would never reach its route: RFC 9110 §7.8 lets a server ignore `Upgrade` and
 * answer the request as it is, which is what happens here. CONNECT (RFC 9110 §9.3.6) is refused
 * in the documented envelope (docs/api.md) instead of the bare socket close Node does without a listener.
 */
import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../errors.js';
import { splitTarget } from './paths.js';
import { refuseUpgrade } from './raw.js';
import { requestIdFor } from './request-id.js';
import type { Router } from './router.js';

/** Whether the upgrade is a WebSocket handshake for a WebSocket route (an invalid path counts: the upgrade path refuses it). */
export function isWebSocketUpgradeForRoute(req: IncomingMessage, router: Router): boolean {
  const upgrade = req.headers.upgrade;
  if (typeof upgrade !== 'string' || !upgrade.split(',').some((p) => p.trim().toLowerCase() === 'websocket'))
    return false;
  let path: string;
  try {
    path = splitTarget(req.url).path;
  } catch {
    return true;
  }
  return router.match(path)?.websocket === true;
}

/**
 * Serves an upgrade request the gateway does not upgrade as the plain request it also is: a fresh
 * response on the socket, `Connection: close`, through the server's own 'request' listeners (so
 * routing, auth, logs and metrics are the usual ones). Node has stopped parsing the connection at
 * the headers, so a request with a body cannot be read any more: that one is refused with 400.
 */
export function answerIgnoringUpgrade(
  server: Server,
  req: IncomingMessage,
  socket: Duplex,
  idleTimeoutMs: number,
): void {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (te !== undefined || (cl !== undefined && cl !== '0')) {
    refuseUpgrade(
      socket,
      new GatewayError('UNSUPPORTED_UPGRADE', { detail: `Upgrade: ${req.headers.upgrade ?? ''} with a body` }),
      requestIdFor(req.headers),
    );
    return;
  }
  // An 'upgrade' socket is the connection's net.Socket (Node's http server only listens on TCP).
  const conn = socket as Socket;
  // Once upgraded, the connection is outside the server's header and request timeouts.
  conn.setTimeout(idleTimeoutMs, () => conn.destroy());
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(conn);
  // As Node's own finish handling: detach, close the connection, then 'close' on the response (the
  // server's access log, metrics and drainer listen for it; a cut connection emits it by itself).
  res.once('finish', () => {
    res.detachSocket(conn);
    conn.end();
    process.nextTick(() => res.emit('close'));
  });
  server.emit('request', req, res);
}

/** CONNECT is never served (the gateway is no forward proxy): 405 in the envelope, then close. */
export function refuseConnect(req: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  refuseUpgrade(socket, new GatewayError('METHOD_NOT_ALLOWED', { detail: 'CONNECT' }), requestIdFor(req.headers));
}
