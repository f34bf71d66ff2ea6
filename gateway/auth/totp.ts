import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * TOTP (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA1, and the base32 alphabet (RFC 4648 §6) that
 * authenticator apps read secrets in. Small on purpose: node:crypto does the HMAC, this file only
 * counts, truncates and compares.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 §6 base32, upper case, without padding (what otpauth:// URIs carry). */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** Decodes RFC 4648 base32 (case-insensitive, `=` padding optional); null for anything else. */
export function base32Decode(text: string): Buffer | null {
  const clean = text.replace(/=+$/, '').toUpperCase();
  if (!/^[A-Z2-7]*$/.test(clean)) return null;
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    value = (value << 5) | ALPHABET.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  return Buffer.from(out);
}

/** HOTP (RFC 4226 §5.3): HMAC-SHA1 over the 8-byte counter, dynamic truncation, `digits` digits. */
export function hotp(secret: Uint8Array, counter: number, digits = 6): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(msg).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return code.toString().padStart(digits, '0');
}

export const TOTP_PERIOD_SECONDS = 30;

/** The RFC 6238 §4.2 time step T for a Unix time in milliseconds. */
export function timeStep(nowMs: number, period = TOTP_PERIOD_SECONDS): number {
  return Math.floor(nowMs / 1000 / period);
}

/** TOTP (RFC 6238) at a Unix time in milliseconds. */
export function totp(secret: Uint8Array, nowMs: number, digits = 6, period = TOTP_PERIOD_SECONDS): string {
  return hotp(secret, timeStep(nowMs, period), digits);
}

/** Constant-time equality of two codes of the same length (different lengths: false at once). */
export function sameCode(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The time step `code` is valid for, within ±`window` steps of now (RFC 6238 §5.2 allows one step
 * of clock drift), or null. Every candidate is computed and compared, so the time taken does not
 * say which step matched.
 */
export function matchTotp(secret: Uint8Array, code: string, nowMs: number, window = 1): number | null {
  const now = timeStep(nowMs);
  let found: number | null = null;
  for (let step = now - window; step <= now + window; step++) {
    if (sameCode(hotp(secret, step), code) && found === null) found = step;
  }
  return found;
}

/** A new 160-bit secret (RFC 4226 §4 recommends 160 bits). */
export function newTotpSecret(): Buffer {
  return randomBytes(20);
}

/** `otpauth://totp/Get2Dial:<email>?…` (Key Uri Format, as authenticator apps read it). */
export function otpauthUri(email: string, secretBase32: string): string {
  const label = `${encodeURIComponent('Get2Dial')}:${encodeURIComponent(email)}`;
  return `otpauth://totp/${label}?secret=${secretBase32}&issuer=Get2Dial&algorithm=SHA1&digits=6&period=${TOTP_PERIOD_SECONDS}`;
}
