import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import {
  SignJWT,
  calculateJwkThumbprint,
  importJWK,
  importPKCS8,
  type CryptoKey,
  type JWK,
  type JWK_OKP_Private,
} from 'jose';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { Identity } from './types.js';

/** `iss` of every identity assertion (docs/upstream-integration.md); the verifier checks it. */
export const IDENTITY_ISSUER = 'get2dial-gateway';

/** The assertion lifetime is capped at 60 s (docs/upstream-integration.md). */
const MAX_TTL_SECONDS = 60;
/** A cached assertion is reused only while it has more than this left, so upstreams never see a nearly-dead one. */
const REUSE_MIN_REMAINING_SECONDS = 30;

export interface IdentitySignerOptions {
  /** Ed25519 private key: PKCS#8 PEM or a private JWK as JSON text (IDENTITY_SIGNING_KEY). */
  readonly signingKey: string;
  /** Older public keys (SPKI PEM or JWK JSON) still published in the JWKS during a rotation. */
  readonly previousPublicKeys?: readonly string[];
  readonly audience: string;
  /** Assertion lifetime; clamped to 60 s (docs/upstream-integration.md). */
  readonly ttlSeconds?: number;
  readonly clock?: Clock;
  /** Distinct identities whose assertion is kept for reuse (bounded LRU). */
  readonly cacheSize?: number;
}

/** A published key: the public half only, never `d`. */
export interface PublicJwk extends JWK {
  readonly kid: string;
  readonly alg: 'EdDSA';
  readonly use: 'sig';
}

export interface JwkSet {
  readonly keys: readonly PublicJwk[];
}

export interface IdentitySigner {
  /** RFC 7638 thumbprint of the current public key; the `kid` of every assertion. */
  readonly kid: string;
  /** A compact JWS asserting `identity` for upstreams (docs/upstream-integration.md); reused while > 30 s of life remain. */
  sign(identity: Identity): Promise<string>;
  /** The JWKS served at `/.well-known/jwks.json`: the current key, then the previous ones. */
  jwks(): JwkSet;
  /**
   * Replaces the previously used public keys published next to the current one (SIGHUP reload).
   * All are parsed first: one bad key throws and leaves the published set as it was.
   */
  setPreviousPublicKeys(keys: readonly string[]): Promise<void>;
}

interface CachedAssertion {
  readonly jws: Promise<string>;
  readonly exp: number;
}

/**
 * Creates the identity signer (docs/upstream-integration.md; as Pomerium does it: an asymmetric assertion upstreams
 * verify against a JWKS). Keys are parsed and imported once here; a bad key fails at start with a
 * message naming the variable. Assertions are EdDSA compact JWS with `kid` = RFC 7638 thumbprint,
 * cached per identity (bounded LRU) and reused while they have more than 30 s left: signing costs
 * tens of microseconds, a cache hit a map lookup.
 */
