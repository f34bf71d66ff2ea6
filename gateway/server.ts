import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Identity } from './auth/types.js';
import { GatewayError, toGatewayError } from './errors.js';
import type { RequestContext, UpgradeContext } from './http/context.js';
import { expectsContinue, sendContinue } from './http/expect-continue.js';
import { refuseUpgrade } from './http/raw.js';
import { answerIgnoringUpgrade, isWebSocketUpgradeForRoute, refuseConnect } from './http/upgrade.js';
import { sendError } from './http/reply.js';
import { requestIdFor } from './http/request-id.js';
import { redactSecrets } from './util/credentials.js';
import { CLIENT_CLOSED, describe, logFinish } from './server/access-log.js';
import { httpContext, targetOf, upgradeContext } from './server/context.js';
import type { ServerDeps } from './server/deps.js';

export type { ServerDeps } from './server/deps.js';

/**
 * Creates the HTTP server: request id → CORS → path normalization → route match → gateway handler
 * or (authorize → proxy). WebSocket upgrades are authorized before any byte goes upstream.
 */
export function createGatewayServer(deps: ServerDeps): Server {
  // Slow clients are bounded (docs/operations.md): headers must arrive within GATEWAY_HEADERS_TIMEOUT_MS
  // (20 s) and the whole request within GATEWAY_REQUEST_TIMEOUT_MS (60 s) — slowloris — checked
  // every second or two rather than Node's default 30 s; headers over 16 KiB
  // are refused with 431 (clientError below); connections beyond GATEWAY_MAX_CONNECTIONS are dropped
  // at accept. keepAliveTimeout outlives a load balancer's usual 60 s idle keep-alive, so the
  // gateway is never the side that closes a connection the balancer is about to reuse.
  const server = createHttpServer({
    requestTimeout: deps.config.requestTimeoutMs,
    headersTimeout: deps.config.headersTimeoutMs,
    keepAliveTimeout: 65_000,
    maxHeaderSize: 16 * 1024,
    connectionsCheckingInterval: Math.min(2_000, Math.ceil(deps.config.headersTimeoutMs / 2)),
  });
  server.maxConnections = deps.config.maxConnections;
  // The access line has fixed fields, none of them a credential (the URL is scrubbed above), so it
  // skips pino's path redaction, which cost ~20 µs a line — the largest single item in the
  // proxied-request profile (bench/README.md). Every other line keeps the redacting logger.
  const access = deps.log.child({}, { redact: { paths: [] } });
  // Sockets whose request the server timed out (GATEWAY_REQUEST_TIMEOUT_MS): their line says 408.
  const timedOut = new WeakSet<Duplex>();

  const inFlight = deps.inFlight;
  // The continuations after authorization, built once (no closure per request).
  const rateLimit = deps.rateLimit;
  const proxied = (ctx: RequestContext, identity: Identity): Promise<void> => {
    ctx.identity = identity;
    if (rateLimit !== undefined) rateLimit(ctx, identity);
    sendContinue(ctx.req);
    return deps.proxy(ctx, identity);
  };
  const upgradeAuthorized = (ctx: UpgradeContext, identity: Identity): Promise<void> => {
    ctx.identity = identity;
    rateLimit?.(ctx, identity);
    return deps.upgrade(ctx, ctx.socket, ctx.head, identity);
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight?.started(res);
    const requestId = requestIdFor(req.headers);
    res.setHeader('X-Request-Id', requestId);
    let ctx: RequestContext;
    try {
      ctx = httpContext(deps, req, res, requestId, targetOf(deps, req));
    } catch (err) {
      ctx = httpContext(deps, req, res, requestId, null);
      const e = toGatewayError(err);
      sendError(res, e);
      logFinish(deps, access, ctx, e.status, e);
      if (inFlight) res.on('close', () => inFlight.ended(res));
      return;
    }
    // The one close listener per response (bench/README.md: each listener is a closure and an emit). One
    // access line per request, also for one whose client went away or whose connection was cut
    // (slow client timeout, drain deadline) before the answer was complete: 499, nginx's "client
    // closed request", so aborted requests are visible in logs and metrics instead of missing.
    // Then the proxy hears that the client is gone, and the drainer that the request is over.
    // A response that did not complete is logged as what cut it: the gateway (ctx.cutStatus, e.g.
    // 502 for an upstream that died mid-body), the request timeout (408, answered by clientError
    // below), else the client itself (499).
    const socket = req.socket;
    res.on('close', () => {
      const finished = res.writableFinished;
      logFinish(
        deps,
        access,
        ctx,
        finished ? res.statusCode : ctx.cutStatus || (timedOut.has(socket) ? 408 : CLIENT_CLOSED),
      );
      if (!finished) ctx.onClientGone?.clientGone();
      inFlight?.ended(res);
    });
    void handle(deps, ctx, proxied).catch((err: unknown) => {
      const e = toGatewayError(err);
      deps.tracer?.recordError(ctx, e);
      // A body read that failed because the client vanished is not a server fault worth an error line.
      // (Not req.destroyed: a fully read body destroys req too, which hid every 5xx of the auth routes.
      // req.socket is null once a body read was abandoned: no socket to ask, so count it as gone.)
      const clientGone = !res.headersSent && (req.socket?.destroyed ?? true);
      if (e.status >= 500 && !clientGone)
        ctx.log.error(
          { reqId: ctx.requestId, err: redactSecrets(e.detail ?? e.message), code: e.code, cause: describe(e.cause) },
          'request failed',
        );
      if (!res.headersSent) sendError(res, e);
      else {
        ctx.cutStatus = e.status;
        res.destroy();
      }
    });
  };
  server.on('request', onRequest);
  // `Expect: 100-continue` is answered after authentication, not by Node on arrival (RFC 9110
  // §10.1.1, http/expect-continue.ts): a refused request is answered and closed, its body unread.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    expectsContinue(req, res);
    onRequest(req, res);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const requestId = requestIdFor(req.headers);
    socket.on('error', () => socket.destroy());
    // h2c, or a WebSocket handshake on an HTTP route: answered as the plain request (http/upgrade.ts).
    if (!isWebSocketUpgradeForRoute(req, deps.router))
      return answerIgnoringUpgrade(server, req, socket, deps.config.requestTimeoutMs);
    let ctx: UpgradeContext;
    try {
      ctx = upgradeContext(deps, req, socket, head, requestId, targetOf(deps, req));
    } catch (err) {
      const status = refuseUpgrade(socket, err, requestId);
      logFinish(deps, access, upgradeContext(deps, req, socket, head, requestId, null), status, toGatewayError(err));
      return;
    }
    void (async () => {
      if (deps.isDraining()) throw new GatewayError('SERVICE_UNAVAILABLE', { detail: 'draining' });
      const route = ctx.route;
      if (!route || !route.websocket || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
        throw new GatewayError('NOT_FOUND');
      }
      if (!deps.cors.originAllowed(req)) throw new GatewayError('FORBIDDEN', { detail: 'origin not allowed' });
      await deps.authorize(ctx, upgradeAuthorized);
      logFinish(deps, access, ctx, 101);
    })().catch((err: unknown) => {
      const e = toGatewayError(err);
      const status = refuseUpgrade(socket, e, requestId);
      logFinish(deps, access, ctx, status, e);
    });
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    if (status === 408) timedOut.add(socket);
    const message =
      status === 431 ? 'request header fields too large' : status === 408 ? 'request timeout' : 'bad request';
    const body = JSON.stringify({ status: 'error', message });
    socket.end(
      `HTTP/1.1 ${status} ${message}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  server.on('connect', refuseConnect);

  return server;
}

async function handle(
  deps: ServerDeps,
  ctx: RequestContext,
  proxied: (ctx: RequestContext, identity: Identity) => Promise<void>,
): Promise<void> {
  const { req, res } = ctx;
  deps.cors.decorate(req, res);
  if (deps.cors.isPreflight(req)) {
    deps.cors.preflight(req, res);
    return;
  }
  const route = ctx.route;
  if (!route) throw new GatewayError('NOT_FOUND');
  if (route.auth === 'gateway') {
    await deps.gateway(ctx);
    return;
  }
  if (deps.isDraining()) res.setHeader('Connection', 'close');
  // A cached user is authorized synchronously (auth/authorize.ts): proxied() runs at once, and
  // the promise handed back is the proxy's own.
  return deps.authorize(ctx, proxied);
}
