/**
 * The bench's results history: one JSON line per full run in bench/history.jsonl (tracked), so a
 * reader can follow each target across runs and tell a slow day (the direct upstream's req/s and
 * the CPU model stand beside every line). Only ratios and per-request costs are compared across
 * lines; absolute req/s move up to ~5× between days on the same machine kind.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { median, type BenchResults } from './report.js';

export interface HistoryEntry {
  readonly at: string;
  readonly quick: boolean;
  readonly cpu: string;
  readonly cpus: number;
  readonly node: string;
  readonly directRps: number;
  readonly userRps: number;
  readonly userCpuUs: number;
  readonly haproxyCpuUs: number;
  /** Target name → measured value as printed, and whether it was met (null: reported only). */
  readonly targets: Record<string, { value: string; met: boolean | null }>;
}

export function historyEntry(r: BenchResults, quick: boolean): HistoryEntry {
  const m = (id: string, f: (x: BenchResults['http'][number]['rounds'][number]) => number) =>
    Number(median(r.http.find((x) => x.id === id)?.rounds.map(f) ?? []).toFixed(1));
  return {
    at: r.generatedAt,
    quick,
    cpu: String(r.machine.cpuModel),
    cpus: Number(r.machine.cpus),
    node: String(r.machine.node),
    directRps: m('direct', (x) => x.rps),
    userRps: m('gw_user', (x) => x.rps),
    userCpuUs: m('gw_user', (x) => x.cpuUsPerRequest ?? NaN),
    haproxyCpuUs: m('haproxy', (x) => x.cpuUsPerRequest ?? NaN),
    targets: Object.fromEntries(r.targets.map((t) => [t.name, { value: t.value, met: t.met }])),
  };
}

export function appendHistory(file: string, entry: HistoryEntry): void {
  appendFileSync(file, `${JSON.stringify(entry)}\n`);
}

export function readHistory(file: string): HistoryEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: HistoryEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as HistoryEntry);
    } catch {
      // a torn line (interrupted run) is skipped, never fatal
    }
  }
  return out;
}

/** The columns a reader follows across runs: this round's targets, next to how fast the machine was. */
const COLUMNS: readonly [string, string][] = [
  ['user/HAProxy req/s', 'gateway user route / HAProxy jwt_verify req/s'],
  ['CPU/HAProxy', 'gateway user route / HAProxy jwt_verify CPU µs per request'],
  ['p99/HAProxy', 'gateway user route p99 / HAProxy jwt_verify p99 (50 connections)'],
  ['1000/1 tokens', 'gateway 1 000 distinct tokens / 1 token req/s'],
  ['WS/direct', 'WebSocket echo messages/s: gateway / direct'],
  ['login/argon2', 'login/s / raw argon2 verifies/s'],
];

export function renderHistory(entries: readonly HistoryEntry[], last = 10): string {
  const rows = [...entries].reverse().slice(0, last);
  const head = `| run | machine | Node | direct req/s | gateway CPU µs/req (HAProxy) | ${COLUMNS.map(([h]) => h).join(' | ')} |`;
  const lines = [head, `|${'---|'.repeat(5 + COLUMNS.length)}`];
  for (const e of rows) {
    const cells = COLUMNS.map(([, name]) => {
      const t = e.targets[name];
      return t ? `${t.value.split(' ')[0]}${t.met === true ? ' ✅' : t.met === false ? ' ❌' : ''}` : '–';
    });
    lines.push(
      `| ${e.at.slice(0, 16).replace('T', ' ')}${e.quick ? ' (quick)' : ''} | ${e.cpus} × ${e.cpu} | ${e.node} | ${e.directRps.toFixed(0)} | ${e.userCpuUs.toFixed(0)} (${e.haproxyCpuUs.toFixed(0)}) | ${cells.join(' | ')} |`,
    );
  }
  return rows.length === 0 ? '(no runs yet)' : lines.join('\n');
}
