/**
 * Deterministic pseudo-random bytes for the streaming tests and the benchmark: AES-128-CTR over
 * zeros, keyed by SHA-256(seed). Fast (hundreds of MB/s), never held in memory, and the client can
 * regenerate the same bytes (or just their digest) from the seed.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = 64 * 1024;
const ZEROS = Buffer.alloc(CHUNK);

/** A stream of `bytes` pseudo-random bytes derived from `seed`. */
export function pseudoRandomStream(seed: string, bytes: number): Readable {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  let left = bytes;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, left);
      left -= n;
      this.push(cipher.update(ZEROS.subarray(0, n)));
    },
  });
}

/** The hex SHA-256 of pseudoRandomStream(seed, bytes), computed by streaming (no buffering). */
export async function pseudoRandomDigest(seed: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of pseudoRandomStream(seed, bytes)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
