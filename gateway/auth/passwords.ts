import { randomBytes } from 'node:crypto';
import argon2, { type HashOptions } from 'argon2';
import bcrypt from 'bcryptjs';
import type { PasswordConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { createSemaphore, type SemaphoreStats } from '../util/semaphore.js';

export interface VerifyOutcome {
  readonly ok: boolean;
  /** The password was right but the stored hash is bcrypt or argon2 with other parameters (docs/api.md). */
  readonly needsRehash: boolean;
}

export interface PasswordHasher {
  /** argon2id with the configured m/t/p (docs/api.md). Refuses input over the byte cap (PASSWORD_POLICY). */
  hash(plain: string): Promise<string>;
  /** Checks `plain` against a stored argon2 or legacy bcrypt hash. Never throws for a bad stored hash. */
  verify(stored: string, plain: string): Promise<VerifyOutcome>;
  /** Spends what a wrong password costs, for identities that do not exist (docs/api.md). Always false. */
  verifyDummy(plain: string): Promise<false>;
  /** Computes the dummy hash now (otherwise done at first use); call at startup if you like. */
  warm(): Promise<void>;
  /**
   * Admission control for a request that will hash or verify (login, password change): runs
   * `job` as one of at most `maxConcurrent + maxQueued` such requests in progress; past that it
   * throws 503 (Retry-After: 1) without running it, so a storm is shed before any attempt is
   * counted instead of queueing for minutes. Call it after the body is read: a slow client must
   * not hold a place.
   */
  admit<T>(job: () => Promise<T>): Promise<T>;
  /** Hashing jobs running and waiting, for metrics. */
  stats(): SemaphoreStats;
}

export interface PasswordHasherOptions {
  /**
   * Longest input, in UTF-8 bytes, that is ever hashed. Default `maxLength * 4`: a password the
   * policy accepts (≤ maxLength code points, ≤ 4 bytes each) always fits, and nothing longer can
   * make a login hash megabytes (the JSON body limit is 1 MB).
   */
  maxInputBytes?: number;
}

const FAIL: VerifyOutcome = Object.freeze({ ok: false, needsRehash: false });
const ARGON2_PREFIX = /^\$argon2(?:id|i|d)\$/;
// Modular crypt format: $2a$|$2b$|$2y$, two-digit cost, 22 salt + 31 hash chars of bcrypt base64.
const BCRYPT_FORMAT = /^\$2([aby])\$(\d\d)\$[./A-Za-z0-9]{53}$/;
/**
 * bcryptjs runs on the event loop (cost 12 ≈ 0.25 s, doubling per step). A stored cost above this
 * is treated as a garbled hash rather than blocking the process for seconds on every guess.
 */
const MAX_BCRYPT_COST = 14;
const ARGON2_VERSION = 0x13;

/**
 * The password hashing adapter (docs/api.md): the only importer of `argon2` and `bcryptjs`.
 * Every argon2 or bcrypt job goes through one FIFO semaphore of `maxConcurrent` slots, because
 * argon2 runs on libuv's thread pool, which jose's WebCrypto shares: a login burst queues here
 * instead of stalling token verification. Unknown identities, garbled stored hashes and
 * over-long input all pay for one argon2id verify against a dummy hash made with the same
 * parameters, so every failure costs the same time (docs/api.md).
 */
export function createPasswordHasher(config: PasswordConfig, options: PasswordHasherOptions = {}): PasswordHasher {
  for (const key of ['memoryCost', 'timeCost', 'parallelism', 'maxConcurrent', 'maxQueued', 'maxLength'] as const) {
    if (!Number.isInteger(config[key]) || config[key] < 1)
      throw new RangeError(`passwords.${key} must be a positive integer`);
  }
  const maxInputBytes = options.maxInputBytes ?? config.maxLength * 4;
  if (!Number.isInteger(maxInputBytes) || maxInputBytes < 1)
    throw new RangeError('maxInputBytes must be a positive integer');

  const gate = createSemaphore(config.maxConcurrent);
  const admissionLimit = config.maxConcurrent + config.maxQueued;
  let admitted = 0;
  const params: HashOptions = {
    type: argon2.argon2id,
    memoryCost: config.memoryCost,
    timeCost: config.timeCost,
    parallelism: config.parallelism,
    version: ARGON2_VERSION,
  };
  let dummy: Promise<string> | undefined;

  function tooLong(plain: string): boolean {
    // UTF-8 never takes fewer bytes than UTF-16 code units, so the cheap test settles huge input.
    return plain.length > maxInputBytes || Buffer.byteLength(plain, 'utf8') > maxInputBytes;
  }

  function dummyHash(): Promise<string> {
    if (dummy === undefined) {
      // A random secret nobody knows: no input ever matches it.
      const pending = gate.run(() => argon2.hash(randomBytes(32).toString('base64url'), params));
      // A failed computation is not memoized, so a transient error does not poison every later call.
      dummy = pending.catch((err: unknown) => {
        dummy = undefined;
        throw err;
      });
    }
    return dummy;
  }

  async function verifyDummy(plain: string): Promise<false> {
    // Over-long input is cut, not refused: the cost stays that of a normal wrong password.
    const input = plain.length > maxInputBytes ? plain.slice(0, maxInputBytes) : plain;
    const stored = await dummyHash();
    await gate.run(() => argon2.verify(stored, input));
    return false;
  }

  function argonNeedsRehash(stored: string): boolean {
    // Any difference from the configured parameters, stronger included: a stored hash that is
    // slower than the dummy would let timing tell a real account from an unknown one (docs/api.md),
    // and the concurrency budget assumes the configured cost.
    if (!stored.startsWith('$argon2id$')) return true;
    try {
      return argon2.needsRehash(stored, params);
    } catch {
      return true;
    }
  }

  async function verifyArgon2(stored: string, plain: string): Promise<VerifyOutcome | null> {
    let ok: boolean;
    try {
      ok = await gate.run(() => argon2.verify(stored, plain));
    } catch {
      return null; // malformed encoding: argon2 refuses it before doing any work
    }
    return ok ? { ok: true, needsRehash: argonNeedsRehash(stored) } : FAIL;
  }

  async function verifyBcrypt(stored: string, plain: string): Promise<VerifyOutcome | null> {
    const match = BCRYPT_FORMAT.exec(stored);
    const cost = Number(match?.[2]);
    if (!match || cost < 4 || cost > MAX_BCRYPT_COST) return null;
    // $2y$ (PHP) and $2b$ are the same algorithm; bcryptjs 3 accepts both, older releases only
    // $2a$/$2b$, so normalize rather than depend on the version.
    const normalized = match[1] === 'y' ? `$2b$${stored.slice(4)}` : stored;
    try {
      const ok = await gate.run(() => bcrypt.compare(plain, normalized));
      // Legacy hashes are always upgraded to argon2id after a successful login (docs/api.md).
      return ok ? { ok: true, needsRehash: true } : FAIL;
    } catch {
      return null;
    }
  }

  return {
    async hash(plain) {
      if (tooLong(plain)) {
        throw new GatewayError('PASSWORD_POLICY', {
          publicMessage: `new password must be at most ${config.maxLength} characters`,
          detail: `password over ${maxInputBytes} bytes`,
        });
      }
      return gate.run(() => argon2.hash(plain, params));
    },

    async verify(stored, plain) {
      if (typeof stored !== 'string' || typeof plain !== 'string' || tooLong(plain)) {
        await verifyDummy(typeof plain === 'string' ? plain : '');
        return FAIL;
      }
      let outcome: VerifyOutcome | null = null;
      if (ARGON2_PREFIX.test(stored)) outcome = await verifyArgon2(stored, plain);
      else if (stored.startsWith('$2')) outcome = await verifyBcrypt(stored, plain);
      if (outcome !== null) return outcome;
      // Unknown or garbled stored hash (or a "no password" marker): fail at the usual price.
      await verifyDummy(plain);
      return FAIL;
    },

    verifyDummy,

    async admit(job) {
      if (admitted >= admissionLimit) {
        throw new GatewayError('SERVICE_UNAVAILABLE', {
          retryAfter: 1,
          detail: `password hashing busy (${admitted} requests in progress)`,
        });
      }
      admitted += 1;
      try {
        return await job();
      } finally {
        admitted -= 1;
      }
    },

    async warm() {
      await dummyHash();
    },

    stats: () => gate.stats(),
  };
}
