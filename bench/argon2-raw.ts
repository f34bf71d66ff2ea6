/**
 * Raw argon2id verifies per second at the gateway's configured cost and concurrency cap, nothing
 * else: the ceiling login/s is compared against (run in its own process, with the same
 * UV_THREADPOOL_SIZE as the gateway). `node dist/bench/argon2-raw.js <json>` prints `ARGON_JSON {…}`.
 */
import argon2 from 'argon2';

interface Spec {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
  readonly concurrency: number;
  readonly durationSec: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
  const password = 'correct horse battery staple';
  const hash = await argon2.hash(password, { type: argon2.argon2id, version: 0x13, memoryCost: spec.memoryCost, timeCost: spec.timeCost, parallelism: spec.parallelism });
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
  process.stdout.write(`ARGON_JSON ${JSON.stringify({ verifies, seconds, perSec: verifies / seconds, msPerVerify: (seconds * 1000 * spec.concurrency) / verifies })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
