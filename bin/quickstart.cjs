#!/usr/bin/env node
// `npm start`: launcher for the compiled quickstart (dist/gateway/quickstart/main.js). CommonJS for
// the same reason as bin/gateway.cjs: UV_THREADPOOL_SIZE must be set before anything touches
// libuv's thread pool, because argon2 and jose's WebCrypto share it.
process.env.UV_THREADPOOL_SIZE ||= '16';
import('../dist/gateway/quickstart/main.js').catch((err) => {
  console.error(err);
  process.exit(1);
});
