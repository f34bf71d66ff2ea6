/**
 * `@get2dial/identity-verifier`: what an upstream service behind the get2dial gateway calls to turn
 * the gateway's identity headers into a trusted identity. The `X-G2D-Identity` assertion must be an
 * EdDSA JWS (RFC 8037) from a key in the gateway's JWKS, and every plain `X-G2D-*` header must
 * agree exactly with it. Standalone on purpose: it depends on jose and nothing else (README.md).
 */
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  exportJWK,
  importSPKI,
  jwtVerify,
  type JWK,
  type JWTPayload,
} from 'jose';

/** The header names the gateway sets (lower-case, as Node delivers them). */
export const IDENTITY_HEADERS = {
  assertion: 'x-g2d-identity',
  auth: 'x-g2d-auth',
  tenantId: 'x-g2d-tenant-id',
  userId: 'x-g2d-user-id',
  email: 'x-g2d-user-email',
  role: 'x-g2d-role',
  nodeId: 'x-g2d-node-id',
  actingTenantId: 'x-g2d-acting-tenant-id',
  /** RFC 8176 `amr` of the assertion, comma-separated (`pwd` or `pwd,otp`). */
  authMethods: 'x-g2d-auth-methods',
} as const;

const PLAIN_HEADERS = [
  IDENTITY_HEADERS.auth,
  IDENTITY_HEADERS.tenantId,
  IDENTITY_HEADERS.userId,
  IDENTITY_HEADERS.email,
  IDENTITY_HEADERS.role,
  IDENTITY_HEADERS.nodeId,
  IDENTITY_HEADERS.actingTenantId,
  IDENTITY_HEADERS.authMethods,
] as const;

/** The assertion lifetime the gateway promises: exp ≤ iat + 60 s. */
const MAX_LIFETIME_SECONDS = 60;

export type VerifiedIdentity =
  | {
      readonly kind: 'user';
      readonly tenantId: string;
      readonly userId: string;
      readonly email: string;
      readonly role: string;
      /** Set when a platform admin acts in another tenant: the admin's home tenant (the one it acts from). */
      readonly actingTenantId?: string;
      /**
       * How the user authenticated (RFC 8176): `["pwd"]` or `["pwd","otp"]`. An assertion without
       * `amr` (a gateway older than the second factor) reads as `["pwd"]`.
       */
      readonly amr: readonly string[];
      readonly expiresAt: number;
    }
  | { readonly kind: 'node'; readonly tenantId: string; readonly nodeId: string; readonly expiresAt: number }
  | { readonly kind: 'public'; readonly expiresAt: number };

/** Why verification failed; stable for upstream code to branch on (`jwks` means "try again later", not "forged"). */
export type IdentityVerificationCode =
  'missing' | 'malformed' | 'signature' | 'expired' | 'claims' | 'mismatch' | 'jwks';

export class IdentityVerificationError extends Error {
  readonly code: IdentityVerificationCode;
  constructor(code: IdentityVerificationCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdentityVerificationError';
    this.code = code;
  }
}

export type KeySource =
  | { readonly jwksUrl: string | URL; readonly keys?: undefined }
  | { readonly keys: readonly (JWK | string)[]; readonly jwksUrl?: undefined };

export interface VerifierOptions {
  /** Must equal the gateway's IDENTITY_AUDIENCE. */
  readonly audience: string;
  readonly issuer?: string;
  readonly clockToleranceSeconds?: number;
  /** Milliseconds since the epoch; injected so tests can move time. */
  readonly now?: () => number;
}

export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface IdentityVerifier {
  /** Resolves with the verified identity or throws an IdentityVerificationError. */
  verify(headers: HeaderBag): Promise<VerifiedIdentity>;
}

type KeySet = ReturnType<typeof createLocalJWKSet> | ReturnType<typeof createRemoteJWKSet>;

