// Shared by bin/cli.cjs and bin/stub.cjs: runs an entry point in this process, from source through
// tsx in a development checkout, or compiled from dist/ in a production install.
//
// Source wins when it can run: `tsx` is a devDependency, so it is present exactly in a development
// install, and there a dist/ left by an earlier `npm run build` may be stale. A production install
// (`npm ci --omit=dev`, the container image) has no tsx, or runs with NODE_ENV=production: dist/ it is.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const root = join(__dirname, '..');

function hasTsx() {
  try {
    require.resolve('tsx', { paths: [root] });
    return true;
  } catch {
    return false;
  }
}

/**
 * Imports `<name>.ts` (through tsx) or `dist/<name>.js`, `name` being relative to the repository
 * root without an extension, e.g. `gateway/cli/main`.
 */
function runEntry(name) {
  const source = join(root, `${name}.ts`);
  const compiled = join(root, 'dist', `${name}.js`);
  let start;
  if (process.env.NODE_ENV !== 'production' && existsSync(source) && hasTsx()) {
    // What `node --import tsx` does: importing tsx registers its loader hooks for what follows.
    start = import('tsx').then(() => import(pathToFileURL(source).href));
  } else if (existsSync(compiled)) {
    start = import(pathToFileURL(compiled).href);
  } else {
    console.error(`${compiled} is missing: run npm run build (or install the dev dependencies to run from source)`);
    process.exit(1);
  }
  start.catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

module.exports = { runEntry };
