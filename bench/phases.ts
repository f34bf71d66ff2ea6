/**
 * The bench's phases, in order: checks, warm-up (→ warm RSS), throughput rounds, WebSocket echo,
 * logins vs raw argon2, proxied latency under a login storm, the soak (→ soak RSS), and idle
 * WebSockets held. Every phase is bounded by the options' durations.
 */
import type { PasswordConfig } from '../gateway/config/types.js';
import { holdWebSockets, rawArgon2, runEcho, type Entry } from './drivers.js';
import type { BenchData } from './fixtures.js';
import type { LoadGenerator, LoadResult, LoadSpec } from './load.js';
import { log, measure, type Measured } from './measure.js';
import type { BenchOptions } from './options.js';
import { openFileLimitOf, sleep, treeMemoryOf } from './procs.js';
import { median, type BenchResults, type HttpScenario } from './report.js';
import { checkScenario, httpScenarios, type HttpScenarioDef } from './scenarios.js';
import type { Service } from './setups.js';
import { withTail, type TailReading } from './tail.js';
import type { EchoResult } from './ws.js';

export interface PhaseContext {
  /** Starts another gateway like `gateway` (same configuration), for the idle-WebSocket phase. */
  readonly startFreshGateway: () => Promise<Service>;
  readonly opts: BenchOptions;
  readonly loadgen: LoadGenerator;
  readonly data: BenchData;
  readonly upstream: Service;
  readonly nginx: Service | null;
  readonly haproxy: Service | null;
  readonly gateway: Service;
  /** The gateway with tracing on (BENCH_TRACING=1), measured on the user route only. */
  readonly tracedGateway?: Service | null;
  readonly ltsGateway?: { readonly service: Service; readonly version: string } | null;
  readonly workers2Gateway?: Service | null;
  readonly twinGateway?: Service | null;
  readonly nativeHop?: Service | null;
  readonly variantGateway?: { readonly service: Service; readonly args: string } | null;
  readonly passwords: PasswordConfig;
  readonly tuning: Record<string, string>;
  readonly entry: (name: string) => Entry;
  readonly notes: string[];
}

/** bin/gateway.cjs runs the gateway's libuv pool threads (argon2) at this nice level. */
const POOL_NICE = 10;

const fmt = (r: LoadResult) =>
  `${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms${r.badStatus + r.socketErrors ? `, ${r.badStatus + r.socketErrors} errors` : ''}`;

/** The gateway's RSS: the process, plus its workers when GATEWAY_WORKERS > 1. */
function gatewayMiB(ctx: PhaseContext): number {
  return treeMemoryOf(ctx.gateway.proc.pid)?.rssMiB ?? NaN;
}

/** The login request: rotates through the login users so no one identity has many attempts in flight (lockout counts before verifying). */
function loginSpec(ctx: PhaseContext): Omit<LoadSpec, 'connections' | 'durationSec'> {
  const bodies = ctx.data.loginEmails.map((email) =>
    JSON.stringify({ email, password: ctx.data.loginPassword, tenant_domain: ctx.data.tenantDomain }),
  );
  return {
    url: `${ctx.gateway.url}/api/v1/auth/login`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    rotate: { body: true, values: bodies },
  };
}