/**
 * Creates a verifier from the gateway's JWKS URL (fetched with a cache and a cooldown, refetched
 * when an unknown `kid` shows up, so key rotation needs no restart) or from a fixed list of public
 * keys (JWK objects or SPKI PEM strings). Only EdDSA is accepted.
 * Options may be passed in the first argument (`{ jwksUrl, audience }`) or the second.
 */
export function createIdentityVerifier(
  source: KeySource & Partial<VerifierOptions>,
  options?: VerifierOptions,
): IdentityVerifier {
  const audience = options?.audience ?? source.audience;
  if (!audience) throw new TypeError('createIdentityVerifier: audience is required');
  const issuer = options?.issuer ?? source.issuer ?? 'get2dial-gateway';
  const tolerance = options?.clockToleranceSeconds ?? source.clockToleranceSeconds ?? 5;
  const now = options?.now ?? source.now ?? Date.now;

  let keySet: KeySet | Promise<KeySet>;
  if (source.jwksUrl !== undefined) {
    keySet = createRemoteJWKSet(new URL(source.jwksUrl), {
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: 5_000,
    });
  } else if (source.keys !== undefined) {
    keySet = localKeySet(source.keys);
  } else {
    throw new TypeError('createIdentityVerifier: pass { jwksUrl } or { keys }');
  }

  return {
    async verify(headers) {
      const plain = collect(headers);
      const token = plain.get(IDENTITY_HEADERS.assertion);
      if (token === undefined) throw new IdentityVerificationError('missing', 'missing x-g2d-identity header');
      if (token === null) throw new IdentityVerificationError('malformed', 'x-g2d-identity sent more than once');
      const keys = await keySet;
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          algorithms: ['EdDSA'],
          issuer,
          audience,
          typ: 'JWT',
          clockTolerance: tolerance,
          requiredClaims: ['iat', 'exp', 'kind'],
          currentDate: new Date(now()),
        }));
      } catch (err) {
        throw classify(err);
      }
      const identity = toIdentity(payload);
      // An assertion without `amr` comes from a gateway that sent no X-G2D-Auth-Methods either.
      const expected = expectedHeaders(identity, payload.amr !== undefined);
      for (const name of PLAIN_HEADERS) {
        const got = plain.get(name);
        const want = expected[name];
        if (got !== want)
          throw new IdentityVerificationError('mismatch', `${name} does not match the identity assertion`);
      }
      return identity;
    },
  };
}

/** Lower-cases the x-g2d-* names; a header sent twice becomes `null` (ambiguous, never trusted). */
function collect(headers: HeaderBag): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-g2d-')) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (out.has(lower)) out.set(lower, null);
    else if (typeof value === 'string') out.set(lower, value);
    else out.set(lower, value.length === 1 ? (value[0] as string) : null);
  }
  return out;
}

function classify(err: unknown): IdentityVerificationError {
  const cause = { cause: err };
  if (err instanceof joseErrors.JWTExpired)
    return new IdentityVerificationError('expired', 'identity assertion expired', cause);
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return new IdentityVerificationError('claims', `identity assertion claim ${err.claim} invalid`, cause);
  if (
    err instanceof joseErrors.JWKSTimeout ||
    (err instanceof joseErrors.JOSEError && err.code === 'ERR_JOSE_GENERIC') ||
    isFetchFailure(err)
  ) {
    return new IdentityVerificationError('jwks', 'cannot load the gateway JWKS', cause);
  }
  if (
    err instanceof joseErrors.JWSSignatureVerificationFailed ||
    err instanceof joseErrors.JWKSNoMatchingKey ||
    err instanceof joseErrors.JOSEAlgNotAllowed
  ) {
    return new IdentityVerificationError('signature', 'identity assertion signature invalid', cause);
  }
  return new IdentityVerificationError('malformed', 'identity assertion malformed', cause);
}

function isFetchFailure(err: unknown): boolean {
  return err instanceof joseErrors.JWKSInvalid || (err instanceof TypeError && /fetch/i.test(err.message));
}

