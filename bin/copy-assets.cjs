// Copies the non-TypeScript files the compiled gateway reads at run time into dist/.
const { cpSync, existsSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
for (const dir of ['gateway/store/migrations', 'gateway/auth/data']) {
  if (!existsSync(join(root, dir))) continue;
  mkdirSync(join(root, 'dist', dir), { recursive: true });
  cpSync(join(root, dir), join(root, 'dist', dir), { recursive: true });
}

// Stamps the build, so `npm start` (bin/quickstart.cjs) can skip it while no source is newer.
require('node:fs').writeFileSync(join(root, 'dist', '.build-stamp'), `${new Date().toISOString()}\n`);
