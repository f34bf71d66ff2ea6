/**
 * Drives the bench's helper processes (bench/ws.ts, bench/argon2-raw.ts) and parses what they
 * print. Each helper is its own process: the orchestrator's event loop never measures anything.
 */
import { spawn } from 'node:child_process';
import { runToEnd } from './procs.js';
import type { EchoResult, EchoSpec, HoldResult, HoldSpec } from './ws.js';

/** How to start a bench helper: `node <args…> <json>` (compiled, or through tsx). */
export type Entry = readonly string[];

function parseTagged<T>(out: string, tag: string): T {
  const line = out.split('\n').find((l) => l.startsWith(`${tag} `));
  if (!line) throw new Error(`no ${tag} line in:\n${out.slice(-2000)}`);
  return JSON.parse(line.slice(tag.length + 1)) as T;
}

export async function runEcho(entry: Entry, spec: Omit<EchoSpec, 'mode'>): Promise<EchoResult> {
  const out = await runToEnd(process.execPath, [...entry, JSON.stringify({ mode: 'echo', ...spec })], {
    timeoutMs: (spec.durationSec + 60) * 1000,
  });
  return parseTagged<EchoResult>(out, 'WS_JSON');
}

export interface ArgonResult {
  readonly perSec: number;
  readonly msPerVerify: number;
}

export async function rawArgon2(
  entry: Entry,
  spec: {
    memoryCost: number;
    timeCost: number;
    parallelism: number;
    concurrency: number;
    nice: number;
    durationSec: number;
  },
  env: NodeJS.ProcessEnv,
): Promise<ArgonResult> {
  const out = await runToEnd(process.execPath, [...entry, JSON.stringify(spec)], {
    env,
    timeoutMs: (spec.durationSec + 60) * 1000,
  });
  return parseTagged<ArgonResult>(out, 'ARGON_JSON');
}

export interface Held {
  readonly result: HoldResult;
  /** Closes every held socket and waits for the helper to exit. */
  release(): Promise<void>;
}

/** Opens `spec.count` WebSockets and keeps them idle until release(). */
export function holdWebSockets(entry: Entry, spec: Omit<HoldSpec, 'mode'>, timeoutMs: number): Promise<Held> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry, JSON.stringify({ mode: 'hold', ...spec })], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let settled = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`WebSocket hold did not finish within ${timeoutMs} ms: ${err.slice(-500)}`));
    }, timeoutMs);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (settled || !out.includes('\n')) return;
      try {
        const result = parseTagged<HoldResult>(out, 'WS_HELD');
        settled = true;
        clearTimeout(timer);
        resolve({
          result,
          async release() {
            child.stdin.end();
            const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
            await exited;
            clearTimeout(kill);
          },
        });
      } catch {
        // not the result line yet
      }
    });
    child.once('exit', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`WebSocket hold exited ${code}: ${err.slice(-500)}`));
    });
  });
}
