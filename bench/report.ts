/**
 * The benchmark's results model, the ratios against the issue's targets, and the printed table.
 * Every ratio is taken inside one round (the two setups ran minutes apart at most, on the same
 * machine) and the median over rounds is reported, so a noisy neighbour moves both sides.
 */
import type { RevocationResult } from './revocation.js';
import type { LoadResult } from './load.js';
import type { TailReading } from './tail.js';
import type { EchoResult } from './ws.js';

export interface HttpScenario {
  readonly id: string;
  readonly label: string;
  readonly skipped?: string;
  readonly rounds: (LoadResult & { readonly cpuUsPerRequest: number | null; readonly invalid?: string })[];
}

export interface BenchResults {
  readonly generatedAt: string;
  readonly machine: Record<string, string | number>;
  readonly options: Record<string, string | number | boolean>;
  readonly http: HttpScenario[];
  /** The user route's event-loop delay and GC pauses, one reading per round (bench/tail.ts). */
  readonly userTail?: TailReading[];
  readonly websocket: { direct: EchoResult[]; gateway: EchoResult[]; nginx?: EchoResult[]; skipped?: string };
  readonly login: {
    rawVerifiesPerSec: number[];
    loginsPerSec: number[];
    loginP99Ms: number[];
    badStatus: number;
    concurrencyCap: number;
    argon2: string;
  };
  readonly storm: { offeredRps: number; idle: LoadResult[]; storm: LoadResult[]; stormLoginsPerSec: number[] };
  readonly memory: {
    warmMiB: number;
    soakMiB: number;
    peakMiB: number;
    soakSeconds: number;
    samples: number[];
    soakRps: number;
  };
  readonly websocketIdle: {
    /** Measured on a fresh gateway process with the same configuration. */
    requested: number;
    held: number;
    failed: number;
    firstError: string | null;
    baselineMiB: number;
    heldMiB: number;
    per10kMiB: number;
    extrapolated: boolean;
    skipped?: string;
  };
  /** Revocation push: logout on one instance → first 401 on another (bench/revocation.ts). */
  revocation?: RevocationResult;
  targets: TargetResult[];
  readonly notes: string[];
}

