import { webcrypto } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors, type CryptoKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { v7 as uuidv7 } from 'uuid';
import { systemClock, type Clock } from '../clock.js';
import type { JwtConfig, Role } from '../config/types.js';
import { checkLifetime, isCanonicalJws, toClaims } from './token-claims.js';
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

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const enc = new TextEncoder();

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
