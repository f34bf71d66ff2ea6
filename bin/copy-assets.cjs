// Copies the non-TypeScript files the compiled gateway reads at run time into dist/.
const { cpSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
for (const dir of ['gateway/store/migrations', 'gateway/auth/data']) {
  mkdirSync(join(root, 'dist', dir), { recursive: true });
  cpSync(join(root, dir), join(root, 'dist', dir), { recursive: true });
}
