/**
 * One load generator interface over wrk (preferred: C, multi-threaded, cheap per request) and
 * autocannon (the fallback, always installed as a dev dependency, run in its own process so the
 * orchestrator's event loop never competes with it). Every setup is driven by the same generator
 * with the same connections and duration, and every result has the same shape.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToEnd, which } from './procs.js';

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly durationSec: number;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** A header (distinct tokens) or the body (distinct logins) that rotates through `values`, request by request. */
  readonly rotate?:
    | { readonly header: string; readonly values: readonly string[] }
    | { readonly body: true; readonly values: readonly string[] };
  /** Pause per connection between requests, for a fixed offered load instead of saturation. */
  readonly delayMs?: number;
}

export interface LoadResult {
  readonly tool: 'wrk' | 'autocannon';
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Responses with status ≥ 400 (wrk counts > 399; autocannon counts non-2xx). */
  readonly badStatus: number;
  /** Connect/read/write errors and timeouts. */
  readonly socketErrors: number;
}

export interface LoadGenerator {
  readonly tool: 'wrk' | 'autocannon';
  readonly threads: number;
  run(spec: LoadSpec): Promise<LoadResult>;
}

/**
 * wrk when it is on PATH (unless BENCH_LOADGEN=autocannon), else autocannon. `workDir` receives
 * the generated wrk scripts.
 */
export function createLoadGenerator(options: {
  workDir: string;
  threads: number;
  autocannonEntry: string;
  prefer?: string;
}): LoadGenerator {
  const wrk = options.prefer === 'autocannon' ? null : which('wrk');
  if (wrk) return wrkGenerator(wrk, options.workDir, options.threads);
  return autocannonGenerator(options.autocannonEntry);
}

let scriptSeq = 0;

function luaString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}

/** The Lua script: static method/headers/body, an optional rotating header, an optional delay, JSON out. */
function wrkScript(spec: LoadSpec): string {
  const lines: string[] = [`wrk.method = ${luaString(spec.method ?? 'GET')}`];
  for (const [name, value] of Object.entries(spec.headers ?? {}))
    lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
  if (spec.body !== undefined) lines.push(`wrk.body = ${luaString(spec.body)}`);
  if (spec.rotate) {
    lines.push('local values = {');
    for (const v of spec.rotate.values) lines.push(`  ${luaString(v)},`);
    lines.push('}');
    lines.push('local n = #values');
    lines.push('local i = 0');
    // Each thread starts at its own offset so threads do not walk the list in lockstep.
    lines.push('local threads = 0');
    lines.push('function setup(thread) threads = threads + 1 thread:set("offset", threads * 389) end');
    lines.push('function init(args) i = (offset or 0) % n end');
    const assign =
      'header' in spec.rotate ? `wrk.headers[${luaString(spec.rotate.header)}] = values[i]` : 'wrk.body = values[i]';
    lines.push(`function request()\n  i = i % n + 1\n  ${assign}\n  return wrk.format()\nend`);
  }
  if (spec.delayMs !== undefined && spec.delayMs > 0)
    lines.push(`function delay() return ${Math.round(spec.delayMs)} end`);
  lines.push(
    'function done(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'\\nWRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n\',',
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))',
    'end',
  );
  return lines.join('\n') + '\n';
}

function wrkGenerator(bin: string, workDir: string, threads: number): LoadGenerator {
  return {
    tool: 'wrk',
    threads,
    async run(spec) {
      const script = join(workDir, `load-${++scriptSeq}.lua`);
      writeFileSync(script, wrkScript(spec));
      const t = Math.max(1, Math.min(threads, spec.connections));
      const out = await runToEnd(
        bin,
        [
          '-t',
          String(t),
          '-c',
          String(spec.connections),
          '-d',
          `${spec.durationSec}s`,
          '--timeout',
          '10s',
          '-s',
          script,
          spec.url,
        ],
        { timeoutMs: (spec.durationSec + 30) * 1000 },
      );
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
      if (!line) throw new Error(`wrk printed no result:\n${out}`);
      const r = JSON.parse(line.slice(9)) as Record<string, number>;
      const secs = (r.duration_us ?? 1) / 1e6;
      const requests = r.requests ?? 0;
      return {
        tool: 'wrk',
        requests,
        rps: requests / secs,
        p50Ms: (r.p50 ?? 0) / 1000,
        p90Ms: (r.p90 ?? 0) / 1000,
        p99Ms: (r.p99 ?? 0) / 1000,
        maxMs: (r.max ?? 0) / 1000,
        badStatus: r.status ?? 0,
        socketErrors: (r.connect ?? 0) + (r.read ?? 0) + (r.write ?? 0) + (r.timeout ?? 0),
      };
    },
  };
}

function autocannonGenerator(entry: string): LoadGenerator {
  return {
    tool: 'autocannon',
    threads: 1,
    async run(spec) {
      const out = await runToEnd(process.execPath, [entry], {
        input: JSON.stringify(spec),
        timeoutMs: (spec.durationSec + 30) * 1000,
      });
      const line = out.split('\n').find((l) => l.startsWith('AC_JSON '));
      if (!line) throw new Error(`autocannon printed no result:\n${out}`);
      return JSON.parse(line.slice(8)) as LoadResult;
    },
  };
}
