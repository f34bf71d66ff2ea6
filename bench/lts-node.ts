/**
 * The current Node LTS for the bench's second-runtime rows: the gateway is measured on the runtime
 * the bench runs on and on this one, side by side in the same rounds. `BENCH_LTS_NODE` names a node
 * binary; `auto` installs the npm registry's platform package (node-<platform>-<arch>, the binary
 * the `node` package itself installs) once into ~/.cache/get2dial-bench; `off` skips the rows.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

/** The LTS line measured: Node 24 ("Krypton"), active LTS since October 2025. */
export const LTS_MAJOR = 24;

export interface LtsNode {
  readonly bin: string;
  readonly version: string;
}

function versionOf(bin: string): string | null {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The binary and its version, or why there is none (then the rows are skipped with that note). */
export function resolveLtsNode(setting: string): LtsNode | { skipped: string } {
  if (setting === 'off') return { skipped: 'BENCH_LTS_NODE=off' };
  if (setting !== 'auto') {
    const v = versionOf(setting);
    return v ? { bin: setting, version: v } : { skipped: `BENCH_LTS_NODE=${setting} does not run` };
  }
  if (process.version.startsWith(`v${LTS_MAJOR}.`)) return { skipped: `the bench already runs on Node ${LTS_MAJOR}` };
  const pkg = `node-${process.platform}-${process.arch}`;
  const prefix = join(homedir(), '.cache', 'get2dial-bench', `node${LTS_MAJOR}`);
  const bin = join(prefix, 'node_modules', pkg, 'bin', 'node');
  if (!existsSync(bin)) {
    mkdirSync(prefix, { recursive: true });
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(
      npm,
      ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, `${pkg}@${LTS_MAJOR}`],
      { encoding: 'utf8', timeout: 300_000 },
    );
    if (r.status !== 0 || !existsSync(bin))
      return {
        skipped: `npm install ${pkg}@${LTS_MAJOR} failed: ${`${r.stderr ?? ''}${r.error?.message ?? ''}`.trim().split('\n').at(-1) ?? ''}`,
      };
  }
  const v = versionOf(bin);
  return v ? { bin, version: v } : { skipped: `${bin} does not run` };
}
