import { createHash, webcrypto } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors, type CryptoKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { v7 as uuidv7 } from 'uuid';
import { systemClock, type Clock } from '../clock.js';
import { ROLES, type JwtConfig, type Role } from '../config/types.js';
import type { TokenClaims } from './types.js';

export interface MintedToken {
  readonly token: string;
  readonly claims: TokenClaims;
  /** RFC 3339 UTC, as the reference's `expires_at`. */
  readonly expiresAt: string;
}

/** Why a token was refused; a label for metrics, never shown to clients (they see one 401). */
export type TokenFailure =
  'malformed' | 'algorithm' | 'signature' | 'expired' | 'not_yet_valid' | 'claims' | 'unsupported';

export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: TokenFailure };

export interface TokenService {
  /** `amr` (RFC 8176) defaults to `["pwd"]`; `sessionId` becomes the `sid` claim. */
  mint(subject: {
    userId: string;
    tenantId: string;
    email: string;
    role: Role;
    sessionId?: string;
    amr?: readonly string[];
  }): Promise<MintedToken>;
  /** Verifies signature and claims (docs/security-model.md). Never throws for a bad token. */
  verify(token: string): Promise<VerifyResult>;
  /** verify()'s answer for a token already verified and cached, at once; null when it must be verified. */
  verifyCached(token: string): VerifyResult | null;
  /**
   * Replaces the older verification-only secrets (SIGHUP reload, ops/reload.ts). The verified-token
   * cache is emptied, so a token of a secret just removed is refused from the next request on.
   */
  setPreviousSecrets(secrets: readonly string[]): void;
}

