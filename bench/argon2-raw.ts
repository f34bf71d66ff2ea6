/**
 * Raw argon2id verifies per second at the gateway's configured cost and concurrency cap, nothing
 * else: the ceiling login/s is compared against. It runs in its own process, with the gateway's
 * thread-pool environment and the nice level of its pool threads.
 * `node dist/bench/argon2-raw.js <json>` prints `ARGON_JSON {…}`.
 */
import { setPriority } from 'node:os';
import argon2 from 'argon2';

interface Spec {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
  readonly concurrency: number;
  /** The gateway's pool threads run at this nice level (bin/gateway.cjs); so do ours. */
  readonly nice: number;
  readonly durationSec: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
  // Before the first hash starts the thread pool: its threads inherit this thread's nice (Linux).
  try {
    if (process.platform === 'linux') setPriority(spec.nice);
  } catch {
    // not permitted: measured at the default priority
  }
  const password = 'correct horse battery staple';
  const hash = await argon2.hash(password, {
    type: argon2.argon2id,
    version: 0x13,
    memoryCost: spec.memoryCost,
    timeCost: spec.timeCost,
    parallelism: spec.parallelism,
  });
  await argon2.verify(hash, password);
  let verifies = 0;
  const start = performance.now();
  const end = start + spec.durationSec * 1000;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < end) {
        if (!(await argon2.verify(hash, password))) throw new Error('argon2 verify failed');
        verifies += 1;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  process.stdout.write(
    `ARGON_JSON ${JSON.stringify({ verifies, seconds, perSec: verifies / seconds, msPerVerify: (seconds * 1000 * spec.concurrency) / verifies })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
