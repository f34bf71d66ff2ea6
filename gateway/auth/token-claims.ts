import { createHash } from 'node:crypto';
import { ROLES, type Role } from '../config/types.js';
import type { TokenFailure } from './tokens.js';
import type { TokenClaims } from './types.js';

/**
 * The checks that make a verified token one the gateway could have minted (tokens.ts, RFC 8725
 * §3.10): canonical base64url segments, a bounded lifetime, and claims in the shapes it issues.
 */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Claims end up in upstream headers: refuse anything a header could not carry verbatim.
const SAFE_TEXT = /^[\x21-\x7e]{1,320}$/;

/**
 * Whether one JWS segment is the canonical base64url encoding of its bytes (RFC 7515 §2: unpadded
 * base64url; RFC 4648 §3.5: the pad bits of the last character are zero). A decoder that ignores
 * those bits accepts up to 16 spellings of the same signature, and any per-string bookkeeping
 * (revocation, caches) would see 16 different tokens. The alphabet is checked by JWT_SHAPE.
 */
export function isCanonicalSegment(segment: string): boolean {
  const rest = segment.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false; // 6 bits cannot end a byte: not an encoding of anything
  const c = segment.charCodeAt(segment.length - 1);
  const value = c >= 97 ? c - 71 : c >= 65 ? c - 65 : c >= 48 ? c + 4 : c === 45 ? 62 : 63;
  // Two characters carry one byte (4 spare bits), three carry two (2 spare bits).
  return (value & (rest === 2 ? 0x0f : 0x03)) === 0;
}

export function isCanonicalJws(token: string): boolean {
  const a = token.indexOf('.');
  const b = token.indexOf('.', a + 1);
  return (
    isCanonicalSegment(token.slice(0, a)) &&
    isCanonicalSegment(token.slice(a + 1, b)) &&
    isCanonicalSegment(token.slice(b + 1))
  );
}

/**
 * The lifetime rules of createTokenService (tokens.ts): `iat` not beyond the leeway in the future, `exp - iat`
 * and `exp - now` within the configured lifetime plus the leeway. null when the token passes.
 */
export function checkLifetime(
  claims: TokenClaims,
  hasIat: boolean,
  nowSec: number,
  ttlSeconds: number,
  leeway: number,
): TokenFailure | null {
  const longest = ttlSeconds + leeway;
  if (hasIat && claims.iat > nowSec + leeway) return 'not_yet_valid';
  if (hasIat && claims.exp - claims.iat > longest) return 'claims';
  if (claims.exp - nowSec > longest) return 'claims';
  return null;
}

/**
 * Claims as the gateway uses them. `longestLifetime` (TTL + leeway) stands in for a missing `iat`:
 * such a token (minted elsewhere with the shared secret) counts as issued as early as its `exp`
 * allows, so a password change invalidates it whenever it could predate the change.
 */
export function toClaims(payload: Record<string, unknown>, token: string, longestLifetime: number): TokenClaims | null {
  const { tid, sub, email, role, jti, iat, exp, sid, amr } = payload;
  if (typeof tid !== 'string' || !UUID_RE.test(tid)) return null;
  if (typeof sub !== 'string' || !UUID_RE.test(sub)) return null;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return null;
  if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat))) return null;
  if (typeof role !== 'string' || !ROLES.includes(role as Role)) return null;
  if (typeof email !== 'string' || !SAFE_TEXT.test(email)) return null;
  if (jti !== undefined && (typeof jti !== 'string' || !SAFE_TEXT.test(jti))) return null;
  if (sid !== undefined && (typeof sid !== 'string' || !UUID_RE.test(sid))) return null;
  // RFC 8176 method names the gateway itself issues; anything else is not a token it minted.
  if (
    amr !== undefined &&
    !(Array.isArray(amr) && amr.length > 0 && amr.length <= 4 && amr.every((m) => m === 'pwd' || m === 'otp'))
  )
    return null;
  return {
    tid: tid.toLowerCase(),
    sub: sub.toLowerCase(),
    email,
    role: role as Role,
    // A token without jti (minted elsewhere with the shared secret) is still revocable, by a digest
    // of its signed bytes (RFC 7515 §5.2 signing input): every signature of the same header and
    // claims (another encoding, another of the accepted secrets) is revoked with it.
    jti:
      typeof jti === 'string'
        ? jti
        : createHash('sha256')
            .update(token.slice(0, token.lastIndexOf('.')))
            .digest('base64url')
            .slice(0, 32),
    iat: typeof iat === 'number' ? iat : exp - longestLifetime,
    exp,
    ...(typeof sid === 'string' ? { sid: sid.toLowerCase() } : {}),
    ...(amr !== undefined ? { amr: amr as string[] } : {}),
  };
}