export interface TokenServiceOptions {
  clock?: Clock;
  /** Verified tokens kept in memory (bounded LRU); 0 disables the cache. */
  cacheSize?: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Claims end up in upstream headers: refuse anything a header could not carry verbatim.
const SAFE_TEXT = /^[\x21-\x7e]{1,320}$/;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const enc = new TextEncoder();

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

function isCanonicalJws(token: string): boolean {
  const a = token.indexOf('.');
  const b = token.indexOf('.', a + 1);
  return (
    isCanonicalSegment(token.slice(0, a)) &&
    isCanonicalSegment(token.slice(a + 1, b)) &&
    isCanonicalSegment(token.slice(b + 1))
  );
}

/**
 * HS256 token minting and verification (RFC 7519, RFC 8725; docs/security-model.md). Keys are
 * imported once (first use), not per call. Verification accepts only HS256 (never `none`, never another HMAC size), requires
 * `tid`/`sub`/`exp` and the configured `iss`/`aud`, allows 30 s of clock skew, and follows no
 * header parameter (`kid`, `jku`, `jwk`, `x5u`); a `crit` header is refused. Older secrets from
 * AUTH_JWT_PREVIOUS_SECRETS verify but never sign. Verified tokens are cached by their exact
 * string until their `exp`, so the hot path pays for HMAC once per token, not once per request.
 *
 * A token must also be one the gateway could have minted (RFC 8725 §3.10, docs/security-model.md):
 * every segment canonical base64url, `iat` at most the leeway in the future, and a lifetime of at
 * most AUTH_JWT_TTL_SECONDS + leeway, both as `exp - iat` and as `exp - now` (so a token without
 * `iat` is bounded too). A token that would outlive the configured lifetime could not be revoked
 * for long enough, and `exp: 1e20` is no expiry at all. These checks run once per token, on the
 * verification that fills the cache.
 */
export function createTokenService(
  config: JwtConfig & { secret: string },
  options: TokenServiceOptions = {},
): TokenService {
  const clock = options.clock ?? systemClock;
  const signingKey = hmacKey(enc.encode(config.secret), 'sign');
  const currentKey = hmacKey(enc.encode(config.secret), 'verify');
  // Swapped whole on reload: verify() reads it once per call.
  let verifyKeys = [currentKey, ...config.previousSecrets.map((s) => hmacKey(enc.encode(s), 'verify'))];
  const leeway = config.clockToleranceSeconds;
  const cacheSize = options.cacheSize ?? 10_000;
  const cache = cacheSize > 0 ? new LRUCache<string, TokenClaims>({ max: cacheSize }) : null;

  async function verifyWith(token: string, key: () => Promise<CryptoKey>) {
    return jwtVerify(token, await key(), {
      algorithms: ['HS256'],
      issuer: config.issuer,
      audience: config.audience,
      clockTolerance: leeway,
      requiredClaims: ['tid', 'sub', 'exp'],
      currentDate: new Date(clock.now()),
    });
  }

  return {
    async mint({ userId, tenantId, email, role, sessionId, amr = ['pwd'] }) {
      const nowMs = clock.now();
      const iat = Math.floor(nowMs / 1000);
      const exp = iat + config.ttlSeconds;
      // A UUIDv7 jti carries the issue time to the millisecond (RFC 9562 §5.7): `iat` has whole
      // seconds only, too coarse to tell a token minted just before a password change from one
      // minted just after it in the same second.
      const jti = uuidv7({ msecs: nowMs });
      const token = await new SignJWT(
        sessionId === undefined
          ? { tid: tenantId, email, role, amr: [...amr] }
          : { tid: tenantId, email, role, amr: [...amr], sid: sessionId },
      )
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(userId)
        .setIssuer(config.issuer)
        .setAudience(config.audience)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti(jti)
        .sign(await signingKey());
      const claims: TokenClaims = {
        tid: tenantId,
        sub: userId,
        email,
        role,
        jti,
        iat,
        exp,
        amr: [...amr],
        ...(sessionId === undefined ? {} : { sid: sessionId }),
      };
      return { token, claims, expiresAt: new Date(exp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') };
    },

    setPreviousSecrets(secrets) {
      verifyKeys = [currentKey, ...secrets.map((s) => hmacKey(enc.encode(s), 'verify'))];
      cache?.clear();
    },

    verifyCached(token) {
      const cached = cache?.get(token);
      if (!cached) return null;
      if (cached.exp + leeway > clock.now() / 1000) return { ok: true, claims: cached };
      cache?.delete(token);
      return { ok: false, reason: 'expired' };
    },

    async verify(token) {
      if (token.length > 8192 || !JWT_SHAPE.test(token) || !isCanonicalJws(token))
        return { ok: false, reason: 'malformed' };
      const nowSec = clock.now() / 1000;
      const cached = cache?.get(token);
      if (cached) {
        if (cached.exp + leeway > nowSec) return { ok: true, claims: cached };
        cache?.delete(token);
        return { ok: false, reason: 'expired' };
      }
      let failure: TokenFailure = 'signature';
      for (const key of verifyKeys) {
        try {
          const { payload } = await verifyWith(token, key);
          const claims = toClaims(payload, token, config.ttlSeconds + leeway);
          if (!claims) return { ok: false, reason: 'claims' };
          const lifetime = checkLifetime(claims, payload.iat !== undefined, nowSec, config.ttlSeconds, leeway);
          if (lifetime !== null) return { ok: false, reason: lifetime };
          cache?.set(token, claims);
          return { ok: true, claims };
        } catch (err) {
          failure = classify(err);
          // Only a signature mismatch may be fixed by an older key; anything else is final.
          if (failure !== 'signature') return { ok: false, reason: failure };
        }
      }
      return { ok: false, reason: failure };
    },
  };
}

/**
 * An HMAC-SHA-256 CryptoKey imported once, on first use, then reused: handed raw bytes, jose
 * imports them again on every call, which measured half the cost of a verify (bench/README.md).
 */
function hmacKey(bytes: Uint8Array, usage: 'sign' | 'verify'): () => Promise<CryptoKey> {
  let key: Promise<CryptoKey> | undefined;
  return () => {
    key ??= webcrypto.subtle
      .importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, [usage])
      .catch((err: unknown) => {
        key = undefined; // a failed import is retried, not remembered
        throw err;
      });
    return key;
  };
}

/**
 * The lifetime rules of the class comment: `iat` not beyond the leeway in the future, `exp - iat`
 * and `exp - now` within the configured lifetime plus the leeway. null when the token passes.
 */
function checkLifetime(
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
function toClaims(payload: Record<string, unknown>, token: string, longestLifetime: number): TokenClaims | null {
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

function classify(err: unknown): TokenFailure {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return err.claim === 'nbf' ? 'not_yet_valid' : 'claims';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature';
  if (err instanceof joseErrors.JOSENotSupported) return 'unsupported';
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid) return 'malformed';
  return 'malformed';
}

const UUID_V7 = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * When the token was issued, in milliseconds: from a UUIDv7 jti (the gateway's own tokens) when it
 * agrees with `iat` to the second, else `iat` itself (tokens minted elsewhere).
 */
export function issuedAtMs(claims: Pick<TokenClaims, 'jti' | 'iat'>): number {
  const m = UUID_V7.exec(claims.jti);
  if (m) {
    const ms = parseInt(`${m[1]}${m[2]}`, 16);
    if (Math.floor(ms / 1000) === claims.iat) return ms;
  }
  return claims.iat * 1000;
}
