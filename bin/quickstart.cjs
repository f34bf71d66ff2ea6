#!/usr/bin/env node
// `npm start`: launcher for the compiled quickstart (dist/gateway/quickstart/main.js). CommonJS for
// the same reason as bin/gateway.cjs: UV_THREADPOOL_SIZE must be set before anything touches
// libuv's thread pool, because argon2 and jose's WebCrypto share it. Sized as bin/gateway.cjs
// sizes it (argon2 jobs are capped at PASSWORD_HASH_CONCURRENCY, plus two threads); the thread
// renicing there is a production concern and is left out of the development quickstart.
const concurrency = /^\d{1,2}$/.test(process.env.PASSWORD_HASH_CONCURRENCY ?? '') ? Number(process.env.PASSWORD_HASH_CONCURRENCY) : 2;
process.env.UV_THREADPOOL_SIZE ||= String(Math.max(4, concurrency + 2));
import('../dist/gateway/quickstart/main.js').catch((err) => {
  console.error(err);
  process.exit(1);
});
