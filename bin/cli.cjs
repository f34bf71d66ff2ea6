#!/usr/bin/env node
// Admin CLI launcher (SPEC §9): runs the TypeScript sources through tsx so no build is needed.
process.env.UV_THREADPOOL_SIZE ||= '8';
const { pathToFileURL } = require('node:url');
const { join } = require('node:path');
require('tsx/esm/api').register();
import(pathToFileURL(join(__dirname, '..', 'gateway', 'cli', 'main.ts')).href).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
