/**
 * OpenTelemetry tracing end to end (docs/operations.md, "Tracing"): the real `serve` process
 * exports to a real OTLP/HTTP receiver started here, once per protocol (protobuf decoded with the
 * opentelemetry-proto field numbers, JSON parsed). A login and proxied requests carry a client
 * `traceparent`; the test checks the span tree, the attributes, the traceparent the upstream
 * received, and that no credential appears anywhere in the exported bytes. A preloaded module
 * spy proves the SDK is never loaded when no endpoint is set (and, as a control, that it is when one is).
 * (prom-client loads the no-op `@opentelemetry/api` package on its own, with or without tracing.)
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { generateNodeKey } from '../../gateway/auth/node-keys.js';
import { createNodeStore } from '../../gateway/store/nodes.js';
import { createPg } from '../../gateway/store/pg.js';
import { call, makeTenant, makeUser, uniq } from '../helpers/fixtures.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { jsonLines, startGateway, waitFor, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { startTestUpstream, type TestUpstream } from '../helpers/test-upstream.js';

const db = createPg({ url: inject('databaseUrl'), poolSize: 2 });
const JWT_SECRET = 'tracing-test-jwt-secret-never-exported-01';
const SIGNING_KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const COLLECTOR_KEY = 'collector-api-key-never-a-span-attribute';
const spyDir = mkdtempSync(join(tmpdir(), 'g2d-otel-spy-'));

let upstream: TestUpstream;
beforeAll(async () => {
  upstream = await startTestUpstream();
});
afterAll(async () => {
  await upstream?.stop();
  await db.close();
  rmSync(spyDir, { recursive: true, force: true });
});

/**
 * NODE_OPTIONS preloading a module that records every `@opentelemetry` module the process
 * resolves (ESM resolve hook) or has in its CommonJS cache at exit, into `file`.
 */
function moduleSpy(file: string): string {
  const hook = `import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  if (specifier.includes('@opentelemetry')) appendFileSync(file, 'resolve ' + specifier + '\\n');
  return next(specifier, context);
}`;
  const preload = `import Module, { register } from 'node:module';
import { appendFileSync } from 'node:fs';
const file = ${JSON.stringify(file)};
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}), import.meta.url, { data: { file } });
process.on('exit', () => {
  for (const k of Object.keys(Module._cache)) if (k.includes('@opentelemetry')) appendFileSync(file, 'cached ' + k + '\\n');
});`;
  writeFileSync(file, '');
  return `--import=data:text/javascript,${encodeURIComponent(preload)}`;
}

function gatewayEnv(label: string, extra: Record<string, string>): Record<string, string> {
  return {
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `${inject('redisPrefix')}tracing-${label}:`,
    AUTH_JWT_SECRET: JWT_SECRET,
    IDENTITY_SIGNING_KEY: SIGNING_KEY,
    AUTH_LOGIN_IP_LIMIT: '100000',
    UPSTREAM_URL: upstream.url,
    SHUTDOWN_GRACE_SECONDS: '2',
    UPSTREAM_TIMEOUT_MS: '1000',
    ...extra,
  };
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const traceparent = () => {
  const traceId = hex(16);
  const parentId = hex(8);
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
};

function wsOpen(url: string, headers: Record<string, string>): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

const serverSpan = (spans: ReceivedSpan[], traceId: string) => spans.find((s) => s.traceId === traceId && s.kind === 2);
const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) =>
  spans.filter((s) => s.parentSpanId === parent.spanId);

