#!/usr/bin/env node
// `npm run bench` (docs/benchmark.md): compiles dist/ first — the gateway under test is
// always the compiled one `npm run serve` runs — then starts the orchestrator, dist/bench/run.js.
// CommonJS like bin/gateway.cjs; set BENCH_SKIP_BUILD=1 to reuse an existing dist/. It compiles with
// tsconfig.bench.json: `npm run build` leaves bench/ out of dist/, which production never runs.
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
if (process.env.BENCH_SKIP_BUILD !== '1') {
  const tsc = spawnSync(
    process.execPath,
    [require.resolve('typescript/lib/tsc.js'), '-p', join(root, 'tsconfig.bench.json')],
    { cwd: root, stdio: 'inherit' },
  );
  // tsc still writes dist/ when some file has a type error; say so rather than refuse to measure.
  if (tsc.status !== 0) console.error('bench: tsc reported errors (see above); measuring what it emitted');
  const assets = spawnSync(process.execPath, [join(root, 'bin', 'copy-assets.cjs')], { cwd: root, stdio: 'inherit' });
  if (assets.status !== 0) process.exit(assets.status ?? 1);
}
const entry = join(root, 'dist', 'bench', 'run.js');
if (!existsSync(entry)) {
  console.error(`bench: ${entry} is missing; run npm run build`);
  process.exit(1);
}
const run = spawnSync(process.execPath, [entry], { cwd: root, stdio: 'inherit', env: process.env });
process.exit(run.status ?? 1);
