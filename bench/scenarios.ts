/**
 * The HTTP throughput scenarios of docs/benchmark.md, and the check each must pass before it is measured:
 * one request to the upstream's `/echo` path through the setup must answer 200 and, for the
 * gateway and HAProxy, carry the identity headers. A setup answering 401/502 fast must never be
 * reported as a fast proxy; one that fails the check is skipped with the reason.
 */
import { DEFAULT_PROXY_ROUTES } from '../gateway/config/index.js';
import type { LoadSpec } from './load.js';
import type { Service } from './setups.js';

export interface HttpScenarioDef {
  readonly id: string;
  readonly label: string;
  /** The process whose CPU the scenario charges (the proxy under test, or the upstream for direct). */
  readonly service: Service;
  readonly spec: Omit<LoadSpec, 'connections' | 'durationSec'>;
  /** Headers the upstream must have received (name → exact value, or true for "present"). */
  readonly expect: Readonly<Record<string, string | true>>;
}

export interface ScenarioInputs {
  readonly upstream: Service;
  readonly nginx: Service | null;
  readonly haproxy: Service | null;
  readonly gateway: Service;
  /** The same gateway exporting every span to a local OTLP sink (BENCH_TRACING=1), else absent. */
  readonly tracedGateway?: Service | null;
  /** The same gateway on the current Node LTS (bench/lts-node.ts), else absent. */
  readonly ltsGateway?: { readonly service: Service; readonly version: string } | null;
  /**
   * A second instance of the default gateway, started like the LTS and two-worker ones: the fair
   * yardstick for them (an A/A run showed a later-started instance measured 0.83–0.85× req/s of the
   * first in these rounds), else absent.
   */
  readonly twinGateway?: Service | null;
  /** The same gateway with GATEWAY_WORKERS=2, else absent. */
  readonly workers2Gateway?: Service | null;
  /** The same gateway started with other node flags (BENCH_VARIANT_NODE_ARGS), else absent. */
  readonly variantGateway?: { readonly service: Service; readonly args: string } | null;
  /** The native-hop prototype (bench/native-hop.ts) in front of the gateway, else absent. */
  readonly nativeHop?: Service | null;
  readonly tokens: readonly string[];
  readonly nodeKey: string;
  readonly tenantId: string;
}

/** A user route whose request limits (user and tenant) sit far above any load the bench offers. */
export const GENEROUS_LIMIT_PREFIX = '/api/v1/limited';

/**
 * The bench gateway's GATEWAY_ROUTES_FILE: the built-in table with one more user route in front,
 * limited generously, so "gw_user_limited" measures what the limiter costs against "gw_user",
 * which stays unlimited (no RATE_LIMIT_* is set: the check does not run there at all).
 */
export function benchRoutes(): unknown[] {
  return [
    { prefix: GENEROUS_LIMIT_PREFIX, auth: 'user', rateLimit: { user: '1000000000/1', tenant: '1000000000/1' } },
    ...DEFAULT_PROXY_ROUTES,
  ];
}