describe.each([
  // protobuf: exported every 100 ms while running; json: a batch delay far beyond the test, so
  // every span arrives through the flush at shutdown.
  { protocol: 'http/protobuf', delay: '100', contentType: 'application/x-protobuf' },
  { protocol: 'http/json', delay: '600000', contentType: 'application/json' },
])('tracing over $protocol', ({ protocol, delay, contentType }) => {
  let receiver: OtlpReceiver;
  let gw: GatewayProcess;
  const spyFile = join(spyDir, `${protocol.replace('/', '-')}.txt`);

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    gw = await startGateway(
      gatewayEnv(protocol.replace('/', '-'), {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_HEADERS: `x-collector-key=${COLLECTOR_KEY}`,
        OTEL_BSP_SCHEDULE_DELAY: delay,
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
        NODE_OPTIONS: moduleSpy(spyFile),
      }),
    );
  });
  afterAll(async () => {
    await gw?.stop();
    await receiver?.close();
  });

  it('exports one server span per request with its children, continues the client trace, and exports no secret', async () => {
    const tenant = await makeTenant(db);
    const user = await makeUser(db, tenant);
    const wrongPassword = `wrong-${hex(8)}`;
    const key = generateNodeKey();
    await createNodeStore(db).create({ tenantId: tenant.id, name: uniq('edge'), apiKeyHash: key.hash });

    // A login (password verify), a failed login, a proxied user request (token check + upstream
    // call), a node request (key check), a refused token, a WebSocket handshake, and a request
    // without traceparent (a new trace, whose id is the one in the access log).
    const login = traceparent();
    const res = await call(`${gw.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { traceparent: login.header },
      json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
    });
    expect(res.status).toBe(200);
    const token = res.body.data.token as string;
    const failed = traceparent();
    expect(
      (
        await call(`${gw.url}/api/v1/auth/login`, {
          method: 'POST',
          headers: { traceparent: failed.header },
          json: { email: user.email, password: wrongPassword, tenant_domain: tenant.domain },
        })
      ).status,
    ).toBe(401);
    const proxied = traceparent();
    const before = upstream.received.length;
    const ok = await call(`${gw.url}/api/v1/calls/42?limit=5`, {
      token,
      headers: { traceparent: proxied.header, tracestate: 'vendor=abc' },
    });
    expect(ok.status).toBe(200);
    const upstreamTraceparent = upstream.received.slice(before).find((r) => r.path === '/api/v1/calls/42')
      ?.headers.traceparent;
    const node = traceparent();
    expect(
      (await call(`${gw.url}/api/v1/edge/desired-state`, { token: key.rawKey, headers: { traceparent: node.header } }))
        .status,
    ).toBe(200);
    const refused = traceparent();
    expect(
      (
        await call(`${gw.url}/api/v1/calls`, {
          token: `${token.slice(0, -4)}AAAA`,
          headers: { traceparent: refused.header },
        })
      ).status,
    ).toBe(401);
    const ws = traceparent();
    const socket = await wsOpen(`${gw.url.replace('http', 'ws')}/ws/agent?room=1`, {
      authorization: `Bearer ${token}`,
      traceparent: ws.header,
    });
    socket.close();
    const stalled = traceparent();
    expect(
      (await call(`${gw.url}/api/v1/calls/stall`, { token, headers: { traceparent: stalled.header } })).status,
    ).toBe(504);
    const fresh = await call(`${gw.url}/healthz`);
    expect(fresh.status).toBe(200);

    if (delay !== '100') expect(await gw.stop()).toBe(0);
    const spans = await waitFor(
      () => {
        const all = receiver.spans();
        return [login, failed, proxied, node, refused, ws, stalled].every((t) => serverSpan(all, t.traceId)) &&
          all.some((s) => s.name === 'GET /healthz')
          ? all
          : null;
      },
      { what: 'the exported spans', timeoutMs: 15_000 },
    );
    expect(receiver.contentTypes.every((t) => t.startsWith(contentType))).toBe(true);
    expect(receiver.headers.every((h) => h['x-collector-key'] === COLLECTOR_KEY)).toBe(true);

    // Login: a child of the client's span, with the password verify under it.
    const loginSpan = serverSpan(spans, login.traceId)!;
    expect(loginSpan).toMatchObject({ name: 'POST /api/v1/auth', parentSpanId: login.parentId, status: { code: 0 } });
    expect(loginSpan.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/api/v1/auth',
      'http.response.status_code': 200,
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'client.address': '127.0.0.1',
    });
    expect(loginSpan.resource).toMatchObject({ 'service.name': 'get2dial-gateway', 'deployment.environment': 'test' });
    expect(childrenOf(spans, loginSpan).map((s) => [s.name, s.kind])).toEqual([['auth.password_verify', 1]]);
    expect(serverSpan(spans, failed.traceId)!.attributes['http.response.status_code']).toBe(401);

    // Proxied user request: token check and upstream call under the server span; the upstream
    // received a traceparent naming the upstream span; tracestate continued.
    const proxiedSpan = serverSpan(spans, proxied.traceId)!;
    expect(proxiedSpan).toMatchObject({
      name: 'GET /api/v1',
      parentSpanId: proxied.parentId,
      traceState: 'vendor=abc',
    });
    expect(proxiedSpan.attributes).toMatchObject({
      'http.route': '/api/v1',
      'http.response.status_code': 200,
      'g2d.tenant_id': tenant.id,
      'g2d.auth.kind': 'user',
    });
    const children = childrenOf(spans, proxiedSpan);
    expect(children.map((s) => s.name).sort()).toEqual(['auth.verify_token', 'proxy.upstream']);
    const upstreamSpan = children.find((s) => s.name === 'proxy.upstream')!;
    expect(upstreamSpan.kind).toBe(3);
    expect(upstreamSpan.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': upstream.port,
      'http.response.status_code': 200,
      'http.request.method': 'GET',
    });
    expect(upstreamTraceparent).toBe(`00-${proxied.traceId}-${upstreamSpan.spanId}-01`);

    // Node request and a refused token: the check's span, failed with the error code.
    const nodeSpan = serverSpan(spans, node.traceId)!;
    expect(nodeSpan.attributes).toMatchObject({ 'g2d.auth.kind': 'node', 'g2d.tenant_id': tenant.id });
    expect(
      childrenOf(spans, nodeSpan)
        .map((s) => s.name)
        .sort(),
    ).toEqual(['auth.verify_node_key', 'proxy.upstream']);
    const refusedSpan = serverSpan(spans, refused.traceId)!;
    expect(refusedSpan.attributes['http.response.status_code']).toBe(401);
    expect(refusedSpan.status.code).toBe(0);
    const refusedCheck = childrenOf(spans, refusedSpan);
    expect(refusedCheck).toHaveLength(1);
    expect(refusedCheck[0]).toMatchObject({ name: 'auth.verify_token', status: { code: 2 } });
    expect(refusedCheck[0]!.attributes['error.type']).toBe('UNAUTHENTICATED');

    // WebSocket handshake: a server span answered 101 with the upstream handshake under it.
    const wsSpan = serverSpan(spans, ws.traceId)!;
    expect(wsSpan).toMatchObject({ name: 'GET /ws/agent', parentSpanId: ws.parentId });
    expect(wsSpan.attributes['http.response.status_code']).toBe(101);
    expect(
      childrenOf(spans, wsSpan).find((s) => s.name === 'proxy.upstream')?.attributes['http.response.status_code'],
    ).toBe(101);

    // An upstream that never answers: 504, both the server span and the upstream span failed.
    const stalledSpan = serverSpan(spans, stalled.traceId)!;
    expect(stalledSpan).toMatchObject({ status: { code: 2 } });
    expect(stalledSpan.attributes).toMatchObject({ 'http.response.status_code': 504, 'error.type': 'GATEWAY_TIMEOUT' });
    const stalledUpstream = childrenOf(spans, stalledSpan).find((s) => s.name === 'proxy.upstream')!;
    expect(stalledUpstream.status.code).toBe(2);
    expect(stalledUpstream.attributes['http.response.status_code']).toBeUndefined();

    // A new trace: the server span carries the trace id of the access log line.
    const healthSpan = spans.find((s) => s.name === 'GET /healthz')!;
    expect(healthSpan.parentSpanId).toBe('');
    // (The log is written asynchronously: wait for the line rather than race the exporter.)
    const accessLine = await waitFor(
      () => jsonLines(gw.output()).find((l) => l.msg === 'request' && l.route === '/healthz'),
      { what: 'the /healthz access line' },
    );
    expect(accessLine.trace).toBe(healthSpan.traceId);

    // No credential, identity detail or query anywhere in what was exported.
    const exported = Buffer.concat(receiver.bodies).toString('latin1');
    expect(exported).toContain(tenant.id); // the search below reads the right bytes
    const signature = token.split('.')[2]!;
    for (const secret of [
      token,
      signature,
      user.password,
      wrongPassword,
      user.email,
      key.rawKey,
      key.rawKey.slice(5),
      JWT_SECRET,
      COLLECTOR_KEY,
      'limit=5',
      'room=1',
      '/calls/42',
    ]) {
      expect(exported.includes(secret), `exported spans contain ${secret.slice(0, 12)}…`).toBe(false);
    }

    // The control for the test below: this process did load the SDK. Every export was accepted.
    await gw.stop();
    expect(gw.output()).not.toContain('span export failed');
    expect(readFileSync(spyFile, 'utf8')).toMatch(/@opentelemetry\/sdk-trace/);
  });
});

describe('tracing off', () => {
  it('with no OTLP endpoint, no OpenTelemetry SDK or exporter module is loaded and requests behave as before', async () => {
    const spyFile = join(spyDir, 'off.txt');
    const gw = await startGateway(
      gatewayEnv('off', {
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
        NODE_OPTIONS: moduleSpy(spyFile),
      }),
    );
    try {
      const tenant = await makeTenant(db);
      const user = await makeUser(db, tenant);
      const res = await call(`${gw.url}/api/v1/auth/login`, {
        method: 'POST',
        json: { email: user.email, password: user.password, tenant_domain: tenant.domain },
      });
      expect(res.status).toBe(200);
      const client = traceparent();
      const before = upstream.received.length;
      expect(
        (
          await call(`${gw.url}/api/v1/calls`, {
            token: res.body.data.token as string,
            headers: { traceparent: client.header },
          })
        ).status,
      ).toBe(200);
      // Today's behaviour: the caller's trace continued with the gateway's own span id.
      const sent = upstream.received.slice(before).find((r) => r.path === '/api/v1/calls')?.headers
        .traceparent as string;
      expect(sent).toMatch(new RegExp(`^00-${client.traceId}-[0-9a-f]{16}-01$`));
      expect(sent).not.toContain(client.parentId);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    const loaded = readFileSync(spyFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    // The gateway's own modules never import OpenTelemetry (no ESM resolve at all)...
    expect(loaded.filter((l) => l.startsWith('resolve '))).toEqual([]);
    // ...and nothing of the SDK or the exporters is in the process. prom-client requires the
    // no-op API package (`@opentelemetry/api`, for its exemplars) by itself, tracing or not.
    expect(loaded.filter((l) => !l.includes('/node_modules/@opentelemetry/api/'))).toEqual([]);
  });
});
