/**
 * The gateway's own small tracing interface (docs/operations.md, "Tracing"). The server, the
 * authorizer, the login route and the proxies call this, never OpenTelemetry directly: with no
 * OTLP endpoint configured `loadTracer` returns null, nothing of the SDK is ever imported, and each
 * call site pays one null check (`deps.tracer?.…`). With an endpoint, the OpenTelemetry adapter
 * (ops/tracing-otel.ts) is imported once, at start.
 *
 * Spans never carry a credential: no token, key, password, email, cookie, query string or raw
 * path (the route prefix names the request), enforced by what the adapter is given, not by a filter.
 */
import type { Logger } from 'pino';
import type { TracingConfig } from '../config/types.js';
import type { Identity } from '../auth/types.js';
import type { Authorize } from '../auth/authorize.js';
import type { ContextBase } from '../http/context.js';
import type { Tracer } from '../http/tracer.js';

/** The internal spans under a request's server span. */
export type { ChildSpan, ChildSpanName, Tracer, UpstreamSpan } from '../http/tracer.js';

export const FLUSH_TIMEOUT_MS = 5_000;

type Adapter = { createOtelTracer(config: TracingConfig, log: Logger): Tracer };

/**
 * The tracer for `config`, or null when tracing is off. The OpenTelemetry adapter is imported
 * only here and only when enabled (`load` is injectable so a test can prove it is never called).
 */
export async function loadTracer(
  config: TracingConfig,
  log: Logger,
  load: () => Promise<Adapter> = () => import('./tracing-otel.js'),
): Promise<Tracer | null> {
  if (!config.enabled) return null;
  const adapter = await load();
  const tracer = adapter.createOtelTracer(config, log);
  // The endpoint may name a host with credentials in its URL: only the origin is logged.
  log.info(
    {
      endpoint: config.endpoint ? new URL(config.endpoint).origin : null,
      protocol: config.protocol,
      sampler: config.sampler,
    },
    'tracing: exporting spans over OTLP/HTTP',
  );
  return tracer;
}

/**
 * Wraps the authorizer so each token or node-key check is a child span (`auth.verify_token`,
 * `auth.verify_node_key`). Recorded also when the answer came from the caches, with
 * `g2d.auth.cached=true`: a trace always has the same shape, and a cached check costs a span
 * object only while tracing is on. Public routes have nothing to check and get no span.
 */
export function traceAuthorize(tracer: Tracer, authorize: Authorize): Authorize {
  return (request, next) => {
    const kind = request.route?.auth;
    if (kind !== 'user' && kind !== 'node') return authorize(request, next);
    // The server hands its own contexts to authorize; the span hangs off the request's server span.
    const span = tracer.child(
      request as unknown as ContextBase,
      kind === 'user' ? 'auth.verify_token' : 'auth.verify_node_key',
    );
    let cached = true;
    let ended = false;
    const end = (err?: unknown) => {
      if (ended) return;
      ended = true;
      span.end(err, { 'g2d.auth.cached': cached });
    };
    let result: ReturnType<typeof next>;
    try {
      result = authorize(request, (r, identity: Identity) => {
        end();
        return next(r, identity);
      });
    } catch (err) {
      end(err);
      throw err;
    }
    // A cached answer continued synchronously, before this line; anything later was read from a store.
    cached = false;
    result.catch((err: unknown) => end(err));
    return result;
  };
}
