/** Bench knobs, read once from the environment (documented in docs/benchmark.md). */
export interface BenchOptions {
  readonly quick: boolean;
  /** Seconds per measured run. */
  readonly durationSec: number;
  readonly warmupSec: number;
  /** Alternating rounds of every throughput scenario. */
  readonly rounds: number;
  readonly connections: number;
  /** wrk threads. */
  readonly threads: number;
  readonly soakSec: number;
  /** Idle WebSockets to hold through the gateway. */
  readonly wsIdle: number;
  readonly wsConnections: number;
  readonly tokens: number;
  readonly loginUsers: number;
  readonly loginConnections: number;
  readonly stormConnections: number;
  /** GATEWAY_WORKERS for the gateway under test (1 = the default `npm run serve`). */
  readonly gatewayWorkers: number;
  /** nginx worker processes and HAProxy threads: as many as gateway processes, unless set. */
  readonly proxyWorkers: number;
  readonly gatewayLogLevel: string;
  /**
   * BENCH_TRACING (on unless 0): also measure the user route on a second gateway that exports every span
   * (OTEL_TRACES_SAMPLER=always_on) to a local OTLP sink, to report what tracing costs.
   */
  readonly tracing: boolean;
  readonly loadgen: string | undefined;
  /** `revocation`: run only the revocation push scenario (two instances, no throughput phases). */
  readonly only: string | undefined;
  /** Logouts in the revocation scenario. */
  readonly revocations: number;
  /** A scenario id: run only it, under `node --cpu-prof`, and print the profile summary. */
  readonly profile: string | undefined;
  /** Where results go (default bench/, and the table in docs/benchmark.md is refreshed); smoke runs point elsewhere. */
  readonly outDir: string | undefined;
  /**
   * The current Node LTS, measured next to the runtime the bench runs on: a node binary's path,
   * `auto` (the npm registry's node-<platform>-<arch>@24 package, installed once into
   * ~/.cache/get2dial-bench) or `off`.
   */
  readonly ltsNode: string;
  /** Also measure the user route on a gateway with GATEWAY_WORKERS=2 (req/s per core). */
  readonly workers2: boolean;
  /**
   * BENCH_VARIANT_NODE_ARGS: node flags for one more gateway measured on the user route in the same
   * rounds (e.g. `--max-semi-space-size=32`), so a runtime setting is judged side by side.
   */
  readonly variantNodeArgs: string[];
  /** Also measure the native-hop prototype (bench/native-hop.ts) when HAProxy is installed. */
  readonly nativeHop: boolean;
  readonly postgresAdminUrl: string;
  readonly redisUrl: string;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`${name}: must be a whole number from ${min} to ${max} (got "${raw}")`);
  return n;
}

export function readOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  return {
    quick,
    durationSec: int(env, 'BENCH_DURATION', quick ? 3 : 8, 1, 600),
    warmupSec: int(env, 'BENCH_WARMUP', quick ? 1 : 2, 1, 60),
    rounds: int(env, 'BENCH_ROUNDS', quick ? 1 : 3, 1, 20),
    connections: int(env, 'BENCH_CONNECTIONS', 50, 1, 5000),
    threads: int(env, 'BENCH_THREADS', 2, 1, 64),
    soakSec: int(env, 'BENCH_SOAK_SECONDS', quick ? 10 : 60, 1, 3600),
    wsIdle: int(env, 'BENCH_WS_IDLE', quick ? 1000 : 10_000, 0, 100_000),
    wsConnections: int(env, 'BENCH_WS_CONNECTIONS', 50, 1, 5000),
    tokens: int(env, 'BENCH_TOKENS', 1000, 1, 100_000),
    loginUsers: int(env, 'BENCH_LOGIN_USERS', 64, 1, 10_000),
    loginConnections: int(env, 'BENCH_LOGIN_CONNECTIONS', 16, 1, 1000),
    stormConnections: int(env, 'BENCH_STORM_CONNECTIONS', 64, 1, 1000),
    gatewayWorkers: int(env, 'BENCH_GATEWAY_WORKERS', 1, 1, 64),
    proxyWorkers: int(env, 'BENCH_PROXY_WORKERS', int(env, 'BENCH_GATEWAY_WORKERS', 1, 1, 64), 1, 64),
    gatewayLogLevel: env.BENCH_GATEWAY_LOG_LEVEL ?? 'info',
    tracing: env.BENCH_TRACING !== '0' && env.BENCH_TRACING !== 'false',
    loadgen: env.BENCH_LOADGEN,
    only: env.BENCH_ONLY || undefined,
    revocations: int(env, 'BENCH_REVOCATIONS', quick ? 50 : 200, 1, 10_000),
    profile: env.BENCH_PROFILE || undefined,
    outDir: env.BENCH_OUT || undefined,
    ltsNode: env.BENCH_LTS_NODE || 'auto',
    variantNodeArgs: (env.BENCH_VARIANT_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    nativeHop: env.BENCH_NATIVE_HOP !== '0' && env.BENCH_NATIVE_HOP !== 'false',
    workers2: env.BENCH_WORKERS2 !== '0' && env.BENCH_WORKERS2 !== 'false',
    postgresAdminUrl: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}
