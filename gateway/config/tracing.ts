/**
 * The OpenTelemetry tracing settings, read from the standard `OTEL_*` variables
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/ and
 * https://opentelemetry.io/docs/specs/otel/protocol/exporter/). Read here, like every other
 * setting, and handed to the SDK explicitly (docs/configuration.md): the SDK never decides on its
 * own what to export where. Every value is validated whether or not an endpoint is set, so a
 * typo shows up at the first start, not at the day tracing is switched on.
 */
import { readFileSync } from 'node:fs';
import type { Reader } from './reader.js';
import type { SamplerName, TracingConfig } from './types.js';

const SAMPLERS: readonly SamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

/** Reads and validates the tracing variables; problems go to the reader's one list. */
export function readTracing(r: Reader): TracingConfig {
  const disabled = (r.str('OTEL_SDK_DISABLED') ?? 'false').toLowerCase() === 'true';
  const exporter = (r.str('OTEL_TRACES_EXPORTER') ?? 'otlp').toLowerCase();
  if (exporter !== 'otlp' && exporter !== 'none')
    r.problem(`OTEL_TRACES_EXPORTER: must be otlp or none (got "${exporter}")`);

  const endpoint = tracesEndpoint(r);

  const protocol = (
    r.str('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ??
    r.str('OTEL_EXPORTER_OTLP_PROTOCOL') ??
    'http/protobuf'
  ).toLowerCase();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    const name =
      r.str('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') !== undefined
        ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
        : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    r.problem(`${name}: must be http/protobuf or http/json (got "${protocol}"; grpc is not supported)`);
  }

  const compression = (
    r.str('OTEL_EXPORTER_OTLP_TRACES_COMPRESSION') ??
    r.str('OTEL_EXPORTER_OTLP_COMPRESSION') ??
    'none'
  ).toLowerCase();
  if (compression !== 'gzip' && compression !== 'none')
    r.problem('OTEL_EXPORTER_OTLP_COMPRESSION: must be gzip or none');

  const timeoutName =
    r.str('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') !== undefined
      ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT'
      : 'OTEL_EXPORTER_OTLP_TIMEOUT';
  const timeoutMs = r.int(timeoutName, 10_000, 1, 600_000);

  // Headers often carry a collector's API key: `_FILE` variants work as for the other secrets.
  const headers = {
    ...keyValues(r, 'OTEL_EXPORTER_OTLP_HEADERS', r.secret('OTEL_EXPORTER_OTLP_HEADERS')),
    ...keyValues(r, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', r.secret('OTEL_EXPORTER_OTLP_TRACES_HEADERS')),
  };

  const sampler = (r.str('OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on').toLowerCase() as SamplerName;
  if (!SAMPLERS.includes(sampler))
    r.problem(`OTEL_TRACES_SAMPLER: must be one of ${SAMPLERS.join(', ')} (got "${sampler}")`);
  let samplerRatio = 1;
  const arg = r.str('OTEL_TRACES_SAMPLER_ARG');
  if (arg !== undefined && sampler.endsWith('traceidratio')) {
    const n = Number(arg);
    if (!/^\d*\.?\d+(e-?\d+)?$/i.test(arg) || !(n >= 0 && n <= 1))
      r.problem(`OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1 (got "${arg}")`);
    else samplerRatio = n;
  }

  const tls = {
    ca: pemFile(r, 'CERTIFICATE'),
    cert: pemFile(r, 'CLIENT_CERTIFICATE'),
    key: pemFile(r, 'CLIENT_KEY'),
  };
  if ((tls.cert === null) !== (tls.key === null))
    r.problem('OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY: set both or neither');

  const resourceAttributes = keyValues(r, 'OTEL_RESOURCE_ATTRIBUTES', r.str('OTEL_RESOURCE_ATTRIBUTES') ?? null);
  const serviceName = r.str('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? 'get2dial-gateway';

  const maxQueueSize = r.int('OTEL_BSP_MAX_QUEUE_SIZE', 2048, 1, 1_000_000);
  const maxExportBatchSize = r.int('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, 1, 1_000_000);
  if (maxExportBatchSize > maxQueueSize)
    r.problem('OTEL_BSP_MAX_EXPORT_BATCH_SIZE: must not exceed OTEL_BSP_MAX_QUEUE_SIZE');

  return {
    enabled: endpoint !== null && !disabled && exporter === 'otlp',
    endpoint,
    protocol: protocol === 'http/json' ? 'http/json' : 'http/protobuf',
    headers,
    compression: compression === 'gzip' ? 'gzip' : 'none',
    timeoutMs,
    tls,
    sampler: SAMPLERS.includes(sampler) ? sampler : 'parentbased_always_on',
    samplerRatio,
    serviceName,
    resourceAttributes,
    batch: {
      scheduledDelayMs: r.int('OTEL_BSP_SCHEDULE_DELAY', 5000, 0, 600_000),
      exportTimeoutMs: r.int('OTEL_BSP_EXPORT_TIMEOUT', 30_000, 1, 600_000),
      maxQueueSize,
      maxExportBatchSize,
    },
  };
}

/**
 * The traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else OTEL_EXPORTER_OTLP_ENDPOINT
 * with `v1/traces` appended (the OTLP exporter specification's rule for the signal path).
 */
function tracesEndpoint(r: Reader): string | null {
  const specific = r.str('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const base = r.str('OTEL_EXPORTER_OTLP_ENDPOINT');
  const name = specific !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const raw = specific ?? base;
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    r.problem(`${name}: must be an http(s) URL`);
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    r.problem(`${name}: must be an http(s) URL`);
    return null;
  }
  if (specific !== undefined) return url.toString();
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.pathname += 'v1/traces';
  return url.toString();
}

/**
 * A PEM file named by OTEL_EXPORTER_OTLP_TRACES_<name> or OTEL_EXPORTER_OTLP_<name> (a path, as the
 * specification defines these), read now so a missing file is a start-up error, not a failed export.
 */
function pemFile(r: Reader, name: string): string | null {
  const variable =
    r.str(`OTEL_EXPORTER_OTLP_TRACES_${name}`) !== undefined
      ? `OTEL_EXPORTER_OTLP_TRACES_${name}`
      : `OTEL_EXPORTER_OTLP_${name}`;
  const path = r.str(variable);
  if (path === undefined) return null;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    r.problem(`${variable}: cannot read ${path}: ${(err as Error).message}`);
    return null;
  }
}

/**
 * `key=value,key=value` with percent-encoded keys and values (the W3C Baggage format the OTel
 * specification uses for headers and resource attributes). A bad entry is reported by position,
 * never echoed: a header value may be a collector's API key.
 */
function keyValues(r: Reader, name: string, raw: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === null || raw.trim() === '') return out;
  raw.split(',').forEach((entry, i) => {
    if (entry.trim() === '') return;
    const eq = entry.indexOf('=');
    let key = '';
    let value = '';
    try {
      key = decodeURIComponent(entry.slice(0, eq).trim());
      value = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      key = '';
    }
    if (eq <= 0 || key === '' || /[\s"(),/:;<=>?@[\\\]{}]/.test(key))
      r.problem(`${name}: entry ${i + 1} is not key=value`);
    else out[name.endsWith('HEADERS') ? key.toLowerCase() : key] = value;
  });
  return out;
}
