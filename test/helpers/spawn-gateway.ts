/**
 * Spawns the real gateway process (`node bin/gateway.cjs` → dist/, what `npm run serve` runs)
 * on a free loopback port and waits until it accepts connections. Output is captured so tests can
 * read the logs (and grep them for secrets).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface GatewayProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Sends `signal` and resolves with the exit code (SIGKILL after `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/** A TCP port nothing listens on right now (bind to 0, read, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gateway did not listen on ${port} within ${timeoutMs} ms:\n${output()}`);
}

/**
 * Where spawned gateways keep development defaults (generated secrets) unless a test names its own
 * GATEWAY_DATA_DIR: one directory per test file, never the repository's ./.data of `npm start`.
 */
const DATA_DIR = mkdtempSync(join(tmpdir(), 'g2d-test-data-'));
process.once('exit', () => rmSync(DATA_DIR, { recursive: true, force: true }));

/** Base environment for a spawned gateway: no inherited service URLs, quiet logs. */
export function baseEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (
      /^(DATABASE_URL|DB_|REDIS_|AUTH_|IDENTITY_|GATEWAY_|UPSTREAM_|HTTP_ALLOWED|TRUSTED_PROXIES|NODE_ENV|PORT|HOST|STUB_)/.test(
        key,
      )
    )
      delete env[key];
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export async function startGateway(
  env: Record<string, string | undefined>,
  options: SpawnOptions = {},
): Promise<GatewayProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  let out = '';
  const child = spawn(process.execPath, [options.entry ?? join(ROOT, 'bin', 'gateway.cjs')], {
    cwd: ROOT,
    // AUTH_MFA_REQUIRED_ROLES defaults to none here: tests of other features sign platform admins
    // in with a password alone. test/e2e/mfa.test.ts passes `undefined` to get the real default.
    env: baseEnv({
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      GATEWAY_DATA_DIR: DATA_DIR,
      AUTH_MFA_REQUIRED_ROLES: '',
      ...env,
      PORT: String(port),
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const output = () => out;
  await waitForPort(port, child, output, options.timeoutMs ?? 20_000);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output,
    stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        child.kill(signal);
      });
    },
  };
}

export interface SpawnOptions {
  /** The JS entry point (default bin/gateway.cjs, what `npm run serve` runs). */
  readonly entry?: string;
  readonly timeoutMs?: number;
}

/**
 * The environment an end-to-end gateway of this run starts from: the run's database and Redis,
 * a Redis key prefix of its own (`<run prefix><label>:`, so files never share counters) and a
 * JWT secret derived from the label. `overrides` win; an `undefined` value removes a variable
 * (e.g. `REDIS_URL: undefined` for the in-process state store).
 */
export function gatewayEnv(
  label: string,
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `${inject('redisPrefix')}${label}:`,
    AUTH_JWT_SECRET: `${label}-e2e-secret-`.padEnd(40, '0123456789'),
    ...overrides,
  };
}

/**
 * Spawns the real gateway process for an end-to-end test file: `gatewayEnv(label, overrides)`
 * through `startGateway`. The one call each e2e file makes instead of repeating the setup.
 */
export function spawnGateway(
  label: string,
  overrides: Record<string, string | undefined> = {},
  options: SpawnOptions = {},
): Promise<GatewayProcess> {
  return startGateway(gatewayEnv(label, overrides), options);
}

/**
 * Polls `probe` until it returns something truthy, then returns it; throws after `timeoutMs`
 * naming `what`. For "eventually" assertions (revocation reach, reconnects), never for timing.
 */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline)
      throw new Error(`timed out waiting for ${options.what ?? 'condition'} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}

/** The JSON log lines a gateway printed (non-JSON lines, e.g. pretty output, are skipped). */
export function jsonLines(output: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut mid-write
    }
  }
  return lines;
}

/** Resolves with the exit code once the process has exited (at once when it already has). */
export function exited(gw: GatewayProcess): Promise<number | null> {
  if (gw.child.exitCode !== null || gw.child.signalCode !== null) return Promise.resolve(gw.child.exitCode);
  return new Promise((resolve) => gw.child.once('exit', (code) => resolve(code)));
}
