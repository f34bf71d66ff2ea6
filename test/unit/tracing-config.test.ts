/** The OTEL_* variables (gateway/config/tracing.ts): defaults, the endpoint rules, and one error listing every problem. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../gateway/config/index.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('tracing config', () => {
  it('is off without an endpoint, with the specification defaults', () => {
    expect(loadConfig({}).tracing).toEqual({
      enabled: false,
      endpoint: null,
      protocol: 'http/protobuf',
      headers: {},
      compression: 'none',
      timeoutMs: 10_000,
      tls: { ca: null, cert: null, key: null },
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
      serviceName: 'get2dial-gateway',
      resourceAttributes: {},
      batch: { scheduledDelayMs: 5000, exportTimeoutMs: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    });
  });

  it('appends v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT and takes the traces endpoint as given', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing).toMatchObject({
      enabled: true,
      endpoint: 'http://collector:4318/v1/traces',
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c.example/otlp/' }).tracing.endpoint).toBe(
      'https://c.example/otlp/v1/traces',
    );
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom',
      }).tracing.endpoint,
    ).toBe('http://b:9999/custom');
  });

  it('OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none keep it off', () => {
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' }).tracing.enabled,
    ).toBe(false);
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'false' }).tracing.enabled,
    ).toBe(true);
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing.enabled,
    ).toBe(false);
  });

  it('reads protocol, sampler, headers (also from a file), resource attributes and batch settings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'g2d-otel-'));
    const file = join(dir, 'headers');
    writeFileSync(file, 'Authorization=Bearer%20abc,x-tenant=t1\n');
    writeFileSync(join(dir, 'ca.pem'), 'CA PEM');
    const t = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS_FILE: file,
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=t2',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: join(dir, 'ca.pem'),
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,deployment.environment=prod%20eu',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '50',
    }).tracing;
    expect(t).toMatchObject({
      protocol: 'http/json',
      headers: { authorization: 'Bearer abc', 'x-tenant': 't2' },
      compression: 'gzip',
      tls: { ca: 'CA PEM', cert: null, key: null },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      serviceName: 'from-attrs',
      resourceAttributes: { 'deployment.environment': 'prod eu' },
      batch: { scheduledDelayMs: 200, maxQueueSize: 100, maxExportBatchSize: 50 },
    });
    expect(
      loadConfig({ OTEL_SERVICE_NAME: 'gw-eu', OTEL_RESOURCE_ATTRIBUTES: 'service.name=x' }).tracing.serviceName,
    ).toBe('gw-eu');
  });

  it('lists every bad variable in one error, never echoing a header value', () => {
    const problems = problemsOf({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_TRACES_SAMPLER: 'jaeger_remote',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key-without-equals-secret123',
      OTEL_BSP_MAX_QUEUE_SIZE: '10',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '20',
      OTEL_TRACES_EXPORTER: 'zipkin',
      OTEL_EXPORTER_OTLP_CERTIFICATE: '/nonexistent/ca.pem',
      OTEL_EXPORTER_OTLP_CLIENT_KEY: import.meta.filename, // readable, but without its certificate
    });
    const text = problems.join('\n');
    expect(problems).toHaveLength(8);
    expect(text).toMatch(/OTEL_EXPORTER_OTLP_CERTIFICATE: cannot read \/nonexistent\/ca.pem/);
    expect(text).toMatch(
      /OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY: set both or neither/,
    );
    expect(text).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT: must be an http\(s\) URL/);
    expect(text).toMatch(
      /OTEL_EXPORTER_OTLP_PROTOCOL: must be http\/protobuf or http\/json \(got "grpc"; grpc is not supported\)/,
    );
    expect(text).toMatch(/OTEL_TRACES_SAMPLER: must be one of .*parentbased_traceidratio/);
    expect(text).toMatch(/OTEL_EXPORTER_OTLP_HEADERS: entry 1 is not key=value/);
    expect(text).toMatch(/OTEL_BSP_MAX_EXPORT_BATCH_SIZE: must not exceed OTEL_BSP_MAX_QUEUE_SIZE/);
    expect(text).toMatch(/OTEL_TRACES_EXPORTER: must be otlp or none/);
    expect(text).not.toContain('secret123');
    expect(problemsOf({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' })).toEqual([
      'OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1 (got "1.5")',
    ]);
  });
});
