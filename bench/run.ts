/**
 * `npm run bench` (docs/benchmark.md): starts the minimal upstream, nginx and HAProxy when
 * installed, and the compiled gateway on a database and Redis prefix of its own; drives each with
 * the same load generator, connections and duration in alternating rounds; prints every ratio next
 * to its target and writes bench/results.json, bench/results.md and bench/results.svg.
 * Loopback only, bounded, and everything it started is stopped and dropped at the end.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { loadConfig } from '../gateway/config/index.js';
import { renderChart } from './chart.js';
import { createBenchData, type BenchData } from './fixtures.js';
import { createLoadGenerator, type LoadGenerator } from './load.js';
import { runEcho } from './drivers.js';
import { log, measure } from './measure.js';
import { readOptions, type BenchOptions } from './options.js';
import { runPhases } from './phases.js';
import { formatSummary, loadProfile, summarizeProfile } from './profile.js';
import { appendHistory, historyEntry, readHistory, renderHistory } from './history.js';
import { resolveLtsNode } from './lts-node.js';
import { startNativeHop } from './native-hop.js';
import { evaluateTargets, median, renderTables, type BenchResults } from './report.js';
import { benchRoutes, checkScenario, httpScenarios } from './scenarios.js';
import { measureRevocation } from './revocation.js';
import { startGateway, startHaproxy, startNginx, startOtlpSink, startUpstream, type Service } from './setups.js';
import { cpuSecondsOfTree, stopAll } from './procs.js';

const here = dirname(fileURLToPath(import.meta.url));
const compiled = here.endsWith(join('dist', 'bench'));
const root = compiled ? join(here, '..', '..') : join(here, '..');
/** How to start a helper: the compiled .js, or the .ts through tsx when run from source. */
const entry = (name: string): string[] =>
  compiled ? [join(here, `${name}.js`)] : ['--import', 'tsx', join(here, `${name}.ts`)];

function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return 'absent';
  return (
    `${r.stdout}${r.stderr}`
      .split('\n')
      .find((l) => /version/i.test(l))
      ?.trim() ?? 'unknown'
  );
}

/** The gateway's environment: production mode, so nothing falls back to embedded defaults. */
function gatewayEnv(
  opts: BenchOptions,
  data: BenchData,
  upstream: Service,
  tuning: Record<string, string>,
  workDir: string,
): Record<string, string> {
  return {
    ...tuning,
    // The built-in table plus a generously limited user route (bench/scenarios.ts, written by main).
    GATEWAY_ROUTES_FILE: join(workDir, 'routes.json'),
    NODE_ENV: 'production',
    DATABASE_URL: data.databaseUrl,
    REDIS_URL: data.redisUrl,
    REDIS_KEY_PREFIX: data.redisPrefix,
    AUTH_JWT_SECRET: data.jwtSecret,
    AUTH_JWT_ISSUER: data.issuer,
    AUTH_JWT_AUDIENCE: data.audience,
    IDENTITY_SIGNING_KEY: data.identitySigningKey,
    DEFAULT_TENANT_DOMAIN: data.tenantDomain,
    UPSTREAM_URL: upstream.url,
    LOG_LEVEL: opts.gatewayLogLevel,
    // 10 000 held WebSockets are 20 000 sockets; the default cap would refuse them.
    GATEWAY_MAX_CONNECTIONS: '40000',
    // The idle-WebSocket scenario holds them all with one user's token: past the per-identity cap
    // (WS_MAX_PER_IDENTITY, 50 by default) they would be refused with 429.
    WS_MAX_PER_IDENTITY: '100000',
    GATEWAY_WORKERS: String(opts.gatewayWorkers),
  };
}

/**
 * BENCH_TRACING=1: a second gateway like the first, exporting every span (always_on, the SDK's
 * default batch settings) over OTLP/HTTP protobuf to a local sink, for the tracing-cost row.
 */
async function startTracedGateway(
  opts: BenchOptions,
  data: BenchData,
  upstream: Service,
  tuning: Record<string, string>,
  workDir: string,
): Promise<Service> {
  const sink = await startOtlpSink(workDir, entry('otlp-sink'));
  return startGateway(
    workDir,
    root,
    {
      ...gatewayEnv(opts, data, upstream, tuning, workDir),
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_TRACES_SAMPLER: 'always_on',
      OTEL_SERVICE_NAME: 'get2dial-gateway-bench',
    },
    { label: 'gateway-traced' },
  );
}

/** PASSWORD_*, UV_THREADPOOL_SIZE and MALLOC_* set by the caller reach both the gateway and the raw argon2 baseline. */
function tuningEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && (k.startsWith('PASSWORD_') || k.startsWith('MALLOC_') || k === 'UV_THREADPOOL_SIZE'))
      out[k] = v;
  return out;
}

