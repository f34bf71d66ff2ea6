import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../gateway/auth/passwords.js';
import type { PasswordConfig } from '../../gateway/config/types.js';
import { GatewayError } from '../../gateway/errors.js';

// The production defaults (config/index.ts), so the costs measured here are the real ones.
const CONFIG = {
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
  maxConcurrent: 2,
  maxQueued: 1000,
  minLength: 12,
  maxLength: 256,
} as const satisfies PasswordConfig;

const PASSWORD = 'correct horse battery staple';
// PHP manual, crypt(): a $2y$ hash made by another bcrypt implementation.
const PHP_2Y_VECTOR = { hash: '$2y$07$BCryptRequires22Chrcte/VlQH0piJtjXl.0t1XkA8pw9dMXTpOq', plain: 'rasmuslerdorf' };

/** `$argon2id$v=19$m=…,t=…,p=…$salt$hash` → its parameters, whatever order they are written in. */
function argonParams(hash: string): Record<string, string> {
  const [, type, version, params] = hash.split('$');
  const pairs = params!.split(',').map((kv) => kv.split('=') as [string, string]);
  return { type: type!, version: version!, ...Object.fromEntries(pairs) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function elapsed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

describe('createPasswordHasher', () => {
  const hasher = createPasswordHasher(CONFIG);

  it('refuses invalid parameters at construction', () => {
    expect(() => createPasswordHasher({ ...CONFIG, maxConcurrent: 0 })).toThrow(RangeError);
    expect(() => createPasswordHasher({ ...CONFIG, timeCost: 1.5 })).toThrow(RangeError);
    expect(() => createPasswordHasher(CONFIG, { maxInputBytes: 0 })).toThrow(RangeError);
  });

  it('hashes with argon2id m=19456,t=2,p=1 and verifies the round trip', async () => {
    const hash = await hasher.hash(PASSWORD);
    expect(argonParams(hash)).toEqual({ type: 'argon2id', version: 'v=19', m: '19456', t: '2', p: '1' });
    expect(await hasher.verify(hash, PASSWORD)).toEqual({ ok: true, needsRehash: false });
    expect(await hasher.verify(hash, `${PASSWORD}!`)).toEqual({ ok: false, needsRehash: false });
    expect(await hasher.verify(hash, '')).toEqual({ ok: false, needsRehash: false });
    // Salted: the same password never hashes to the same string twice.
    expect(await hasher.hash(PASSWORD)).not.toBe(hash);
  });

  it('verifies non-ASCII passwords at the length limit (256 four-byte code points)', async () => {
    const longest = '🔑'.repeat(256);
    const hash = await hasher.hash(longest);
    expect(await hasher.verify(hash, longest)).toEqual({ ok: true, needsRehash: false });
    expect(await hasher.verify(hash, '🔑'.repeat(255))).toEqual({ ok: false, needsRehash: false });
  });

  it('asks for a rehash of argon2 hashes made with other parameters or another variant', async () => {
    const weaker = await argon2.hash(PASSWORD, {
      type: argon2.argon2id,
      memoryCost: 1024,
      timeCost: 1,
      parallelism: 1,
    });
    const argon2i = await argon2.hash(PASSWORD, {
      type: argon2.argon2i,
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
    });
    const argon2d = await argon2.hash(PASSWORD, {
      type: argon2.argon2d,
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
    });
    for (const hash of [weaker, argon2i, argon2d]) {
      expect(await hasher.verify(hash, PASSWORD)).toEqual({ ok: true, needsRehash: true });
      expect(await hasher.verify(hash, 'wrong password')).toEqual({ ok: false, needsRehash: false });
    }
  });

  it.each(['a', 'b', 'y'])('verifies legacy bcrypt $2%s$ hashes and asks for a rehash', async (minor) => {
    const made = bcrypt.hashSync(PASSWORD, 4); // $2b$04$…
    const hash = `$2${minor}$${made.slice(4)}`;
    expect(await hasher.verify(hash, PASSWORD)).toEqual({ ok: true, needsRehash: true });
    expect(await hasher.verify(hash, 'wrong password')).toEqual({ ok: false, needsRehash: false });
  });

  it('verifies a known $2y$ vector made by PHP', async () => {
    expect(await hasher.verify(PHP_2Y_VECTOR.hash, PHP_2Y_VECTOR.plain)).toEqual({ ok: true, needsRehash: true });
    expect(await hasher.verify(PHP_2Y_VECTOR.hash, 'rasmuslerdorF')).toEqual({ ok: false, needsRehash: false });
  });

  it('answers ok:false, without throwing, for unknown or garbled stored hashes', async () => {
    const bcryptBody = bcrypt.hashSync(PASSWORD, 4).slice(7);
    const garbled = [
      '',
      '!',
      'plaintext-password',
      PASSWORD,
      '$argon2id$',
      '$argon2id$v=19$m=zz,t=2,p=1$c2FsdA$aGFzaA',
      '$argon2id$v=19$m=19456,t=2,p=1$$',
      '$argon2x$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo',
      '$2x$04$' + bcryptBody, // crypt_blowfish's buggy variant: not something we accept
      '$2b$04$tooshort',
      '$2b$31$' + bcryptBody, // a cost that would block the event loop for minutes
      '$2b$03$' + bcryptBody,
      '$1$md5crypt$abcdefghijklmnopqrstuv',
    ];
    for (const stored of garbled) {
      await expect(hasher.verify(stored, PASSWORD), stored).resolves.toEqual({ ok: false, needsRehash: false });
    }
  });

  it('treats over-long input as a failed verification and refuses to hash it', async () => {
    const hash = await hasher.hash(PASSWORD);
    const huge = 'x'.repeat(1_000_000);
    await expect(hasher.verify(hash, huge)).resolves.toEqual({ ok: false, needsRehash: false });
    // One byte over the cap (256 code points × 4 bytes) is over, even when the prefix matches.
    const capped = createPasswordHasher(CONFIG, { maxInputBytes: PASSWORD.length });
    const cappedHash = await capped.hash(PASSWORD);
    await expect(capped.verify(cappedHash, `${PASSWORD}x`)).resolves.toEqual({ ok: false, needsRehash: false });
    await expect(capped.verify(cappedHash, PASSWORD)).resolves.toEqual({ ok: true, needsRehash: false });
    await expect(hasher.verifyDummy(huge)).resolves.toBe(false);
    const refused = await hasher.hash(huge).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(GatewayError);
    expect(refused).toMatchObject({
      code: 'PASSWORD_POLICY',
      publicMessage: 'new password must be at most 256 characters',
    });
  });

  it('verifyDummy is always false, whatever the input', async () => {
    for (const plain of ['', PASSWORD, 'ünïcødé 🔑']) expect(await hasher.verifyDummy(plain)).toBe(false);
  });

  it('keeps at most maxConcurrent (2) argon2 jobs in flight', async () => {
    const gated = createPasswordHasher(CONFIG);
    const hash = await gated.hash(PASSWORD);
    await gated.warm();
    let peak = 0;
    const sample = setInterval(() => {
      peak = Math.max(peak, gated.stats().active);
    }, 1);
    try {
      const jobs = Array.from({ length: 6 }, (_, i) => gated.verify(hash, i % 2 === 0 ? PASSWORD : 'wrong password'));
      // Every verify reaches the semaphore synchronously: two run, four wait their turn.
      expect(gated.stats()).toEqual({ active: 2, queued: 4 });
      const results = await Promise.all(jobs);
      expect(results.map((r) => r.ok)).toEqual([true, false, true, false, true, false]);
    } finally {
      clearInterval(sample);
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(2);
    expect(gated.stats()).toEqual({ active: 0, queued: 0 });
  });

  it('admits maxConcurrent + maxQueued requests at once, then sheds with 503 and Retry-After', async () => {
    const small = createPasswordHasher({ ...CONFIG, maxConcurrent: 1, maxQueued: 2 });
    const hash = await small.hash(PASSWORD);
    const jobs = ['a', 'b', PASSWORD].map((p) => small.admit(() => small.verify(hash, p)));
    const shed = await small.admit(() => small.verify(hash, PASSWORD)).catch((err: unknown) => err);
    expect(shed).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503, retryAfter: 1 });
    expect((await Promise.all(jobs)).map((r) => r.ok)).toEqual([false, false, true]);
    // Places are given back when a request finishes, also when it fails.
    await expect(small.admit(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect((await small.admit(() => small.verify(hash, PASSWORD))).ok).toBe(true);
  });

  // docs/security-model.md: an unknown email and a wrong password take the same time.
  // Medians of sequential runs, with a generous band because the 2-core machine is shared.
  it('costs the same for an unknown identity (dummy) or a garbled stored hash as for a wrong password', async () => {
    const hash = await hasher.hash(PASSWORD);
    await hasher.warm();
    await hasher.verify(hash, 'warm up');
    // Medians of interleaved runs. The 2-core machine is shared (other suites, benchmarks), so a
    // noisy round is measured again, up to 3 rounds; a real difference (e.g. no hashing for an
    // unknown identity: ~0 ms vs ~20 ms) fails every round.
    const labels: string[] = [];
    for (let round = 0; round < 3; round += 1) {
      const dummy: number[] = [];
      const wrong: number[] = [];
      const garbled: number[] = [];
      for (let i = 0; i < 9; i += 1) {
        dummy.push(await elapsed(() => hasher.verifyDummy(`guess ${i}`)));
        wrong.push(await elapsed(() => hasher.verify(hash, `guess ${i}`)));
        garbled.push(await elapsed(() => hasher.verify('!', `guess ${i}`)));
      }
      labels.push(
        `dummy ${median(dummy).toFixed(1)} ms, wrong ${median(wrong).toFixed(1)} ms, garbled ${median(garbled).toFixed(1)} ms`,
      );
      const ratios = [median(dummy) / median(wrong), median(garbled) / median(wrong)];
      if (ratios.every((r) => r > 0.5 && r < 2)) return;
    }
    expect.fail(`verify costs differ in every round: ${labels.join('; ')}`);
  });
});
