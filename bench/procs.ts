/**
 * Child processes for the benchmark: spawn, wait for a port, read RSS from /proc, stop. Every
 * process the bench starts goes through here so it is killed (by its own pid) when the run ends,
 * even on failure.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Sends SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Proc>();

/** True when `cmd` is on PATH (e.g. nginx, haproxy, wrk). */
export function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : null;
}

/** A loopback TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a long-running child with stdout/stderr appended to `logFile` (a file, not a pipe: a
 * pipe the bench forgot to drain would stall the child under load).
 */
export function start(
  name: string,
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; logFile: string; cwd?: string },
): Proc {
  const fd = openSync(options.logFile, 'a');
  const spawnOptions: SpawnOptions = { env: options.env ?? process.env, stdio: ['ignore', fd, fd], cwd: options.cwd };
  const child = spawn(cmd, args, spawnOptions);
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const proc: Proc = {
    name,
    child,
    pid,
    async stop(graceMs = 15_000) {
      running.delete(proc);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(proc);
  return proc;
}

/** Stops every process still running (the bench's finally block). */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...running].map((p) => p.stop(5_000)));
}

/** Resolves once something accepts TCP connections on `port`; throws when `proc` exits first. */
export async function waitForPort(port: number, proc: Proc, logFile: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(
        `${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}) before listening:\n${tail(logFile)}`,
      );
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${proc.name} did not listen on ${port} within ${timeoutMs} ms:\n${tail(logFile)}`);
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface MemoryStatus {
  /** Resident set size now, MiB. */
  readonly rssMiB: number;
  /** Peak resident set size since start (VmHWM), MiB. */
  readonly peakMiB: number;
}

/** RSS and peak RSS of a process from /proc (Linux); null elsewhere or once it has exited. */
export function memoryOf(pid: number): MemoryStatus | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** Runs a command to completion and returns its stdout; throws with stderr on a non-zero exit. */
export function runToEnd(
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number; input?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${err.trim().slice(-2000)}`));
    });
    child.stdin.end(options.input ?? '');
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) used so far by `pid` and its descendants (nginx workers); null off Linux. */
export function cpuSecondsOfTree(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    let children = '';
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
    } catch {
      // kernel without CONFIG_PROC_CHILDREN: the process alone
    }
    let total = ticks / TICKS_PER_SECOND;
    for (const child of children.trim().split(/\s+/).filter(Boolean)) total += cpuSecondsOfTree(Number(child)) ?? 0;
    return total;
  } catch {
    return null;
  }
}

/** The open-file limit a running process got (its fd budget for held WebSockets). */
export function openFileLimitOf(pid: number): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The pids of `pid`'s descendants (cluster workers, nginx workers), from /proc; [] off Linux. */
export function descendantsOf(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return children.flatMap((c) => [c, ...descendantsOf(c)]);
}

/** RSS and peak RSS summed over a process and its descendants (a GATEWAY_WORKERS cluster). */
export function treeMemoryOf(pid: number): MemoryStatus | null {
  const own = memoryOf(pid);
  if (!own) return null;
  let rssMiB = own.rssMiB;
  let peakMiB = own.peakMiB;
  for (const child of descendantsOf(pid)) {
    const m = memoryOf(child);
    if (m) {
      rssMiB += m.rssMiB;
      peakMiB += m.peakMiB;
    }
  }
  return { rssMiB, peakMiB };
}