export async function createIdentitySigner(options: IdentitySignerOptions): Promise<IdentitySigner> {
  const clock = options.clock ?? systemClock;
  const ttl = Math.min(MAX_TTL_SECONDS, Math.max(1, Math.floor(options.ttlSeconds ?? MAX_TTL_SECONDS)));
  const audience = options.audience;
  if (!audience) throw new Error('identity signer: audience is required');

  const { privateKey, publicJwk } = await importSigningKey(options.signingKey);
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  const current: PublicJwk = { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' };
  const buildSet = async (keys: readonly string[]): Promise<JwkSet> => {
    const previous: PublicJwk[] = [];
    for (const [i, text] of keys.entries()) {
      const jwk = await toPublicJwk(text, `IDENTITY_PREVIOUS_PUBLIC_KEYS[${i}]`);
      if (jwk.kid === kid) continue;
      previous.push(jwk);
    }
    return Object.freeze({ keys: Object.freeze([Object.freeze(current), ...previous.map((k) => Object.freeze(k))]) });
  };
  let jwkSet = await buildSet(options.previousPublicKeys ?? []);
  const header = { alg: 'EdDSA', kid, typ: 'JWT' } as const;
  const cache = new LRUCache<string, CachedAssertion>({ max: options.cacheSize ?? 10_000 });

  function issue(identity: Identity, iat: number): Promise<string> {
    return new SignJWT(claimsOf(identity))
      .setProtectedHeader(header)
      .setIssuer(IDENTITY_ISSUER)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .sign(privateKey);
  }

  return {
    kid,
    jwks: () => jwkSet,
    async setPreviousPublicKeys(keys) {
      jwkSet = await buildSet(keys);
    },
    sign(identity) {
      const nowSec = Math.floor(clock.now() / 1000);
      const key = cacheKey(identity);
      const hit = cache.get(key);
      if (hit && hit.exp - nowSec > REUSE_MIN_REMAINING_SECONDS) return hit.jws;
      // The promise is cached, so concurrent requests for one identity sign once.
      const jws = issue(identity, nowSec);
      cache.set(key, { jws, exp: nowSec + ttl });
      jws.catch(() => cache.delete(key));
      return jws;
    },
  };
}

/** The assertion claims (docs/upstream-integration.md): `kind`, `tid`, `sub`, and `role`/`email`/`amr`(/`act_tid`) or `nid`. */
function claimsOf(identity: Identity): Record<string, string | string[]> {
  switch (identity.kind) {
    case 'user': {
      const claims: Record<string, string | string[]> = {
        kind: 'user',
        tid: identity.tenantId,
        sub: identity.userId,
        role: identity.role,
        email: identity.email,
        // RFC 8176 authentication methods: upstreams may demand `otp` for sensitive operations.
        amr: [...(identity.amr ?? ['pwd'])],
      };
      // A platform admin acting in another tenant (docs/api.md): the home tenant travels as act_tid.
      if (identity.homeTenantId !== identity.tenantId) claims.act_tid = identity.homeTenantId;
      return claims;
    }
    case 'node':
      return { kind: 'node', tid: identity.tenantId, sub: identity.nodeId, nid: identity.nodeId };
    case 'public':
      return { kind: 'public' };
  }
}

function cacheKey(identity: Identity): string {
  switch (identity.kind) {
    case 'user':
      return `u\n${identity.tenantId}\n${identity.userId}\n${identity.role}\n${identity.email}\n${identity.homeTenantId}\n${(identity.amr ?? ['pwd']).join(',')}`;
    case 'node':
      return `n\n${identity.tenantId}\n${identity.nodeId}`;
    case 'public':
      return 'p';
  }
}

async function importSigningKey(text: string): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  const where = 'IDENTITY_SIGNING_KEY';
  const trimmed = text.trim();
  let keyObject: KeyObject;
  let jwk: JWK | null = null;
  try {
    if (trimmed.startsWith('{')) {
      jwk = JSON.parse(trimmed) as JWK;
      keyObject = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } else {
      keyObject = createPrivateKey({ key: trimmed, format: 'pem' });
    }
  } catch (err) {
    throw new Error(`${where}: not a PKCS#8 PEM or private JWK (${(err as Error).message})`);
  }
  if (keyObject.asymmetricKeyType !== 'ed25519')
    throw new Error(`${where}: must be an Ed25519 key (got ${keyObject.asymmetricKeyType ?? 'unknown'})`);
  const exported = createPublicKey(keyObject).export({ format: 'jwk' });
  const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: exported.x };
  const privateKey = jwk
    ? await importJWK<JWK_OKP_Private & { kty: 'OKP' }>(
        { kty: 'OKP', crv: 'Ed25519', x: jwk.x ?? (publicJwk.x as string), d: jwk.d ?? '' },
        'EdDSA',
        { extractable: false },
      )
    : await importPKCS8(trimmed, 'EdDSA', { extractable: false });
  return { privateKey, publicJwk };
}

/** Parses a previous public key (SPKI PEM or JWK JSON) into its published form; `d` is never kept. */
async function toPublicJwk(text: string, where: string): Promise<PublicJwk> {
  const trimmed = text.trim();
  let keyObject: KeyObject;
  let givenKid: string | undefined;
  try {
    if (trimmed.startsWith('{')) {
      const parsed = JSON.parse(trimmed) as JWK;
      givenKid = typeof parsed.kid === 'string' ? parsed.kid : undefined;
      keyObject = createPublicKey({
        key: { kty: parsed.kty, crv: parsed.crv, x: parsed.x } as JsonWebKey,
        format: 'jwk',
      });
    } else {
      keyObject = createPublicKey({ key: trimmed, format: 'pem' });
    }
  } catch (err) {
    throw new Error(`${where}: not an SPKI PEM or public JWK (${(err as Error).message})`);
  }
  if (keyObject.asymmetricKeyType !== 'ed25519') throw new Error(`${where}: must be an Ed25519 key`);
  const x = keyObject.export({ format: 'jwk' }).x as string;
  const jwk: JWK = { kty: 'OKP', crv: 'Ed25519', x };
  // A JWK that came with a kid keeps it (assertions signed under it name it); otherwise RFC 7638.
  const kid = givenKid ?? (await calculateJwkThumbprint(jwk, 'sha256'));
  return { ...jwk, kid, alg: 'EdDSA', use: 'sig' };
}

/** A fresh Ed25519 signing key (for `cli keys generate` and dev secrets). */
export async function generateSigningKey(): Promise<{ privatePem: string; publicPem: string; kid: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const x = createPublicKey(publicKey).export({ format: 'jwk' }).x as string;
  const kid = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x }, 'sha256');
  return { privatePem: privateKey, publicPem: publicKey, kid };
}

/**
 * IDENTITY_SIGNING_KEY, or outside production an ephemeral one: assertions then stop verifying
 * when the process restarts (the quickstart persists its key in the data dir instead).
 */
export async function resolveSigningKey(
  configured: string | null,
  deps: { readonly production: boolean; readonly log: Logger },
): Promise<string> {
  if (configured !== null) return configured;
  if (deps.production) throw new Error('createApp: IDENTITY_SIGNING_KEY is required in production');
  const { privatePem, kid } = await generateSigningKey();
  deps.log.warn(
    { kid },
    'no IDENTITY_SIGNING_KEY: identity assertions are signed with an ephemeral dev key (upstreams must refetch the JWKS after a restart)',
  );
  return privatePem;
}