/** The throughput scenarios, in their first-round order; setups that are not installed are left out. */
export function httpScenarios(i: ScenarioInputs): {
  defs: HttpScenarioDef[];
  missing: { id: string; label: string; why: string }[];
} {
  const bearer = (t: string) => `Bearer ${t}`;
  const token = i.tokens[0] as string;
  const defs: HttpScenarioDef[] = [];
  const missing: { id: string; label: string; why: string }[] = [];
  defs.push({
    id: 'direct',
    label: 'direct → upstream',
    service: i.upstream,
    spec: { url: `${i.upstream.url}/api/v1/bench` },
    expect: {},
  });
  if (i.nginx)
    defs.push({
      id: 'nginx',
      label: 'nginx plain proxy',
      service: i.nginx,
      spec: { url: `${i.nginx.url}/api/v1/bench` },
      expect: {},
    });
  else missing.push({ id: 'nginx', label: 'nginx plain proxy', why: 'nginx not installed (apt-get install nginx)' });
  if (i.haproxy) {
    defs.push({
      id: 'haproxy',
      label: 'HAProxy jwt_verify',
      service: i.haproxy,
      spec: { url: `${i.haproxy.url}/api/v1/bench`, headers: { authorization: bearer(token) } },
      expect: { 'x-g2d-auth': 'user', 'x-g2d-tenant-id': i.tenantId },
    });
  } else
    missing.push({
      id: 'haproxy',
      label: 'HAProxy jwt_verify',
      why: 'haproxy not installed (apt-get install haproxy)',
    });
  const gw = i.gateway;
  defs.push(
    {
      id: 'gw_public',
      label: 'gateway public route',
      service: gw,
      spec: { url: `${gw.url}/api/v1/edge/health` },
      expect: { 'x-g2d-auth': 'public', 'x-g2d-identity': true },
    },
    {
      id: 'gw_user',
      label: 'gateway user route, 1 token',
      service: gw,
      spec: { url: `${gw.url}/api/v1/bench`, headers: { authorization: bearer(token) } },
      expect: { 'x-g2d-auth': 'user', 'x-g2d-tenant-id': i.tenantId, 'x-g2d-identity': true },
    },
    {
      id: 'gw_user_limited',
      label: 'gateway user route, generous limit',
      service: gw,
      spec: { url: `${gw.url}${GENEROUS_LIMIT_PREFIX}/bench`, headers: { authorization: bearer(token) } },
      expect: { 'x-g2d-auth': 'user', 'x-g2d-tenant-id': i.tenantId, 'x-g2d-identity': true },
    },
    {
      id: 'gw_user_1000',
      label: `gateway user route, ${i.tokens.length} tokens`,
      service: gw,
      spec: { url: `${gw.url}/api/v1/bench`, rotate: { header: 'authorization', values: i.tokens.map(bearer) } },
      expect: { 'x-g2d-auth': 'user', 'x-g2d-tenant-id': i.tenantId, 'x-g2d-identity': true },
    },
    {
      id: 'gw_node',
      label: 'gateway node route',
      service: gw,
      spec: { url: `${gw.url}/api/v1/nodes/bench`, headers: { authorization: bearer(i.nodeKey) } },
      expect: { 'x-g2d-auth': 'node', 'x-g2d-tenant-id': i.tenantId, 'x-g2d-identity': true },
    },
  );
  const traced = i.tracedGateway;
  if (traced) {
    defs.push({
      id: 'gw_user_traced',
      label: 'gateway user route, 1 token, tracing 100 %',
      service: traced,
      spec: { url: `${traced.url}/api/v1/bench`, headers: { authorization: bearer(token) } },
      expect: { 'x-g2d-auth': 'user', 'x-g2d-tenant-id': i.tenantId, 'x-g2d-identity': true },
    });
  }
  const userOn = (id: string, label: string, service: Service): HttpScenarioDef => ({
    id,
    label,
    service,
    spec: { url: `${service.url}/api/v1/bench`, headers: { authorization: bearer(token) } },
    expect: { 'x-g2d-auth': 'user', 'x-g2d-tenant-id': i.tenantId, 'x-g2d-identity': true },
  });
  if (i.twinGateway) defs.push(userOn('gw_user_twin', 'gateway user route, 1 token, second instance', i.twinGateway));
  if (i.ltsGateway)
    defs.push(userOn('gw_user_lts', `gateway user route, 1 token, Node ${i.ltsGateway.version}`, i.ltsGateway.service));
  if (i.variantGateway)
    defs.push(
      userOn('gw_user_variant', `gateway user route, 1 token, node ${i.variantGateway.args}`, i.variantGateway.service),
    );
  if (i.nativeHop)
    defs.push(userOn('hop_user', "native hop: HAProxy answering from the gateway's decisions, 1 token", i.nativeHop));
  if (i.workers2Gateway)
    defs.push(userOn('gw_user_w2', 'gateway user route, 1 token, GATEWAY_WORKERS=2', i.workers2Gateway));
  return { defs, missing };
}

/** null when the setup proxies correctly, else why it is skipped. */
export async function checkScenario(def: HttpScenarioDef): Promise<string | null> {
  const u = new URL(def.spec.url);
  u.pathname = `${u.pathname}/echo`;
  const headers: Record<string, string> = { ...(def.spec.headers ?? {}), 'x-g2d-role': 'forged' };
  const rotate = def.spec.rotate;
  if (rotate && 'header' in rotate) headers[rotate.header] = rotate.values[rotate.values.length - 1] as string;
  let res: Response;
  try {
    res = await fetch(u, { headers, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    return `request failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  const text = await res.text();
  if (res.status !== 200) return `answered ${res.status}: ${text.slice(0, 200)}`;
  let seen: Record<string, string>;
  try {
    seen = (JSON.parse(text) as { headers: Record<string, string> }).headers;
  } catch {
    return `the upstream's echo was not JSON: ${text.slice(0, 200)}`;
  }
  for (const [name, want] of Object.entries(def.expect)) {
    const got = seen[name];
    if (got === undefined) return `upstream did not receive ${name}`;
    if (want !== true && got !== want) return `upstream received ${name}: ${got}, expected ${want}`;
  }
  if (Object.keys(def.expect).length > 0 && seen['x-g2d-role'] === 'forged')
    return 'a client x-g2d-role header reached the upstream';
  return null;
}
