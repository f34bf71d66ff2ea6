/**
 * A real OTLP/HTTP traces receiver on a loopback port (POST /v1/traces, answered 200 with an empty
 * ExportTraceServiceResponse). It keeps every raw body, to search the exported bytes for secrets,
 * and decodes them: `http/json` with JSON.parse, `http/protobuf` with protobufjs and the subset
 * of opentelemetry-proto's trace.proto the assertions need (unknown fields are skipped by the wire
 * format, so events and links decode as absent).
 */
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

// Field numbers from opentelemetry-proto (collector/trace/v1, trace/v1, common/v1, resource/v1).
const PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10; Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; bytes bytes_value = 7; } }
`;
const RequestType = protobuf.parse(PROTO, { keepCase: false }).root.lookupType('otlp.ExportTraceServiceRequest');

export type AttrValue = string | number | boolean;

/** One exported span, ids as lowercase hex. kind: 1 internal, 2 server, 3 client; status: 0 unset, 2 error. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly traceState: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, AttrValue>;
  readonly status: { readonly code: number; readonly message: string };
  readonly resource: Record<string, AttrValue>;
}

export interface OtlpReceiver {
  /** http://127.0.0.1:<port> — the OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  /** Raw request bodies (decompressed), in arrival order. */
  readonly bodies: Buffer[];
  /** Content types seen. */
  readonly contentTypes: string[];
  /** Request headers of each export. */
  readonly headers: Record<string, string | string[] | undefined>[];
  spans(): ReceivedSpan[];
  close(): Promise<void>;
}

interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string | { toString(): string };
  doubleValue?: number;
}
interface JsonKeyValue {
  key: string;
  value?: JsonAnyValue;
}

function valueOf(v: JsonAnyValue | undefined): AttrValue {
  if (!v) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(typeof v.intValue === 'object' ? v.intValue.toString() : v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  return '';
}

function attrs(list: JsonKeyValue[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of list ?? []) out[kv.key] = valueOf(kv.value);
  return out;
}

const hex = (v: unknown): string => (typeof v === 'string' ? v : v ? Buffer.from(v as Uint8Array).toString('hex') : '');

/** Normalizes a decoded request (JSON or protobuf, both in camelCase) into flat spans. */
function flatten(request: unknown): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  const rs = (request as { resourceSpans?: unknown[] }).resourceSpans ?? [];
  for (const r of rs as { resource?: { attributes?: JsonKeyValue[] }; scopeSpans?: { spans?: unknown[] }[] }[]) {
    const resource = attrs(r.resource?.attributes);
    for (const scope of r.scopeSpans ?? []) {
      for (const s of (scope.spans ?? []) as Record<string, unknown>[]) {
        const status = (s.status ?? {}) as { code?: number; message?: string };
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          traceState: (s.traceState as string | undefined) ?? '',
          name: s.name as string,
          kind: Number(s.kind ?? 0),
          attributes: attrs(s.attributes as JsonKeyValue[] | undefined),
          status: { code: Number(status.code ?? 0), message: status.message ?? '' },
          resource,
        });
      }
    }
  }
  return out;
}

/** Starts the receiver on a free loopback port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bodies: Buffer[] = [];
  const contentTypes: string[] = [];
  const headers: OtlpReceiver['headers'] = [];
  const decoded: ReceivedSpan[][] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const type = req.headers['content-type'] ?? '';
      bodies.push(body);
      contentTypes.push(type);
      headers.push(req.headers);
      if (type.startsWith('application/json')) {
        decoded.push(flatten(JSON.parse(body.toString('utf8'))));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        decoded.push(flatten(RequestType.toObject(RequestType.decode(body), { longs: String, defaults: false })));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    contentTypes,
    headers,
    spans: () => decoded.flat(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