async function profileOnly(
  opts: BenchOptions,
  scenarioId: string,
  workDir: string,
  data: BenchData,
  loadgen: LoadGenerator,
  tuning: Record<string, string>,
): Promise<void> {
  const profDir = join(root, 'bench', 'results', 'profiles');
  mkdirSync(profDir, { recursive: true });
  const upstream = await startUpstream(workDir, entry('upstream'));
  // One process, so the profile is the one that served the traffic.
  const gateway = await startGateway(
    workDir,
    root,
    { ...gatewayEnv(opts, data, upstream, tuning, workDir), GATEWAY_WORKERS: '1' },
    { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] },
  );
  const { defs } = httpScenarios({
    upstream,
    nginx: null,
    haproxy: null,
    gateway,
    tokens: data.tokens,
    nodeKey: data.nodeKey,
    tenantId: data.tenantId,
  });
  const def = defs.find((d) => d.id === scenarioId);
  if (!def) throw new Error(`BENCH_PROFILE=${scenarioId}: no such scenario (${defs.map((d) => d.id).join(', ')})`);
  const problem = await checkScenario(def);
  if (problem) throw new Error(`${def.label}: ${problem}`);
  const before = new Set(readdirSync(profDir));
  const r = await measure(loadgen, def, { connections: opts.connections, durationSec: Math.max(10, opts.durationSec) });
  log(
    `${def.label}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99Ms.toFixed(2)} ms, ${r.cpuUsPerRequest?.toFixed(0) ?? '?'} CPU µs/req (under the profiler)`,
  );
  await gateway.proc.stop();
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile') && !before.has(f));
  if (!file) throw new Error('the gateway wrote no .cpuprofile');
  const summary = formatSummary(summarizeProfile(loadProfile(join(profDir, file))));
  writeFileSync(join(profDir, `${scenarioId}.txt`), `${summary}\n`);
  process.stdout.write(`\n${summary}\n\nprofile: ${join(profDir, file)}\n`);
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/** Replaces the block between the markers in docs/benchmark.md with the latest tables (when both markers are there). */
function updateReadme(file: string, markdown: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return;
  }
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a === -1 || b < a) return;
  writeFileSync(file, `${text.slice(0, a + START.length)}\n${markdown}\n${text.slice(b)}`);
}

/**
 * BENCH_ONLY=websocket: echo direct then through the gateway, `opts.rounds` pairs, a pause between
 * runs (the machine settles): each round's gateway/direct ratio, and the ratio of the medians.
 */
async function websocketOnly(
  opts: BenchOptions,
  data: BenchData,
  gateway: Service,
  upstream: Service,
): Promise<{
  ratios: number[];
  medianRatio: number;
  gatewayCpuUsPerMessage: number[];
  upstreamCpuUsPerMessage: number[];
}> {
  const urls = {
    direct: `${upstream.url.replace('http', 'ws')}/ws/agent`,
    gateway: `${gateway.url.replace('http', 'ws')}/ws/agent?token=${data.tokens[0] as string}`,
  };
  await runEcho(entry('ws'), { url: urls.gateway, connections: opts.wsConnections, durationSec: 1, messageBytes: 64 });
  const rates = { direct: [] as number[], gateway: [] as number[] };
  const ratios: number[] = [];
  // The gateway's own CPU per echoed message (a request and its echo): immune to a busy machine.
  const cpuUs: number[] = [];
  // …next to what the echo upstream itself costs per message in the direct runs (a yardstick).
  const upstreamUs: number[] = [];
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (let round = 0; round < opts.rounds; round++) {
    for (const which of ['direct', 'gateway'] as const) {
      await new Promise((r) => setTimeout(r, 1_000));
      const cpu0 = cpuSecondsOfTree(gateway.proc.pid) ?? 0;
      const up0 = cpuSecondsOfTree(upstream.proc.pid) ?? 0;
      const r = await runEcho(entry('ws'), {
        url: urls[which],
        connections: opts.wsConnections,
        durationSec: opts.durationSec,
        messageBytes: 64,
      });
      rates[which].push(r.messagesPerSec);
      if (which === 'direct')
        upstreamUs.push((((cpuSecondsOfTree(upstream.proc.pid) ?? 0) - up0) * 1e6) / Math.max(1, r.messages));
      if (which === 'gateway')
        cpuUs.push((((cpuSecondsOfTree(gateway.proc.pid) ?? 0) - cpu0) * 1e6) / Math.max(1, r.messages));
    }
    ratios.push((rates.gateway.at(-1) as number) / (rates.direct.at(-1) as number));
    log(
      `round ${round + 1} WebSocket echo gateway/direct: ${(ratios.at(-1) as number).toFixed(2)}, gateway CPU ${(cpuUs.at(-1) as number).toFixed(1)} µs/message`,
    );
  }
  return {
    ratios,
    medianRatio: median(rates.gateway) / median(rates.direct),
    gatewayCpuUsPerMessage: cpuUs,
    upstreamCpuUsPerMessage: upstreamUs,
  };
}

