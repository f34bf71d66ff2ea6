/** ops/tracing.ts: the SDK adapter is imported only when tracing is on; auth checks become child spans. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/index.js';
import { GatewayError } from '../../gateway/errors.js';
import type { RequestContext } from '../../gateway/http/context.js';
import { createLogger } from '../../gateway/ops/logger.js';
import { loadTracer, traceAuthorize, type Tracer } from '../../gateway/ops/tracing.js';
import type { Identity } from '../../gateway/auth/types.js';

const log = createLogger({ level: 'silent', format: 'json' });

/** A tracer that records what was asked of it. */
function recordingTracer(): Tracer & { ended: { name: string; error?: unknown; attributes?: unknown }[] } {
  const ended: { name: string; error?: unknown; attributes?: unknown }[] = [];
  return {
    ended,
    child: (_ctx, name) => ({ end: (error, attributes) => void ended.push({ name, error, attributes }) }),
    upstream: () => ({ trace: { traceparent: '', parentId: null }, end: () => {} }),
    recordError: () => {},
    finish: () => {},
    shutdown: async () => {},
  };
}

const ctxFor = (auth: 'user' | 'node' | 'public') => ({ route: { prefix: '/x', auth } }) as unknown as RequestContext;
const USER = { kind: 'user' } as Identity;

describe('loadTracer', () => {
  it('never imports the adapter when no endpoint is set', async () => {
    let imported = 0;
    const load = async () => {
      imported++;
      return { createOtelTracer: () => recordingTracer() };
    };
    expect(await loadTracer(loadConfig({}).tracing, log, load)).toBeNull();
    expect(
      await loadTracer(
        loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).tracing,
        log,
        load,
      ),
    ).toBeNull();
    expect(imported).toBe(0);
    expect(
      await loadTracer(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing, log, load),
    ).not.toBeNull();
    expect(imported).toBe(1);
  });
});

describe('traceAuthorize', () => {
  const next = async (_request: unknown, identity: Identity) => identity;

  it('a check that continues at once (cached) is a span marked cached', async () => {
    const tracer = recordingTracer();
    const result = await traceAuthorize(tracer, (request, n) => n(request, USER))(ctxFor('user'), next);
    expect(result).toBe(USER);
    expect(tracer.ended).toEqual([
      { name: 'auth.verify_token', error: undefined, attributes: { 'g2d.auth.cached': true } },
    ]);
  });

  it('an asynchronous node-key check that fails ends its span with the error', async () => {
    const tracer = recordingTracer();
    const err = new GatewayError('UNAUTHENTICATED');
    await expect(traceAuthorize(tracer, () => Promise.reject(err))(ctxFor('node'), next)).rejects.toBe(err);
    expect(tracer.ended).toEqual([
      { name: 'auth.verify_node_key', error: err, attributes: { 'g2d.auth.cached': false } },
    ]);
  });

  it('a synchronous refusal ends the span with the error; public routes get no span', async () => {
    const tracer = recordingTracer();
    expect(() =>
      traceAuthorize(tracer, () => {
        throw new GatewayError('UNAUTHENTICATED');
      })(ctxFor('user'), next),
    ).toThrow(GatewayError);
    expect(tracer.ended).toHaveLength(1);
    expect(await traceAuthorize(tracer, (request, n) => n(request, USER))(ctxFor('public'), next)).toBe(USER);
    expect(tracer.ended).toHaveLength(1);
  });
});
