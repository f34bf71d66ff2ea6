/**
 * A lean production install (`npm ci --omit=dev --omit=optional`, the container image) must be able
 * to load every production entry point: walks the static import graph of `serve`, the admin CLI and
 * the upstream stub, and checks that each package they import at load time is a runtime dependency.
 * Optional packages (PGlite for the embedded database, pino-pretty) may only be reached through a
 * dynamic `import()` or by name (pino's transport), and tsx never.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies: Record<string, string>;
};
const ENTRIES = ['gateway/main.ts', 'gateway/cli/main.ts', 'upstream-stub/main.ts'];

// A static value import or re-export; `import type` / `export type` vanish at compile time.
const STATIC = /^(?:import|export)\s+(?!type\s)[^'";]*?\bfrom\s+'([^']+)'|^import\s+'([^']+)'/gm;

/** The bare packages each file reachable from `entry` imports at load time, by file. */
function staticPackages(entry: string): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const queue = [join(ROOT, entry)];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(STATIC)) {
      const spec = (m[1] ?? m[2]) as string;
      if (spec.startsWith('.')) queue.push(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
        packages.set(name, relative(ROOT, file));
      }
    }
  }
  return packages;
}

describe('production install', () => {
  for (const entry of ENTRIES) {
    it(`${entry} imports only runtime dependencies at load time`, () => {
      const packages = staticPackages(entry);
      expect(packages.size).toBeGreaterThan(0);
      for (const [name, file] of packages) expect(pkg.dependencies, `${file} imports ${name}`).toHaveProperty([name]);
    });
  }

  it('keeps PGlite and pino-pretty optional and tsx a development tool', () => {
    expect(Object.keys(pkg.optionalDependencies ?? {}).sort()).toEqual(['@electric-sql/pglite', 'pino-pretty']);
    expect(pkg.devDependencies).toHaveProperty(['tsx']);
    for (const name of ['@electric-sql/pglite', 'pino-pretty', 'tsx', 'typescript'])
      expect(pkg.dependencies).not.toHaveProperty([name]);
  });

  it('sees through multi-line imports and skips type-only ones (the walker itself)', () => {
    const sample =
      "import type { A } from 'type-only';\nimport {\n  b,\n  type C,\n} from 'multi';\nexport { d } from 'reexport';\nimport 'side-effect';\nconst e = await import('dynamic');\n";
    expect([...sample.matchAll(STATIC)].map((m) => m[1] ?? m[2])).toEqual(['multi', 'reexport', 'side-effect']);
  });
});
