/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`): self time by function and by
 * file/package, and inclusive time by function (recursion counted once), so docs/benchmark.md can say
 * where a proxied request's CPU goes. `node dist/bench/profile.js <file.cpuprofile> [top]`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
}

export interface ProfileRow {
  readonly name: string;
  readonly ms: number;
  readonly percent: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idlePercent: number;
  readonly selfByFunction: ProfileRow[];
  readonly selfByFile: ProfileRow[];
  readonly inclusiveByFunction: ProfileRow[];
}

/** Short location: the package name for node_modules, the repo-relative path for our code. */
function where(url: string): string {
  if (!url) return '(native)';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const d = url.indexOf('/dist/');
  return d !== -1 ? url.slice(d + 6) : url.replace(/^file:\/\//, '');
}

function keyOf(f: CallFrame): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  return `${name} ${where(f.url)}:${f.lineNumber + 1}`;
}

export function summarizeProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totalSamples = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const msPer = totalMs / totalSamples;
  const self = new Map<string, number>();
  const selfFile = new Map<string, number>();
  let idle = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    if (n.callFrame.functionName === '(idle)') idle += hits;
    const k = keyOf(n.callFrame);
    self.set(k, (self.get(k) ?? 0) + hits);
    const f = n.callFrame.url ? where(n.callFrame.url) : n.callFrame.functionName || '(native)';
    selfFile.set(f, (selfFile.get(f) ?? 0) + hits);
  }
  // Inclusive time: walk from the root, counting a function once per stack even when it recurses.
  const inclusive = new Map<string, number>();
  const subtree = new Map<number, number>();
  const total = (id: number): number => {
    const cached = subtree.get(id);
    if (cached !== undefined) return cached;
    const n = byId.get(id);
    const sum = (n?.hitCount ?? 0) + (n?.children ?? []).reduce((a, c) => a + total(c), 0);
    subtree.set(id, sum);
    return sum;
  };
  const walk = (id: number, onStack: Set<string>): void => {
    const n = byId.get(id);
    if (!n) return;
    const k = keyOf(n.callFrame);
    const fresh = !onStack.has(k);
    if (fresh) {
      inclusive.set(k, (inclusive.get(k) ?? 0) + total(id));
      onStack.add(k);
    }
    for (const c of n.children ?? []) walk(c, onStack);
    if (fresh) onStack.delete(k);
  };
  const root = profile.nodes[0];
  if (root) walk(root.id, new Set());
  const rows = (m: Map<string, number>, skip: (k: string) => boolean = () => false) =>
    [...m.entries()]
      .filter(([k]) => !skip(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, hits]) => ({ name, ms: hits * msPer, percent: (100 * hits) / totalSamples }));
  return {
    totalMs,
    idlePercent: (100 * idle) / totalSamples,
    selfByFunction: rows(self),
    selfByFile: rows(selfFile),
    inclusiveByFunction: rows(inclusive, (k) => k === '(root)' || k.startsWith('(idle)') || k.startsWith('(program)')),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const block = (title: string, rows: readonly ProfileRow[]) =>
    [`${title}:`, ...rows.map((r) => `  ${r.percent.toFixed(1).padStart(5)}%  ${r.name}`)].join('\n');
  return [
    `profile: ${(s.totalMs / 1000).toFixed(1)} s, idle ${s.idlePercent.toFixed(1)}%`,
    block('self time by function', s.selfByFunction),
    block('self time by file/package', s.selfByFile),
    block('inclusive time by function', s.inclusiveByFunction),
  ].join('\n\n');
}

export function loadProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatSummary(summarizeProfile(loadProfile(file), Number(process.argv[3] ?? 25)))}\n`);
}