function str(payload: JWTPayload, name: string, required: boolean): string | undefined {
  const v = payload[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new IdentityVerificationError('claims', `identity assertion claim ${name} missing or not a string`);
  return v;
}

/** The optional `amr` claim: when present, a non-empty array of non-empty strings (RFC 8176). */
function methods(payload: JWTPayload): readonly string[] | undefined {
  const v = payload.amr;
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0 || !v.every((m) => typeof m === 'string' && m !== '')) {
    throw new IdentityVerificationError('claims', 'identity assertion claim amr is not a list of method names');
  }
  return Object.freeze([...(v as string[])]);
}

function toIdentity(payload: JWTPayload): VerifiedIdentity {
  const iat = payload.iat as number;
  const exp = payload.exp as number;
  if (exp - iat > MAX_LIFETIME_SECONDS)
    throw new IdentityVerificationError('claims', 'identity assertion lives longer than 60 s');
  const kind = payload.kind;
  if (kind === 'user') {
    const actingTenantId = str(payload, 'act_tid', false);
    const amr = methods(payload);
    return {
      kind,
      tenantId: str(payload, 'tid', true) as string,
      userId: str(payload, 'sub', true) as string,
      email: str(payload, 'email', true) as string,
      role: str(payload, 'role', true) as string,
      ...(actingTenantId !== undefined ? { actingTenantId } : {}),
      amr: amr ?? ['pwd'],
      expiresAt: exp,
    };
  }
  if (kind === 'node') {
    const nodeId = str(payload, 'nid', true) as string;
    if (str(payload, 'sub', true) !== nodeId)
      throw new IdentityVerificationError('claims', 'identity assertion sub and nid differ');
    return { kind, tenantId: str(payload, 'tid', true) as string, nodeId, expiresAt: exp };
  }
  if (kind === 'public') return { kind, expiresAt: exp };
  throw new IdentityVerificationError('claims', 'identity assertion kind unknown');
}

/** What each plain header must be for this identity; `undefined` means "must be absent". */
function expectedHeaders(
  identity: VerifiedIdentity,
  hasAmr: boolean,
): Record<(typeof PLAIN_HEADERS)[number], string | undefined> {
  const h = IDENTITY_HEADERS;
  return {
    [h.auth]: identity.kind,
    [h.tenantId]: identity.kind === 'public' ? undefined : identity.tenantId,
    [h.userId]: identity.kind === 'user' ? identity.userId : undefined,
    [h.email]: identity.kind === 'user' ? identity.email : undefined,
    [h.role]: identity.kind === 'user' ? identity.role : undefined,
    [h.nodeId]: identity.kind === 'node' ? identity.nodeId : undefined,
    [h.actingTenantId]: identity.kind === 'user' ? identity.actingTenantId : undefined,
    [h.authMethods]: identity.kind === 'user' && hasAmr ? identity.amr.join(',') : undefined,
  };
}

async function localKeySet(keys: readonly (JWK | string)[]): Promise<KeySet> {
  const jwks: JWK[] = [];
  for (const key of keys) {
    let jwk: JWK;
    if (typeof key === 'string' && key.trim().startsWith('-----BEGIN')) {
      const imported = await importSPKI(key.trim(), 'EdDSA', { extractable: true });
      jwk = await exportJWK(imported);
    } else {
      // Only the public half is ever used to verify.
      const { d: _d, ...publicPart } = typeof key === 'string' ? (JSON.parse(key) as JWK) : key;
      jwk = publicPart;
    }
    // The gateway names its key by RFC 7638 thumbprint; a key given without a kid gets that name.
    jwks.push({ ...jwk, alg: 'EdDSA', kid: jwk.kid ?? (await calculateJwkThumbprint(jwk, 'sha256')) });
  }
  return createLocalJWKSet({ keys: jwks });
}
