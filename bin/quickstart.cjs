#!/usr/bin/env node
// `npm start`: checks, builds when needed, then runs the compiled quickstart
// (dist/gateway/quickstart/main.js).
//  0. First of all, sets UV_THREADPOOL_SIZE before anything touches libuv's thread pool (argon2 and
//     jose's WebCrypto share it), sized as bin/gateway.cjs sizes it; that file's thread renicing
//     is a production concern and is left out of the development quickstart.
//  1. Checks the configuration and both ports (gateway and stub) from source, through tsx, before
//     anything slow happens, and lists every problem at once.
//  2. Builds dist/ unless it is newer than every source file (bin/copy-assets.cjs stamps each build).
// CommonJS for the same reason as bin/gateway.cjs: nothing may run before step 0.
const concurrency = /^\d{1,2}$/.test(process.env.PASSWORD_HASH_CONCURRENCY ?? '')
  ? Number(process.env.PASSWORD_HASH_CONCURRENCY)
  : 2;
process.env.UV_THREADPOOL_SIZE ||= String(Math.max(4, concurrency + 2));

const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const STAMP = join(root, 'dist', '.build-stamp');
// What the quickstart runs is compiled from these (bench/ is built by `npm run bench` itself).
const SOURCES = [
  'gateway',
  'upstream-stub',
  'packages/verifier/src',
  'bin/copy-assets.cjs',
  'tsconfig.json',
  'tsconfig.build.json',
  'package.json',
];

/** The newest modification time of the files under `path` (a file or a directory tree). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

function needsBuild() {
  if (!existsSync(STAMP) || !existsSync(join(root, 'dist', 'gateway', 'quickstart', 'main.js'))) return true;
  const built = statSync(STAMP).mtimeMs;
  return SOURCES.some((s) => newest(join(root, s)) > built);
}

async function main() {
  const { tsImport } = await import('tsx/esm/api');
  const { preflight } = await tsImport('../gateway/quickstart/preflight.ts', join(__dirname, 'quickstart.cjs'));
  const problems = await preflight(process.env);
  if (problems.length > 0) {
    process.stderr.write(`get2dial quickstart: cannot start:\n  - ${problems.join('\n  - ')}\n`);
    process.exit(1);
  }
  if (needsBuild()) {
    process.stdout.write(
      'building dist/ (TypeScript, about 20 s; skipped next time while the sources are unchanged)…\n',
    );
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const build = spawnSync(npm, ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) {
      process.stderr.write('get2dial quickstart: the build failed (see above)\n');
      process.exit(1);
    }
  } else {
    process.stdout.write('dist/ is up to date: no build needed\n');
  }
  // The stub is a dev tool beside the gateway, not part of it: its factory is handed in here.
  const { runQuickstart } = await import('../dist/gateway/quickstart/main.js');
  const { createStub } = await import('../dist/upstream-stub/server.js');
  await runQuickstart({ createStub });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
