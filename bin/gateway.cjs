#!/usr/bin/env node
// Launcher for the compiled gateway. It is CommonJS on purpose: it must set UV_THREADPOOL_SIZE
// before anything touches libuv's thread pool (the ESM loader reads files through it), because
// argon2 and jose's WebCrypto share that pool and a login burst must not starve token checks.
process.env.UV_THREADPOOL_SIZE ||= '16';
import('../dist/gateway/main.js').catch((err) => {
  console.error(err);
  process.exit(1);
});
