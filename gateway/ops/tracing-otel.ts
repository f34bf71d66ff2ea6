/**
 * The OpenTelemetry adapter behind ops/tracing.ts: the one file that imports `@opentelemetry/*`,
 * and only ever through ops/tracing.ts's dynamic import when an OTLP endpoint is configured.
 *
 * No global state is registered (no global tracer provider, propagator or context manager, no
 * AsyncLocalStorage): each span's parent is passed explicitly from the request context. The
 * server span keeps the ids the gateway already logs (http/trace.ts): the same trace id, and the
 * server span's id is the span id of the access line. Settings come from config/tracing.ts and
 * are passed in explicitly; the SDK core used here (`@opentelemetry/sdk-trace`) reads no
 * environment of its own.
 */
import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  createTraceState,
  diag,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  RandomIdGenerator,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type IdGenerator,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';
import type { SamplerName, TracingConfig } from '../config/types.js';
import type { ContextBase } from '../http/context.js';
import { FLUSH_TIMEOUT_MS, type ChildSpan, type Tracer, type UpstreamSpan } from './tracing.js';

/**
 * Random ids, except for the one server span being started: it takes the trace id and span id
 * http/trace.ts already chose (and logged). startSpan asks synchronously, so a one-shot slot is exact.
 */
class RequestIds implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  traceId: string | null = null;
  spanId: string | null = null;
  generateTraceId = (): string => {
    const id = this.traceId;
    this.traceId = null;
    return id ?? this.random.generateTraceId();
  };
  generateSpanId = (): string => {
    const id = this.spanId;
    this.spanId = null;
    return id ?? this.random.generateSpanId();
  };
}