export async function runPhases(ctx: PhaseContext): Promise<BenchResults> {
  const { opts, loadgen } = ctx;
  const { defs, missing } = httpScenarios({
    ...ctx,
    tokens: ctx.data.tokens,
    nodeKey: ctx.data.nodeKey,
    tenantId: ctx.data.tenantId,
  });
  const http: HttpScenario[] = missing.map((m) => ({ id: m.id, label: m.label, skipped: m.why, rounds: [] }));
  const live: HttpScenarioDef[] = [];
  for (const def of defs) {
    const problem = await checkScenario(def);
    if (problem) {
      log(`skipping ${def.label}: ${problem}`);
      ctx.notes.push(`${def.label} skipped: ${problem}`);
      http.push({ id: def.id, label: def.label, skipped: problem, rounds: [] });
    } else live.push(def);
  }
  const rows = new Map<string, Measured[]>(live.map((d) => [d.id, []]));
  const login = loginSpec(ctx);
  const gatewayWs = `${ctx.gateway.url.replace('http', 'ws')}/ws/agent?token=${ctx.data.tokens[0] as string}`;
  const directWs = `${ctx.upstream.url.replace('http', 'ws')}/ws/agent`;

  // ---- warm-up: JIT, pools, caches, argon2 memory; then the RSS every later reading is held to.
  log('warm-up');
  for (const def of live)
    await loadgen.run({ ...def.spec, connections: opts.connections, durationSec: opts.warmupSec });
  await loadgen.run({ ...login, connections: opts.stormConnections, durationSec: opts.warmupSec + 1 });
  let wsSkipped: string | undefined;
  try {
    await runEcho(ctx.entry('ws'), {
      url: gatewayWs,
      connections: opts.wsConnections,
      durationSec: 1,
      messageBytes: 64,
    });
  } catch (err) {
    wsSkipped = `gateway WebSocket echo failed: ${err instanceof Error ? err.message : String(err)}`;
    log(wsSkipped);
  }
  await sleep(1000);
  const warmMiB = gatewayMiB(ctx);
  log(`gateway RSS after warm-up: ${warmMiB.toFixed(0)} MiB`);

  // ---- throughput: every setup once per round, the order rotated each round.
  const userTail: TailReading[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    const order = live.map((_, i) => live[(i + round) % live.length] as HttpScenarioDef);
    for (const def of order) {
      const run = () => measure(loadgen, def, { connections: opts.connections, durationSec: opts.durationSec });
      // The user route's tail: event-loop delay and GC pauses read from the gateway around the run.
      const { result: r, tail } = def.id === 'gw_user' ? await withTail(def.service.url, run) : { result: await run() };
      rows.get(def.id)?.push(r);
      if (tail) userTail.push(tail);
      log(
        `round ${round + 1}/${opts.rounds} ${def.label}: ${fmt(r)}${r.invalid ? ` INVALID (${r.invalid})` : ''}${tail ? ` · event loop p99 ${tail.eventLoopP99Ms.toFixed(1)} ms, GC ${tail.gcMsPerSec.toFixed(0)} ms/s` : ''}`,
      );
    }
  }
  for (const def of live) http.push({ id: def.id, label: def.label, rounds: rows.get(def.id) ?? [] });
  const order = [
    'direct',
    'nginx',
    'haproxy',
    'gw_public',
    'gw_user',
    'gw_user_limited',
    'gw_user_traced',
    'gw_user_twin',
    'gw_user_variant',
    'gw_user_lts',
    'gw_user_w2',
    'hop_user',
    'gw_user_1000',
    'gw_node',
  ];
  http.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));

  // ---- WebSocket echo, direct vs gateway, alternating.
  // nginx's pass-through of the same sockets is the native reference for what any extra hop costs.
  const ws = {
    direct: [] as EchoResult[],
    gateway: [] as EchoResult[],
    nginx: [] as EchoResult[],
    ...(wsSkipped ? { skipped: wsSkipped } : {}),
  };
  if (!wsSkipped) {
    const wsSec = Math.min(opts.durationSec, 5);
    const setups: (readonly ['direct' | 'gateway' | 'nginx', string])[] = [
      ['direct', directWs],
      ['gateway', gatewayWs],
    ];
    if (ctx.nginx) setups.push(['nginx', `${ctx.nginx.url.replace('http', 'ws')}/ws/agent`]);
    for (let round = 0; round < opts.rounds; round++) {
      const order = setups.map((_, i) => setups[(i + round) % setups.length] as (typeof setups)[number]);
      for (const [which, url] of order) {
        const r = await runEcho(ctx.entry('ws'), {
          url,
          connections: opts.wsConnections,
          durationSec: wsSec,
          messageBytes: 64,
        });
        ws[which].push(r);
        log(
          `round ${round + 1} WebSocket echo ${which}: ${r.messagesPerSec.toFixed(0)} msg/s, p99 ${r.p99Ms.toFixed(2)} ms`,
        );
      }
    }
  }

  // ---- logins vs raw argon2 at the same cost and concurrency cap, alternating.
  const argon2 = {
    memoryCost: ctx.passwords.memoryCost,
    timeCost: ctx.passwords.timeCost,
    parallelism: ctx.passwords.parallelism,
  };
  const loginRounds = Math.min(2, opts.rounds);
  // Each gateway process has its own semaphore: the raw baseline runs as many verifies at once as
  // the whole gateway may, at the nice level bin/gateway.cjs gives the gateway's pool threads.
  const concurrency = ctx.passwords.maxConcurrent * opts.gatewayWorkers;
  const loginResult = {
    rawVerifiesPerSec: [] as number[],
    loginsPerSec: [] as number[],
    loginP99Ms: [] as number[],
    badStatus: 0,
    concurrencyCap: concurrency,
    argon2: `m=${argon2.memoryCost} KiB, t=${argon2.timeCost}, p=${argon2.parallelism}`,
  };
  for (let round = 0; round < loginRounds; round++) {
    const raw = await rawArgon2(
      ctx.entry('argon2-raw'),
      { ...argon2, concurrency, nice: POOL_NICE, durationSec: Math.min(opts.durationSec, 6) },
      { ...process.env, ...ctx.tuning },
    );
    const r = await loadgen.run({ ...login, connections: opts.loginConnections, durationSec: opts.durationSec });
    const ok = r.requests - r.badStatus - r.socketErrors;
    loginResult.rawVerifiesPerSec.push(raw.perSec);
    loginResult.loginsPerSec.push((r.rps * ok) / Math.max(1, r.requests));
    loginResult.loginP99Ms.push(r.p99Ms);
    loginResult.badStatus += r.badStatus + r.socketErrors;
    log(
      `round ${round + 1} raw argon2 ${raw.perSec.toFixed(1)}/s (${raw.msPerVerify.toFixed(1)} ms each) · gateway logins ${((r.rps * ok) / Math.max(1, r.requests)).toFixed(1)}/s, p99 ${r.p99Ms.toFixed(0)} ms, ${r.badStatus} bad`,
    );
  }

  // ---- proxied latency at a fixed, moderate offered load: idle vs during a login storm.
  const user = live.find((d) => d.id === 'gw_user');
  const storm = {
    offeredRps: 0,
    idle: [] as LoadResult[],
    storm: [] as LoadResult[],
    stormLoginsPerSec: [] as number[],
  };
  if (user) {
    const capacity = median((rows.get('gw_user') ?? []).map((r) => r.rps));
    const conns = 10;
    storm.offeredRps = Math.round(capacity * 0.25);
    const delayMs = Math.max(1, (1000 * conns) / Math.max(1, storm.offeredRps));
    const probe = () => loadgen.run({ ...user.spec, connections: conns, durationSec: opts.durationSec, delayMs });
    for (let round = 0; round < loginRounds; round++) {
      const idle = await probe();
      storm.idle.push(idle);
      log(`round ${round + 1} proxied at ~${storm.offeredRps} req/s offered, idle: ${fmt(idle)}`);
      const stormRun = loadgen.run({ ...login, connections: opts.stormConnections, durationSec: opts.durationSec + 2 });
      await sleep(1000);
      const under = await probe();
      const logins = await stormRun;
      storm.storm.push(under);
      storm.stormLoginsPerSec.push(logins.rps);
      log(
        `round ${round + 1} proxied during a ${opts.stormConnections}-connection login storm (${logins.rps.toFixed(0)} logins/s): ${fmt(under)}`,
      );
    }
  } else ctx.notes.push('login-storm latency not measured: the gateway user route was skipped');

  // ---- soak: the 1 000-token user route at full load plus a trickle of logins.
  const soakDef = live.find((d) => d.id === 'gw_user_1000') ?? user;
  const samples: number[] = [];
  let soakRps = NaN;
  if (soakDef) {
    log(`soak: ${opts.soakSec} s of ${soakDef.label} with a trickle of logins`);
    const timer = setInterval(() => samples.push(Number(gatewayMiB(ctx).toFixed(1))), 1000);
    try {
      const [r] = await Promise.all([
        loadgen.run({ ...soakDef.spec, connections: opts.connections, durationSec: opts.soakSec }),
        loadgen.run({ ...login, connections: 2, durationSec: opts.soakSec, delayMs: 100 }),
      ]);
      soakRps = r.rps;
      log(`soak: ${fmt(r)}`);
    } finally {
      clearInterval(timer);
    }
  }
  await sleep(2000);
  const soakMiB = gatewayMiB(ctx);
  log(`gateway RSS after soak: ${soakMiB.toFixed(0)} MiB (warm-up ${warmMiB.toFixed(0)} MiB)`);

  const idle = wsSkipped ? { ...EMPTY_IDLE, requested: opts.wsIdle, skipped: wsSkipped } : await holdIdle(ctx);

  return {
    generatedAt: '',
    machine: {},
    options: {
      quick: opts.quick,
      durationSec: opts.durationSec,
      rounds: opts.rounds,
      connections: opts.connections,
      threads: opts.threads,
      soakSec: opts.soakSec,
      tokens: opts.tokens,
      wsConnections: opts.wsConnections,
      loginConnections: opts.loginConnections,
      stormConnections: opts.stormConnections,
      gatewayWorkers: opts.gatewayWorkers,
      proxyWorkers: opts.proxyWorkers,
      gatewayLogLevel: opts.gatewayLogLevel,
    },
    http,
    userTail,
    websocket: ws,
    login: loginResult,
    storm,
    memory: {
      warmMiB,
      soakMiB,
      peakMiB: treeMemoryOf(ctx.gateway.proc.pid)?.peakMiB ?? NaN,
      soakSeconds: opts.soakSec,
      samples,
      soakRps,
    },
    websocketIdle: idle,
    targets: [],
    notes: ctx.notes,
  };
}

