import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { RouteDef } from '../config/types.js';
import type { AuthRequest, Identity } from '../auth/types.js';
import type { TraceContext } from './trace.js';

/**
 * Per-request state, built once by the server (with its final path, query and route) and passed
 * to handlers and the proxy. A plain request has a response object (RequestContext); a WebSocket
 * upgrade has only the socket (UpgradeContext). Both share this base, which logging, metrics and
 * authentication read.
 */
export interface ContextBase extends AuthRequest {
  readonly req: IncomingMessage;
  readonly requestId: string;
  /** W3C trace context: logged with the request, sent upstream as `traceparent` (http/trace.ts). */
  readonly trace: TraceContext;
  /** Client IP: the socket peer, or the X-Forwarded-For hop a TRUSTED_PROXIES peer vouches for. */
  readonly ip: string;
  readonly startedAt: number;
  /** The decoded, normalized path (docs/api.md); the same string goes upstream. */
  readonly path: string;
  /** The raw query string without the leading `?` ('' when none), as the client sent it. */
  readonly rawQuery: string;
  readonly query: URLSearchParams;
  readonly route: RouteDef | null;
  /** Fixed-set label for metrics and logs (route prefix, never the raw path). */
  readonly routeGroup: string;
  identity: Identity | null;
  log: Logger;
  /**
   * Told when the client goes away before its response finished (the proxy aborts its upstream
   * request): called from the server's one `close` listener instead of a listener of its own.
   */
  onClientGone: { clientGone(): void } | null;
  /**
   * The status to log and count when the gateway itself cut a response it could not complete
   * (an upstream that failed after the head was relayed: 502/504). 0 means it was not cut by the
   * gateway, so an incomplete response is the client's doing (499).
   */
  cutStatus: number;
}

/** A plain HTTP request: answered on `res` (gateway routes, proxied requests). */
export interface RequestContext extends ContextBase {
  readonly kind: 'http';
  readonly res: ServerResponse;
}

/** A WebSocket upgrade (RFC 6455 §4.1): no response object, only the socket and its first bytes. */
export interface UpgradeContext extends ContextBase {
  readonly kind: 'upgrade';
  readonly socket: Duplex;
  readonly head: Buffer;
}
