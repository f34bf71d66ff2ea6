#!/usr/bin/env node
// Launcher for the compiled gateway. It is CommonJS on purpose: it must set UV_THREADPOOL_SIZE
// before anything touches libuv's thread pool (the ESM loader reads files through it), because
// argon2 and jose's WebCrypto share that pool and a login burst must not starve token checks.
//
// Pool size: argon2 jobs are capped at PASSWORD_HASH_CONCURRENCY (util/semaphore.ts), so that many
// threads plus two for WebCrypto and log writes is enough; every extra thread that ever ran argon2
// keeps its own ~19 MiB malloc arena (measured: a pool of 16 grew RSS by ~380 MiB after a login
// burst, a pool of 4 by ~85 MiB; bench/README.md).
//
// Pool priority (Linux): the pool threads run at nice 10, so under CPU contention the event loop,
// which serves every proxied request, wins over password hashing and a login storm slows logins
// rather than everyone else (docs/benchmark.md). Idle CPU still goes to hashing at full speed.
const { readdirSync, stat } = require('node:fs');
const { setPriority } = require('node:os');

const concurrency = /^\d{1,2}$/.test(process.env.PASSWORD_HASH_CONCURRENCY ?? '')
  ? Number(process.env.PASSWORD_HASH_CONCURRENCY)
  : 2;
process.env.UV_THREADPOOL_SIZE ||= String(Math.max(4, concurrency + 2));
const POOL_NICE = 10;

function threadIds() {
  try {
    return new Set(readdirSync('/proc/self/task'));
  } catch {
    return null; // not Linux
  }
}

// The pool starts all its threads on its first job: the threads that appear across that first job
// are the pool's (checked by count, so nothing else is ever reniced).
const before = threadIds();
stat(__dirname, () => {});
const after = threadIds();
if (before && after) {
  const fresh = [...after].filter((tid) => !before.has(tid));
  if (fresh.length === Number(process.env.UV_THREADPOOL_SIZE)) {
    for (const tid of fresh) {
      try {
        setPriority(Number(tid), POOL_NICE); // per thread on Linux (setpriority(2), NOTES)
      } catch {
        // best effort: a container may forbid it
      }
    }
  }
}

import('../dist/gateway/main.js').catch((err) => {
  console.error(err);
  process.exit(1);
});