function samplerFor(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** A span's public error label: a GatewayError's code, else the error's class name. Never a message. */
function errorType(error: unknown): string {
  if (error && typeof error === 'object' && typeof (error as { code?: unknown }).code === 'string')
    return (error as { code: string }).code;
  return error instanceof Error ? error.name : 'error';
}

/** The host of a Host header, without the port; bounded, since the client chose it. */
function hostOf(value: string | undefined): string | null {
  if (!value) return null;
  const host = value.startsWith('[') ? value.slice(0, value.indexOf(']') + 1) : (value.split(':')[0] ?? '');
  return host === '' || host.length > 255 ? null : host;
}

type ExporterOptions = NonNullable<ConstructorParameters<typeof ProtobufExporter>[0]>;

const TRACESTATE_MAX = 512;
// Export failures are logged, at most one line a minute: a collector outage must not flood the log.
const DIAG_INTERVAL_MS = 60_000;

/** Builds the OpenTelemetry tracer from validated settings (config/tracing.ts). */
export function createOtelTracer(config: TracingConfig, log: Logger): Tracer {
  const otelLog = log.child({ component: 'tracing' });
  let lastDiag = 0;
  const report = (message: string) => {
    const now = Date.now();
    if (now - lastDiag < DIAG_INTERVAL_MS) return;
    lastDiag = now;
    otelLog.warn(
      { detail: message.slice(0, 300) },
      'tracing: span export failed (spans are dropped, requests are not affected)',
    );
  };
  diag.setLogger(
    {
      error: (m) => report(m),
      warn: (m) => report(m),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );

  const exporterOptions: ExporterOptions = {
    url: config.endpoint ?? '',
    headers: { ...config.headers },
    timeoutMillis: config.timeoutMs,
    // The exporter's CompressionAlgorithm enum has exactly these two string values.
    compression: config.compression as ExporterOptions['compression'],
    // A private CA or mutual TLS for an https collector; keep-alive as the exporter's default agent.
    httpAgentOptions: {
      keepAlive: true,
      ...(config.tls.ca !== null ? { ca: config.tls.ca } : {}),
      ...(config.tls.cert !== null && config.tls.key !== null ? { cert: config.tls.cert, key: config.tls.key } : {}),
    },
  };
  const exporter =
    config.protocol === 'http/json' ? new JsonExporter(exporterOptions) : new ProtobufExporter(exporterOptions);
  const ids = new RequestIds();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ ...config.resourceAttributes, [ATTR_SERVICE_NAME]: config.serviceName }),
    sampler: samplerFor(config.sampler, config.samplerRatio),
    idGenerator: ids,
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: config.batch.scheduledDelayMs,
        exportTimeoutMillis: config.batch.exportTimeoutMs,
        maxQueueSize: config.batch.maxQueueSize,
        maxExportBatchSize: config.batch.maxExportBatchSize,
      }),
    ],
  });
  const tracer = provider.getTracer('get2dial-gateway');
  // The server span of each request in progress, created on first use (a child, or the finish).
  const servers = new WeakMap<ContextBase, Span>();
  // The error code of a request whose handler threw; its access line (and so `finish`) comes later.
  const errors = new WeakMap<ContextBase, string>();

  function parentOf(ctx: ContextBase): Context {
    const t = ctx.trace;
    if (t.parentId === null) return ROOT_CONTEXT;
    const state = ctx.req.headers.tracestate;
    return trace.setSpanContext(ROOT_CONTEXT, {
      traceId: t.traceId,
      spanId: t.parentId,
      traceFlags: t.traceparent.endsWith('-01') ? TraceFlags.SAMPLED : TraceFlags.NONE,
      isRemote: true,
      ...(typeof state === 'string' && state.length <= TRACESTATE_MAX ? { traceState: createTraceState(state) } : {}),
    });
  }

  function serverSpan(ctx: ContextBase): Span {
    let span = servers.get(ctx);
    if (span) return span;
    const method = ctx.req.method ?? 'GET';
    const route = ctx.route?.prefix;
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_URL_SCHEME]: 'http',
      [ATTR_NETWORK_PROTOCOL_VERSION]: ctx.req.httpVersion,
      'g2d.request_id': ctx.requestId,
    };
    if (route !== undefined) attributes[ATTR_HTTP_ROUTE] = route;
    if (ctx.ip !== '') attributes[ATTR_CLIENT_ADDRESS] = ctx.ip;
    // A context that failed validation (routeGroup `invalid`) may have an ambiguous Host: left out.
    const host = ctx.routeGroup === 'invalid' ? null : hostOf(ctx.req.headers.host);
    if (host !== null) attributes[ATTR_SERVER_ADDRESS] = host;
    ids.traceId = ctx.trace.parentId === null ? ctx.trace.traceId : null;
    ids.spanId = ctx.trace.spanId;
    span = tracer.startSpan(
      route === undefined ? method : `${method} ${route}`,
      { kind: SpanKind.SERVER, startTime: ctx.startedAt, attributes },
      parentOf(ctx),
    );
    ids.traceId = null;
    ids.spanId = null;
    servers.set(ctx, span);
    return span;
  }

  function fail(span: Span, error: unknown): void {
    const type = errorType(error);
    span.setAttribute(ATTR_ERROR_TYPE, type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  }

  return {
    child(ctx, name): ChildSpan {
      const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL }, trace.setSpan(ROOT_CONTEXT, serverSpan(ctx)));
      return {
        end(error, attributes) {
          if (attributes) span.setAttributes(attributes);
          if (error !== undefined) fail(span, error);
          span.end();
        },
      };
    },

    upstream(ctx, upstreamUrl): UpstreamSpan {
      const url = new URL(upstreamUrl);
      const secure = url.protocol === 'https:' || url.protocol === 'wss:';
      const span = tracer.startSpan(
        'proxy.upstream',
        {
          kind: SpanKind.CLIENT,
          attributes: {
            [ATTR_HTTP_REQUEST_METHOD]: ctx.req.method ?? 'GET',
            [ATTR_SERVER_ADDRESS]: url.hostname,
            [ATTR_SERVER_PORT]: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
            [ATTR_URL_SCHEME]: url.protocol.slice(0, -1),
          },
        },
        trace.setSpan(ROOT_CONTEXT, serverSpan(ctx)),
      );
      const sc = span.spanContext();
      const sampled = (sc.traceFlags & 1) === 1;
      return {
        trace: { traceparent: `00-${sc.traceId}-${sc.spanId}-${sampled ? '01' : '00'}`, parentId: ctx.trace.parentId },
        end(status, error) {
          if (status > 0) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
          // A client span fails on 4xx and 5xx answers (OpenTelemetry HTTP semantic conventions).
          if (error !== undefined) fail(span, error);
          else if (status >= 400) fail(span, { code: String(status) });
          span.end();
        },
      };
    },

    recordError(ctx, error) {
      errors.set(ctx, error.code);
    },

    finish(ctx, status, error) {
      const span = serverSpan(ctx);
      servers.delete(ctx);
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      const id = ctx.identity;
      if (id) {
        span.setAttribute('g2d.auth.kind', id.kind);
        if (id.kind !== 'public') span.setAttribute('g2d.tenant_id', id.tenantId);
      }
      // A server span fails on 5xx only: a 4xx is the client's mistake, answered correctly.
      if (status >= 500) fail(span, error ?? { code: errors.get(ctx) ?? String(status) });
      errors.delete(ctx);
      span.end();
    },

    async shutdown(timeoutMs = FLUSH_TIMEOUT_MS) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          otelLog.warn({ timeoutMs }, 'tracing: the last spans were not exported in time');
          resolve();
        }, timeoutMs);
        timer.unref();
      });
      await Promise.race([provider.shutdown().catch((err: unknown) => report(String(err))), late]);
      clearTimeout(timer);
    },
  };
}
