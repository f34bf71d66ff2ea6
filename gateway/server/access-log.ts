/** The access line: one per request, with its metrics and span finished beside it. */
import type { Logger } from 'pino';
import type { GatewayError } from '../errors.js';
import type { ContextBase } from '../http/context.js';
import { redactSecrets, scrubUrl } from '../util/credentials.js';
import type { ServerDeps } from './deps.js';

/** Status logged and counted for a request whose response never completed (nginx's convention). */
export const CLIENT_CLOSED = 499;

export function logFinish(
  deps: ServerDeps,
  access: Logger,
  ctx: ContextBase,
  status: number,
  error?: GatewayError,
): void {
  // Built field by field (no spread temporaries): this runs once per request (bench/README.md profile).
  const url = ctx.req.url ?? '';
  const line: Record<string, unknown> = {
    reqId: ctx.requestId,
    trace: ctx.trace.traceId,
    method: ctx.req.method,
    // Any credential spelling or credential-shaped value goes (util/credentials.ts); a plain URL
    // returns at once from the scrubber's first test.
    url: scrubUrl(url),
    route: ctx.routeGroup,
    status,
    ms: (deps.now ?? Date.now)() - ctx.startedAt,
    ip: ctx.ip,
  };
  const id = ctx.identity;
  if (id?.kind === 'user') {
    line.tid = id.tenantId;
    line.sub = id.userId;
    line.role = id.role;
  } else if (id?.kind === 'node') {
    line.tid = id.tenantId;
    line.nid = id.nodeId;
  }
  if (error && error.status >= 500) line.err = redactSecrets(error.detail ?? error.message);
  if (error) line.code = error.code;
  // A 503 from /readyz is an answer, not a fault (health.ts logs the failed dependency once per
  // probe at warn): probes every few seconds during an outage must not flood the error level.
  if (status >= 500 && ctx.routeGroup !== '/readyz') access.error(line, 'request');
  else access.info(line, 'request');
  deps.onFinish?.(ctx, status);
  deps.tracer?.finish(ctx, status, error);
}

/** The cause of a failed request, for its error line, with credentials redacted. */
export function describe(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  return redactSecrets(
    cause instanceof Error ? `${cause.name}: ${cause.message}` : typeof cause === 'string' ? cause : 'non-error thrown',
  );
}
