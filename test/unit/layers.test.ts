import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The gateway's layering, measured: data flows one way, config → store → auth → http → routes /
 * proxy → ops → server → app → entry points, and a module never imports from a layer above its own.
 *
 * Ranks (a module may import a lower rank, or its own directory):
 *   0    config/, util/, clock.ts, errors.ts, verifier.ts — leaves: no gateway imports beyond rank 0
 *   1    store/ — Postgres, Redis, pub/sub plumbing
 *   2    auth/ — credentials, caches, decisions; sees requests only as auth/types.ts `AuthRequest`
 *   3    http/ — request context, body, reply, routing primitives
 *   3.2  routes/ and proxy/ — siblings: both build on http/ and auth/, never on each other
 *   3.5  ops/ — health, metrics, reload, drain: it serves gateway routes (routes/table.ts), so it sits
 *        above routes/; nothing below server.ts imports it
 *   4    server.ts
 *   5    app.ts — the composition root
 *   6    main.ts, quickstart/, cli/ — process entry points; they may use one another's helpers
 *
 * Type-only imports count too: `import type` couples a lower layer to a higher layer's shapes as
 * surely as a value import does (a change there breaks the build here), so the rule is the same.
 * A relative import that leaves gateway/ (e.g. into upstream-stub/) is a leak as well: the
 * published gateway must not depend on the repository's dev tools.
 */
const GATEWAY = resolve(dirname(fileURLToPath(import.meta.url)), '../../gateway');
const MAX_LINES = 300;
/** Known to be over MAX_LINES and due to be split by concern; the list only shrinks (now empty). */
const OVER_LIMIT_PENDING: ReadonlySet<string> = new Set<string>();

/** Rank and group of a file, by its path under gateway/. */
function layerOf(rel: string): { rank: number; group: string } {
  const top = rel.split('/')[0] ?? '';
  const dir = rel.includes('/') ? top : top.replace(/\.[jt]s$/, '');
  const ranks: Record<string, number> = {
    config: 0,
    util: 0,
    clock: 0,
    errors: 0,
    verifier: 0,
    store: 1,
    auth: 2,
    http: 3,
    routes: 3.2,
    proxy: 3.2,
    ratelimit: 3.2,
    ops: 3.5,
    server: 4,
    app: 5,
    main: 6,
    quickstart: 6,
    cli: 6,
  };
  const rank = ranks[dir];
  if (rank === undefined) throw new Error(`gateway/${rel}: no layer assigned to "${dir}"; add it to layers.test.ts`);
  return { rank, group: dir };
}

function allowed(from: { rank: number; group: string }, to: { rank: number; group: string }): boolean {
  if (from.group === to.group) return true;
  if (to.rank < from.rank) return true;
  // Entry points may share helpers (the CLI reads the quickstart's runtime file).
  return from.rank === 6 && to.rank === 6;
}

function gatewayFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...gatewayFiles(full));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

/** Every module specifier of static, re-export, side-effect and dynamic imports (multi-line too). */
export function specifiersOf(source: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s+(?:type\s+)?[^'";]*?\sfrom\s+['"]([^'"]+)['"]/gms,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) if (m[1]) specs.push(m[1]);
  return specs;
}

const files = gatewayFiles(GATEWAY).map((full) => ({ full, rel: relative(GATEWAY, full).split(sep).join('/') }));

describe('gateway layering', () => {
  it('the import parser sees every form', () => {
    const src = [
      "import { a } from './a.js';",
      "import type {\n  B,\n  C,\n} from '../b.js';",
      "export { d } from './d.js';",
      "export * from './e.js';",
      "import './f.js';",
      "const g = await import('./g.js');",
      "import { createServer } from 'node:http';",
    ].join('\n');
    expect(specifiersOf(src)).toEqual(
      expect.arrayContaining(['./a.js', '../b.js', './d.js', './e.js', './f.js', './g.js', 'node:http']),
    );
  });

  it('no module imports from a higher layer, a sibling layer or outside gateway/', () => {
    const leaks: string[] = [];
    for (const { full, rel } of files) {
      const from = layerOf(rel);
      for (const spec of specifiersOf(readFileSync(full, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(full), spec);
        const targetRel = relative(GATEWAY, target).split(sep).join('/');
        if (targetRel.startsWith('..')) {
          leaks.push(`${rel} → ${spec} (outside gateway/)`);
          continue;
        }
        const to = layerOf(targetRel);
        if (!allowed(from, to))
          leaks.push(`${rel} (${from.group} ${from.rank}) → ${targetRel} (${to.group} ${to.rank})`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it(`no file under gateway/ is over ${MAX_LINES} lines`, () => {
    const long = files
      .map(({ full, rel }) => ({ rel, lines: readFileSync(full, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_LINES && !OVER_LIMIT_PENDING.has(f.rel))
      .map((f) => `${f.rel}: ${f.lines}`);
    expect(long).toEqual([]);
  });
});
