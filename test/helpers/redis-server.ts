/**
 * A throwaway `redis-server` child process on a free loopback port, for fault drills (docs/operations.md):
 * the test kills it and starts it again on the same port while a gateway is connected. Nothing
 * is persisted (`--save '' --appendonly no`), so a restart comes back empty, as after a failover.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './spawn-gateway.js';

export interface RedisServerProcess {
  readonly port: number;
  readonly url: string;
  /** Kills the server (SIGKILL: an outage, not a clean shutdown) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface RedisServerOptions {
  /** A config file, given first on the command line (redis-server requires that order). */
  readonly configFile?: string;
  /** Further arguments, e.g. `--cluster-enabled yes` or `--sentinel`. */
  readonly args?: readonly string[];
}

/** Starts a private redis-server; throws when the binary is missing. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerProcess> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  let log = '';

  async function start(): Promise<void> {
    log = '';
    const args = [
      ...(options.configFile ? [options.configFile] : []),
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      ...(options.args ?? []),
    ];
    const c = spawn('redis-server', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    c.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}:\n${log}`);
      if (await accepts(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not listen on ${port}:\n${log}`);
  }

  async function kill(): Promise<void> {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  }

  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill, start };
}