async function main(): Promise<void> {
  const opts = readOptions();
  const started = Date.now();
  const workDir = mkdtempSync(join(tmpdir(), 'g2d-bench-'));
  const tuning = tuningEnv();
  writeFileSync(join(workDir, 'routes.json'), JSON.stringify(benchRoutes()));
  const passwords = loadConfig(tuning).passwords;
  const loadgen = createLoadGenerator({
    workDir,
    threads: opts.threads,
    autocannonEntry: entry('autocannon-child').at(-1) as string,
    prefer: opts.loadgen,
  });
  if (loadgen.tool === 'autocannon')
    log('wrk not found: using autocannon (apt-get install wrk for a generator that is not itself the bottleneck)');
  if (compiled === false)
    log('running from source through tsx: the gateway under test is still dist/ (run npm run build first)');
  let data: BenchData | null = null;
  let ok = false;
  let stopRefresh = (): void => {};
  // Ctrl-C, a closed terminal or a closed pipe must not leave nginx, HAProxy or the gateway running.
  process.stdout.on('error', () => {});
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}, stopping everything it started\n`);
      void stopAll()
        .then(() => data?.cleanup())
        .finally(() => process.exit(130));
    });
  }
  try {
    log(`creating the bench database, ${opts.tokens} users and tokens`);
    data = await createBenchData({
      postgresAdminUrl: opts.postgresAdminUrl,
      redisUrl: opts.redisUrl,
      users: Math.max(opts.tokens, opts.loginUsers),
      loginUsers: opts.loginUsers,
      passwords,
    });
    if (opts.profile) {
      await profileOnly(opts, opts.profile, workDir, data, loadgen, tuning);
      ok = true;
      return;
    }
    if (opts.only === 'revocation') {
      // Only the revocation scenario: two instances, nothing else measured, no results files written.
      const upstream = await startUpstream(workDir, entry('upstream'));
      const env = gatewayEnv(opts, data, upstream, tuning, workDir);
      const [a, b] = await Promise.all([
        startGateway(workDir, root, env, { label: 'gateway-a' }),
        startGateway(workDir, root, env, { label: 'gateway-b' }),
      ]);
      const r = await measureRevocation(data, a, b, opts.revocations);
      process.stdout.write(`\n${JSON.stringify(r)}\n`);
      ok = true;
      return;
    } else if (opts.only === 'websocket') {
      // Only the WebSocket echo, direct vs gateway alternating in the same run: ratios, no results files.
      const upstream = await startUpstream(workDir, entry('upstream'));
      const gateway = await startGateway(workDir, root, gatewayEnv(opts, data, upstream, tuning, workDir));
      process.stdout.write(`\n${JSON.stringify(await websocketOnly(opts, data, gateway, upstream))}\n`);
      ok = true;
      return;
    } else if (opts.only !== undefined)
      throw new Error(`BENCH_ONLY=${opts.only}: the scenarios that run alone are "revocation" and "websocket"`);
    const upstream = await startUpstream(workDir, entry('upstream'));
    const nginx = await startNginx(workDir, upstream.port, opts.proxyWorkers);
    const haproxy = await startHaproxy(
      workDir,
      upstream.port,
      { secret: data.jwtSecret, issuer: data.issuer, audience: data.audience, leewaySeconds: 30 },
      opts.proxyWorkers,
    );
    const gateway = await startGateway(workDir, root, gatewayEnv(opts, data, upstream, tuning, workDir));
    const tracedGateway = opts.tracing ? await startTracedGateway(opts, data, upstream, tuning, workDir) : null;
    const notes: string[] = [];
    // The same gateway on the current Node LTS, and with two workers: rows of their own in every round.
    const lts = resolveLtsNode(opts.ltsNode);
    const ltsGateway =
      'bin' in lts
        ? {
            version: lts.version,
            service: await startGateway(workDir, root, gatewayEnv(opts, data, upstream, tuning, workDir), {
              label: 'gateway-lts',
              nodeBin: lts.bin,
            }),
          }
        : null;
    if (!('bin' in lts)) notes.push(`Node LTS rows not measured: ${lts.skipped}`);
    const twinGateway =
      ltsGateway || (opts.workers2 && opts.gatewayWorkers === 1)
        ? await startGateway(workDir, root, gatewayEnv(opts, data, upstream, tuning, workDir), {
            label: 'gateway-twin',
          })
        : null;
    const workers2Gateway =
      opts.workers2 && opts.gatewayWorkers === 1
        ? await startGateway(
            workDir,
            root,
            { ...gatewayEnv(opts, data, upstream, tuning, workDir), GATEWAY_WORKERS: '2' },
            { label: 'gateway-w2' },
          )
        : null;
    if (!nginx) notes.push('nginx not installed: nginx ratios not measured (apt-get install nginx)');
    if (!haproxy) notes.push('haproxy not installed: HAProxy ratio not measured (apt-get install haproxy)');
    const variantGateway =
      opts.variantNodeArgs.length > 0
        ? {
            args: opts.variantNodeArgs.join(' '),
            service: await startGateway(workDir, root, gatewayEnv(opts, data, upstream, tuning, workDir), {
              label: 'gateway-variant',
              nodeArgs: opts.variantNodeArgs,
            }),
          }
        : null;
    // The design that would close the gap to HAProxy, as a measured prototype (bench/native-hop.ts).
    const nativeHop = opts.nativeHop ? await startNativeHop(workDir, upstream.port, gateway, opts.proxyWorkers) : null;
    if (nativeHop) {
      await nativeHop.decide(data.tokens[0] as string);
      stopRefresh = nativeHop.refreshEvery(20_000);
    }
    const results: BenchResults = await runPhases({
      opts,
      loadgen,
      data,
      upstream,
      nginx,
      haproxy,
      gateway,
      tracedGateway,
      ltsGateway,
      workers2Gateway,
      twinGateway,
      nativeHop,
      variantGateway,
      passwords,
      tuning,
      entry,
      notes,
      startFreshGateway: () =>
        startGateway(workDir, root, gatewayEnv(opts, data as BenchData, upstream, tuning, workDir), {
          label: 'gateway-ws',
        }),
    });
    // Revocation push: a second instance next to the measured one.
    const second = await startGateway(workDir, root, gatewayEnv(opts, data, upstream, tuning, workDir), {
      label: 'gateway-b',
    });
    results.revocation = await measureRevocation(data, gateway, second, opts.revocations);
    await second.proc.stop();
    Object.assign(results, {
      generatedAt: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        kernel: release(),
        node: process.version,
        loadgen: `${loadgen.tool}${loadgen.tool === 'wrk' ? ` -t${loadgen.threads}` : ''}`,
        nginx: version('nginx', ['-v']),
        haproxy: version('haproxy', ['-v']),
        minutes: Number(((Date.now() - started) / 60000).toFixed(1)),
      },
    });
    results.targets = evaluateTargets(results);
    const tables = renderTables(results);
    const outDir = opts.outDir ? resolve(opts.outDir) : join(root, 'bench');
    mkdirSync(join(outDir, 'results'), { recursive: true });
    const json = `${JSON.stringify(results, null, 2)}\n`;
    writeFileSync(join(outDir, 'results.json'), json);
    writeFileSync(join(outDir, 'results', `${results.generatedAt.replace(/[:.]/g, '-')}.json`), json);
    writeFileSync(join(outDir, 'results.svg'), renderChart(results));
    const directRps = median(results.http.find((x) => x.id === 'direct')?.rounds.map((x) => x.rps) ?? []);
    const header = `Latest run: ${results.generatedAt} · ${results.machine.cpus} CPU (${results.machine.cpuModel}) · Node ${results.machine.node} · direct upstream ${directRps.toFixed(0)} req/s (how fast this machine is today) · ${results.machine.loadgen}, ${opts.connections} connections, ${opts.durationSec} s × ${opts.rounds} alternating rounds · ${results.machine.minutes} min`;
    // Every full run adds a line to the tracked history (a smoke run with BENCH_OUT does not).
    const historyFile = join(root, 'bench', 'history.jsonl');
    if (!opts.outDir) appendHistory(historyFile, historyEntry(results, opts.quick));
    const history = `\nHistory (newest first; bench/history.jsonl):\n\n${renderHistory(readHistory(historyFile))}\n`;
    const markdown = `${header}\n\n${tables}\n${notes.length ? `\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}${history}`;
    writeFileSync(join(outDir, 'results.md'), markdown);
    // The default run refreshes the table in docs/benchmark.md; a smoke run (BENCH_OUT) leaves it alone.
    if (!opts.outDir) updateReadme(join(root, 'docs', 'benchmark.md'), markdown);
    process.stdout.write(`\n${header}\n\n${tables}\n\n`);
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
    const shown = relative(process.cwd(), outDir) || '.';
    process.stdout.write(
      `\nwrote ${shown}/results.json, results.md, results.svg ${opts.outDir ? '' : ' and the table in docs/benchmark.md'} in ${((Date.now() - started) / 60000).toFixed(1)} min\n`,
    );
    ok = true;
  } finally {
    stopRefresh();
    await stopAll();
    await data?.cleanup();
    if (ok) rmSync(workDir, { recursive: true, force: true });
    else process.stderr.write(`bench: logs kept in ${workDir}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
