/** The per-request contexts the server builds for a plain request or an upgrade (http/context.ts). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RouteDef } from '../config/types.js';
import type { ContextBase, RequestContext, UpgradeContext } from '../http/context.js';
import { splitTarget } from '../http/paths.js';
import { checkHost } from '../http/host.js';
import { traceFor } from '../http/trace.js';
import type { ServerDeps } from './deps.js';

/** The request target, checked: throws 400 for an ambiguous path (docs/api.md) or Host (RFC 9112 §3.2). */
export function targetOf(
  deps: ServerDeps,
  req: IncomingMessage,
): { path: string; rawQuery: string; route: RouteDef | null } {
  checkHost(req);
  const target = splitTarget(req.url);
  return { path: target.path, rawQuery: target.rawQuery, route: deps.router.route(target.path) };
}

/**
 * The fields every context has, with their final values. `target` null: the request was refused
 * before its target was known (logged with the route group `invalid`).
 */
function contextFields(
  deps: ServerDeps,
  req: IncomingMessage,
  requestId: string,
  target: ReturnType<typeof targetOf> | null,
): Omit<ContextBase, 'kind'> {
  return {
    req,
    requestId,
    trace: traceFor(req.headers),
    ip: target ? deps.clientIp.resolve(req) : (req.socket.remoteAddress ?? ''),
    startedAt: (deps.now ?? Date.now)(),
    path: target?.path ?? '',
    rawQuery: target?.rawQuery ?? '',
    query: new URLSearchParams(target?.rawQuery),
    route: target?.route ?? null,
    routeGroup: target ? (target.route?.prefix ?? 'unmatched') : 'invalid',
    identity: null,
    log: deps.log,
    onClientGone: null,
    cutStatus: 0,
  };
}

/** A plain request's context. */
export function httpContext(
  deps: ServerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  target: ReturnType<typeof targetOf> | null,
): RequestContext {
  return Object.assign(contextFields(deps, req, requestId, target), { kind: 'http' as const, res });
}

/** An upgrade's context: the same fields, the socket instead of a response object. */
export function upgradeContext(
  deps: ServerDeps,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  requestId: string,
  target: ReturnType<typeof targetOf> | null,
): UpgradeContext {
  return Object.assign(contextFields(deps, req, requestId, target), { kind: 'upgrade' as const, socket, head });
}
