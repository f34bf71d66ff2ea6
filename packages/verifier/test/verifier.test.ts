/**
 * The verifier on its own, with assertions signed here by jose exactly as the gateway signs them
 * (EdDSA, `kid`, `typ: JWT`, iss/aud/iat/exp ≤ 60 s): keys given inline and fetched from a JWKS
 * URL served on a real loopback socket, key rotation, `amr`, and the stable error codes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  calculateJwkThumbprint,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createIdentityVerifier, IdentityVerificationError, type HeaderBag } from '../src/index.js';

const AUD = 'get2dial-upstream';
const T1 = '11111111-1111-4111-8111-111111111111';
const U1 = '33333333-3333-4333-8333-333333333333';

interface Key {
  readonly jwk: JWK;
  readonly spki: string;
  readonly privateKey: CryptoKey;
}

async function newKey(): Promise<Key> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(publicKey);
  return {
    jwk: { ...jwk, kid: await calculateJwkThumbprint(jwk, 'sha256'), alg: 'EdDSA', use: 'sig' },
    spki: await exportSPKI(publicKey),
    privateKey,
  };
}

/** The headers the gateway sends for a user, signed with `key`; `claims` adds to or overrides the assertion. */
async function userHeaders(key: Key, claims: JWTPayload = {}, nowMs = Date.now()): Promise<Record<string, string>> {
  const iat = Math.floor(nowMs / 1000);
  const assertion = await new SignJWT({ kind: 'user', tid: T1, email: 'ana@example.com', role: 'agent', ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.jwk.kid, typ: 'JWT' })
    .setIssuer('get2dial-gateway')
    .setAudience(AUD)
    .setSubject(U1)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .sign(key.privateKey);
  return {
    'x-g2d-identity': assertion,
    'x-g2d-auth': 'user',
    'x-g2d-tenant-id': T1,
    'x-g2d-user-id': U1,
    'x-g2d-user-email': 'ana@example.com',
    'x-g2d-role': 'agent',
    // The plain header the gateway sends beside an assertion that carries amr.
    ...(Array.isArray(claims.amr) && claims.amr.every((m) => typeof m === 'string')
      ? { 'x-g2d-auth-methods': claims.amr.join(',') }
      : {}),
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IdentityVerificationError);
  return (err as IdentityVerificationError).code;
}

/** A JWKS endpoint on 127.0.0.1 whose key list the test changes; counts the fetches. */
async function jwksServer(
  keys: JWK[],
): Promise<{ url: string; keys: JWK[]; fetches: () => number; close(): Promise<void> }> {
  let fetches = 0;
  const state = { keys };
  const server: Server = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get keys() {
      return state.keys;
    },
    set keys(next: JWK[]) {
      state.keys = next;
    },
    fetches: () => fetches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createIdentityVerifier', () => {
  it('needs an audience and a key source', () => {
    expect(() => createIdentityVerifier({ keys: [] })).toThrow(TypeError);
    expect(() => createIdentityVerifier({ audience: AUD } as never)).toThrow(/jwksUrl.*keys/);
  });

  it('verifies with inline keys, a JWK or an SPKI PEM, kid by RFC 7638 thumbprint', async () => {
    const key = await newKey();
    const headers = await userHeaders(key);
    const { kid: _kid, ...bare } = key.jwk;
    for (const keys of [[key.jwk], [bare], [key.spki]]) {
      const verifier = createIdentityVerifier({ keys, audience: AUD });
      expect(await verifier.verify(headers)).toMatchObject({
        kind: 'user',
        tenantId: T1,
        userId: U1,
        email: 'ana@example.com',
        role: 'agent',
      });
    }
  });

  it('passes amr through (an assertion without it reads as ["pwd"]), and refuses a malformed one', async () => {
    const key = await newKey();
    const verifier = createIdentityVerifier({ keys: [key.jwk], audience: AUD });
    const plain = await verifier.verify(await userHeaders(key));
    expect(plain.kind === 'user' && plain.amr).toEqual(['pwd']);
    const mfa = await verifier.verify(await userHeaders(key, { amr: ['pwd', 'otp'] }));
    expect(mfa).toMatchObject({ kind: 'user', amr: ['pwd', 'otp'] });
    for (const amr of ['otp', [], [''], [1]])
      expect(await codeOf(verifier.verify(await userHeaders(key, { amr })))).toBe('claims');
  });

  it('rejects with stable codes: missing, mismatch, claims, signature, expired', async () => {
    const key = await newKey();
    const verifier = createIdentityVerifier({ keys: [key.jwk], audience: AUD });
    const headers = await userHeaders(key);
    const { 'x-g2d-identity': _assertion, ...unsigned } = headers;
    expect(await codeOf(verifier.verify(unsigned))).toBe('missing');
    expect(await codeOf(verifier.verify({ ...headers, 'x-g2d-role': 'admin' }))).toBe('mismatch');
    expect(await codeOf(verifier.verify({ ...headers, 'x-g2d-node-id': 'n1' }))).toBe('mismatch');
    const twice: HeaderBag = {
      ...headers,
      'x-g2d-identity': [headers['x-g2d-identity'] as string, headers['x-g2d-identity'] as string],
    };
    expect(await codeOf(verifier.verify(twice))).toBe('malformed');
    expect(await codeOf(createIdentityVerifier({ keys: [key.jwk], audience: 'other' }).verify(headers))).toBe('claims');
    expect(await codeOf(createIdentityVerifier({ keys: [(await newKey()).jwk], audience: AUD }).verify(headers))).toBe(
      'signature',
    );
    const later = createIdentityVerifier({ keys: [key.jwk], audience: AUD, now: () => Date.now() + 66_000 });
    expect(await codeOf(later.verify(headers))).toBe('expired');
  });

  it('fetches the JWKS, refetches after a rotation (unknown kid past the cooldown), and says jwks when it cannot', async () => {
    const oldKey = await newKey();
    const newer = await newKey();
    const jwks = await jwksServer([oldKey.jwk]);
    try {
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      const verifier = createIdentityVerifier({ jwksUrl: jwks.url, audience: AUD });
      expect(await verifier.verify(await userHeaders(oldKey))).toMatchObject({ userId: U1 });
      expect(jwks.fetches()).toBe(1);
      // The gateway rotates: the JWKS now lists the new key first, the old one still published.
      jwks.keys = [newer.jwk, oldKey.jwk];
      vi.setSystemTime(Date.now() + 31_000);
      expect(await verifier.verify(await userHeaders(newer))).toMatchObject({ userId: U1 });
      expect(await verifier.verify(await userHeaders(oldKey))).toMatchObject({ userId: U1 });
      expect(jwks.fetches()).toBe(2);
    } finally {
      await jwks.close();
    }
    const unreachable = createIdentityVerifier({ jwksUrl: jwks.url, audience: AUD });
    expect(await codeOf(unreachable.verify(await userHeaders(oldKey)))).toBe('jwks');
  });
});