type IdleResult = BenchResults['websocketIdle'];
const EMPTY_IDLE: IdleResult = {
  requested: 0,
  held: 0,
  failed: 0,
  firstError: null,
  baselineMiB: NaN,
  heldMiB: NaN,
  per10kMiB: NaN,
  extrapolated: false,
};

/**
 * Idle WebSockets held through a fresh gateway (same configuration): what holding them costs,
 * apart from what the earlier phases left in the heap and malloc arenas (that is the soak figure).
 * Each is two sockets in the gateway (client and upstream), so the open-file limit caps the count.
 */
async function holdIdle(ctx: PhaseContext): Promise<IdleResult> {
  const { opts } = ctx;
  const gateway = await ctx.startFreshGateway();
  try {
    const url = `${gateway.url.replace('http', 'ws')}/ws/agent?token=${ctx.data.tokens[0] as string}`;
    await runEcho(ctx.entry('ws'), { url, connections: opts.wsConnections, durationSec: 1, messageBytes: 64 });
    await sleep(2000);
    const memory = () => treeMemoryOf(gateway.proc.pid)?.rssMiB ?? NaN;
    const fdLimit = openFileLimitOf(gateway.proc.pid) ?? 1024;
    const perProcess = Math.floor((fdLimit - 256) / 2);
    // Several workers share the sockets round-robin, not exactly evenly: keep 10 % headroom.
    const count = Math.min(
      opts.wsIdle,
      opts.gatewayWorkers > 1 ? Math.floor(perProcess * opts.gatewayWorkers * 0.9) : perProcess,
    );
    if (count < opts.wsIdle)
      ctx.notes.push(
        `open-file limit ${fdLimit} per process: ${count} idle WebSockets held (two sockets each in the gateway), the RSS they add scaled linearly to 10 000`,
      );
    const result: IdleResult = { ...EMPTY_IDLE, requested: opts.wsIdle, baselineMiB: memory() };
    log(`holding ${count} idle WebSockets through a fresh gateway (${result.baselineMiB.toFixed(0)} MiB before)`);
    const held = await holdWebSockets(ctx.entry('ws'), { url, count, batch: 200 }, 180_000);
    try {
      await sleep(3000);
      result.held = held.result.held;
      result.failed = held.result.failed;
      result.firstError = held.result.firstError;
      result.heldMiB = memory();
      result.extrapolated = result.held < 10_000;
      // Only what the sockets add is scaled (a collection during the hold can make it negative: 0 then).
      result.per10kMiB =
        result.held > 0
          ? result.baselineMiB + (Math.max(0, result.heldMiB - result.baselineMiB) * 10_000) / result.held
          : NaN;
      log(
        `held ${result.held} (${result.failed} failed) in ${held.result.seconds.toFixed(1)} s: gateway RSS ${result.heldMiB.toFixed(0)} MiB`,
      );
    } finally {
      await held.release();
    }
    return result;
  } finally {
    await gateway.proc.stop();
  }
}