export interface TargetResult {
  readonly name: string;
  /** Measured value, formatted. */
  readonly value: string;
  readonly target: string;
  /** null when it could not be measured in this run (setup skipped). */
  readonly met: boolean | null;
  readonly detail?: string;
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

function scenario(r: BenchResults, id: string): HttpScenario | undefined {
  const s = r.http.find((x) => x.id === id);
  return s && !s.skipped && s.rounds.length > 0 ? s : undefined;
}

/** Median over rounds of f(a_round, b_round), for rounds where both ran. */
function paired(
  a: HttpScenario | undefined,
  b: HttpScenario | undefined,
  f: (x: LoadResult, y: LoadResult) => number,
): number {
  if (!a || !b) return NaN;
  const n = Math.min(a.rounds.length, b.rounds.length);
  return median(Array.from({ length: n }, (_, i) => f(a.rounds[i] as LoadResult, b.rounds[i] as LoadResult)));
}

const rpsRatio = (x: LoadResult, y: LoadResult) => x.rps / y.rps;
const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

function ratioTarget(name: string, value: number, min: number, skippedWhy?: string): TargetResult {
  return {
    name,
    value: Number.isFinite(value) ? `${fmt(value)}×` : 'n/a',
    target: `≥ ${min}×`,
    met: Number.isFinite(value) ? value >= min : null,
    ...(skippedWhy && !Number.isFinite(value) ? { detail: skippedWhy } : {}),
  };
}

type Round = HttpScenario['rounds'][number];
const cpuRatio = (x: Round, y: Round) => (x.cpuUsPerRequest ?? NaN) / (y.cpuUsPerRequest ?? NaN);

function ceilingTarget(name: string, value: number, max: number, unit: string, skippedWhy?: string): TargetResult {
  return {
    name,
    value: Number.isFinite(value) ? `${fmt(value)}${unit}` : 'n/a',
    target: `≤ ${max}${unit}`,
    met: Number.isFinite(value) ? value <= max : null,
    ...(skippedWhy && !Number.isFinite(value) ? { detail: skippedWhy } : {}),
  };
}

/** Computes every target ratio (and the informational ones) of docs/benchmark.md from the raw rounds. */
export function evaluateTargets(r: BenchResults): TargetResult[] {
  const nginx = scenario(r, 'nginx');
  const haproxy = scenario(r, 'haproxy');
  const direct = scenario(r, 'direct');
  const pub = scenario(r, 'gw_public');
  const user = scenario(r, 'gw_user');
  const user1k = scenario(r, 'gw_user_1000');
  const node = scenario(r, 'gw_node');
  const limited = scenario(r, 'gw_user_limited');
  const noNginx = nginx ? undefined : 'nginx not installed (apt-get install nginx)';
  const noHaproxy = haproxy ? undefined : 'haproxy not installed (apt-get install haproxy)';
  const pairedCpu = (a: HttpScenario | undefined, b: HttpScenario | undefined) =>
    paired(a, b, (x, y) => cpuRatio(x as Round, y as Round));
  // ---- this round: the native peer (HAProxy's jwt_verify) is the one to catch.
  const out: TargetResult[] = [
    ratioTarget('gateway user route / HAProxy jwt_verify req/s', paired(user, haproxy, rpsRatio), 0.8, noHaproxy),
    ceilingTarget(
      'gateway user route / HAProxy jwt_verify CPU µs per request',
      pairedCpu(user, haproxy),
      2,
      '×',
      noHaproxy,
    ),
    ceilingTarget(
      'gateway user route p99 / HAProxy jwt_verify p99 (50 connections)',
      paired(user, haproxy, (x, y) => x.p99Ms / y.p99Ms),
      1.5,
      '×',
      noHaproxy,
    ),
    ratioTarget('gateway 1 000 distinct tokens / 1 token req/s', paired(user1k, user, rpsRatio), 0.9),
  ];
  const wsRatio = median(
    r.websocket.gateway.map((g, i) => g.messagesPerSec / (r.websocket.direct[i]?.messagesPerSec ?? NaN)),
  );
  out.push(ratioTarget('WebSocket echo messages/s: gateway / direct', wsRatio, 0.8, r.websocket.skipped));
  const wsNginx = r.websocket.nginx ?? [];
  const rv = r.revocation;
  out.push({
    name: 'revocation push: logout on one instance → first 401 on another, p99',
    value: rv
      ? `${fmt(rv.p99Ms, 1)} ms (p50 ${fmt(rv.p50Ms, 1)} ms, ${rv.logouts} logouts, ${rv.missed} missed)`
      : 'n/a',
    target: `≤ ${rv?.targetP99Ms ?? 250} ms`,
    met: rv ? rv.p99Ms <= rv.targetP99Ms && rv.missed === 0 : null,
  });
  // What request limits cost when they never bite (docs/configuration.md, "Request limits").
  out.push(
    ratioTarget('gateway user route with a generous limit / without req/s', paired(limited, user, rpsRatio), 0.95),
  );
  // ---- earlier rounds' targets, kept.
  const loginRatio = median(r.login.loginsPerSec.map((l, i) => l / (r.login.rawVerifiesPerSec[i] ?? NaN)));
  out.push(ratioTarget('login/s / raw argon2 verifies/s', loginRatio, 0.8));
  const idleP99 = median(r.storm.idle.map((x) => x.p99Ms));
  const stormP99 = median(r.storm.storm.map((x) => x.p99Ms));
  const stormLimit = 2 * idleP99 + 2;
  out.push({
    name: 'proxied p99 during a login storm (vs idle)',
    value: `${fmt(stormP99)} ms (idle ${fmt(idleP99)} ms)`,
    target: `≤ 2× idle + 2 ms = ${fmt(stormLimit)} ms`,
    met: Number.isFinite(stormP99) && Number.isFinite(idleP99) ? stormP99 <= stormLimit : null,
  });
  const soakRatio = r.memory.soakMiB / r.memory.warmMiB;
  out.push({
    name: `RSS after ${r.memory.soakSeconds} s soak / after warm-up`,
    value: `${fmt(soakRatio)}× (${fmt(r.memory.warmMiB, 0)} → ${fmt(r.memory.soakMiB, 0)} MiB)`,
    target: '≤ 1.1×',
    met: Number.isFinite(soakRatio) ? soakRatio <= 1.1 : null,
  });
  const ws = r.websocketIdle;
  out.push({
    name: '10 000 idle WebSockets: RSS of a fresh gateway holding them',
    value: ws.skipped
      ? 'n/a'
      : `${fmt(ws.per10kMiB, 0)} MiB${ws.extrapolated ? ` (${ws.held} held, scaled to 10 000)` : ''}`,
    target: '≤ 300 MB',
    met: ws.skipped || ws.held === 0 ? null : ws.per10kMiB * 1.048576 <= 300,
    ...(ws.skipped ? { detail: ws.skipped } : ws.firstError ? { detail: `${ws.failed} failed: ${ws.firstError}` } : {}),
  });
  out.push(
    ratioTarget('gateway user route (cached token) / nginx req/s', paired(user, nginx, rpsRatio), 0.45, noNginx),
    ratioTarget('gateway user route / gateway public route req/s', paired(user, pub, rpsRatio), 0.8),
    ratioTarget('gateway 1 000 distinct tokens / nginx req/s', paired(user1k, nginx, rpsRatio), 0.3, noNginx),
    ratioTarget('gateway node route / gateway user route req/s', paired(node, user, rpsRatio), 0.9),
  );
  const p99Gap = paired(user, nginx, (x, y) => x.p99Ms - y.p99Ms);
  out.push(ceilingTarget('gateway user route p99 − nginx p99 (50 connections)', p99Gap, 5, ' ms', noNginx));
  // ---- reported without a target.
  const info = (name: string, v: number, why?: string, unit = '×'): TargetResult => ({
    name,
    value: Number.isFinite(v) ? `${fmt(v)}${unit}` : 'n/a',
    target: '(reported)',
    met: null,
    ...(why && !Number.isFinite(v) ? { detail: why } : {}),
  });
  out.push(info('gateway user route / direct req/s', paired(user, direct, rpsRatio)));
  out.push(info('gateway user route / nginx CPU µs per request', pairedCpu(user, nginx), noNginx));
  out.push(info('gateway node route / nginx req/s', paired(node, nginx, rpsRatio), noNginx));
  const tail = r.userTail ?? [];
  if (tail.length > 0)
    out.push({
      name: 'gateway user route: event-loop delay p99 / GC pause per second during the run',
      value: `${fmt(median(tail.map((t) => t.eventLoopP99Ms)))} ms / ${fmt(median(tail.map((t) => t.gcMsPerSec)), 0)} ms/s`,
      target: '(reported)',
      met: null,
    });
  // The LTS, two-worker and tracing gateways are compared with the twin when there is one: started
  // the same way as they are, so the harness's bias against a later-started instance cancels out.
  const twin = scenario(r, 'gw_user_twin');
  if (twin)
    out.push(
      info('gateway user route: second instance / first req/s (A/A, the harness bias)', paired(twin, user, rpsRatio)),
    );
  const traced = scenario(r, 'gw_user_traced');
  if (traced) {
    const off = twin ?? user;
    const offName = twin ? 'tracing off (second instance)' : 'tracing off';
    out.push(info(`gateway user route, tracing 100 % sampled / ${offName} req/s`, paired(traced, off, rpsRatio)));
    out.push(info(`gateway user route, tracing 100 % sampled / ${offName} CPU µs per request`, pairedCpu(traced, off)));
    out.push(
      info(
        `gateway user route p99: tracing 100 % − ${offName}`,
        paired(traced, off, (x, y) => x.p99Ms - y.p99Ms),
        undefined,
        ' ms',
      ),
    );
  }
  const lts = scenario(r, 'gw_user_lts');
  const ltsSkipped = r.http.find((x) => x.id === 'gw_user_lts')?.skipped;
  if (lts || ltsSkipped) {
    out.push(
      info(
        `gateway user route on Node LTS / second instance on ${String(r.machine.node ?? 'this Node')} req/s`,
        paired(lts, twin, rpsRatio),
        ltsSkipped,
      ),
    );
    out.push(
      info('gateway user route on Node LTS / second instance CPU µs per request', pairedCpu(lts, twin), ltsSkipped),
    );
    out.push(
      info(
        'gateway user route on Node LTS / HAProxy jwt_verify req/s',
        paired(lts, haproxy, rpsRatio),
        ltsSkipped ?? noHaproxy,
      ),
    );
    out.push(
      info(
        'gateway user route on Node LTS / HAProxy jwt_verify CPU µs per request',
        pairedCpu(lts, haproxy),
        ltsSkipped ?? noHaproxy,
      ),
    );
  }
  const variant = scenario(r, 'gw_user_variant');
  if (variant) {
    out.push(
      info(
        `gateway user route, ${variant.label.split('node ')[1] ?? 'variant'} / default req/s`,
        paired(variant, user, rpsRatio),
      ),
    );
    out.push(
      info(
        `gateway user route, ${variant.label.split('node ')[1] ?? 'variant'} / default CPU µs per request`,
        pairedCpu(variant, user),
      ),
    );
  }
  if (wsNginx.length > 0) {
    const echo = (which: 'gateway' | 'nginx' | 'direct', i: number) => r.websocket[which]?.[i]?.messagesPerSec ?? NaN;
    out.push(
      info(
        'WebSocket echo messages/s: nginx pass-through / direct',
        median(wsNginx.map((_, i) => echo('nginx', i) / echo('direct', i))),
      ),
      info(
        'WebSocket echo messages/s: gateway / nginx pass-through',
        median(wsNginx.map((_, i) => echo('gateway', i) / echo('nginx', i))),
      ),
    );
  }
  const hop = scenario(r, 'hop_user');
  if (hop) {
    out.push(info('native hop prototype / HAProxy jwt_verify req/s', paired(hop, haproxy, rpsRatio), noHaproxy));
    out.push(info('native hop prototype / HAProxy jwt_verify CPU µs per request', pairedCpu(hop, haproxy), noHaproxy));
    out.push(
      info(
        'native hop prototype p99 / HAProxy jwt_verify p99',
        paired(hop, haproxy, (x, y) => x.p99Ms / y.p99Ms),
        noHaproxy,
      ),
    );
  }
  const w2 = scenario(r, 'gw_user_w2');
  if (w2) {
    // Per core: requests per CPU-second the gateway's processes used (1e6 / CPU µs per request).
    const perCore = (s: HttpScenario | undefined) =>
      s ? median(s.rounds.map((x) => 1e6 / (x.cpuUsPerRequest ?? NaN))) : NaN;
    out.push(
      info(
        'GATEWAY_WORKERS=2 / 1 (second instance) req/s, one machine with the load generator',
        paired(w2, twin, rpsRatio),
      ),
    );
    out.push({
      name: 'req/s per busy core: GATEWAY_WORKERS=2 / 1 (second instance)',
      value: `${fmt(perCore(w2), 0)} / ${fmt(perCore(twin), 0)}`,
      target: '(reported)',
      met: null,
    });
  }
  return out;
}

/** Markdown tables (also printed to the terminal): setups, then targets. */
export function renderTables(r: BenchResults): string {
  const lines: string[] = [];
  lines.push('| setup | req/s | p50 ms | p99 ms | CPU µs/req | errors |', '|---|---:|---:|---:|---:|---:|');
  for (const s of r.http) {
    if (s.skipped || s.rounds.length === 0) {
      lines.push(`| ${s.label} | skipped: ${s.skipped ?? 'no data'} | | | | |`);
      continue;
    }
    const m = (f: (x: HttpScenario['rounds'][number]) => number) => median(s.rounds.map(f));
    const errors = s.rounds.reduce((a, x) => a + x.badStatus + x.socketErrors, 0);
    const cpu = m((x) => x.cpuUsPerRequest ?? NaN);
    lines.push(
      `| ${s.label} | ${fmt(
        m((x) => x.rps),
        0,
      )} | ${fmt(m((x) => x.p50Ms))} | ${fmt(m((x) => x.p99Ms))} | ${Number.isFinite(cpu) ? fmt(cpu, 0) : '–'} | ${errors} |`,
    );
  }
  const ws = r.websocket;
  if (!ws.skipped) {
    for (const [label, rows] of [
      ['WebSocket echo, direct', ws.direct],
      ['WebSocket echo, gateway', ws.gateway],
      ...(ws.nginx && ws.nginx.length > 0 ? ([['WebSocket echo, nginx pass-through', ws.nginx]] as const) : []),
    ] as const) {
      lines.push(
        `| ${label} (${rows[0]?.connections ?? 0} conns) | ${fmt(median(rows.map((x) => x.messagesPerSec)), 0)} msg/s | ${fmt(median(rows.map((x) => x.p50Ms)))} | ${fmt(median(rows.map((x) => x.p99Ms)))} | – | ${rows.reduce((a, x) => a + x.errors, 0)} |`,
      );
    }
  }
  lines.push(
    `| raw argon2id verifies (${r.login.argon2}, ${r.login.concurrencyCap} at a time) | ${fmt(median(r.login.rawVerifiesPerSec), 1)}/s | | | | |`,
    `| gateway logins | ${fmt(median(r.login.loginsPerSec), 1)}/s | | ${fmt(median(r.login.loginP99Ms))} | | ${r.login.badStatus} |`,
  );
  lines.push('', '| target | measured | target | met |', '|---|---|---|---|');
  for (const t of r.targets) {
    const met = t.met === null ? (t.target === '(reported)' ? '' : 'not measured') : t.met ? '✅ yes' : '❌ no';
    lines.push(`| ${t.name} | ${t.value}${t.detail ? ` — ${t.detail}` : ''} | ${t.target} | ${met} |`);
  }
  return lines.join('\n');
}
