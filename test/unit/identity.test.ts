import { createPrivateKey, createPublicKey } from 'node:crypto';
import { decodeProtectedHeader, decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../gateway/clock.js';
import { createIdentitySigner, generateSigningKey, type IdentitySigner } from '../../gateway/auth/identity.js';
import { createIdentityVerifier, IdentityVerificationError } from '../../gateway/verifier.js';
import type { Identity, NodeIdentity, UserIdentity } from '../../gateway/auth/types.js';
import { buildUpstreamHeaders } from '../../gateway/proxy/headers.js';

const AUD = 'get2dial-upstream';
const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';
const U1 = '33333333-3333-4333-8333-333333333333';
const N1 = '44444444-4444-4444-8444-444444444444';

const user: UserIdentity = {
  kind: 'user',
  tenantId: T1,
  homeTenantId: T1,
  userId: U1,
  email: 'ana@example.com',
  role: 'agent',
  jti: 'j1',
  iat: 0,
  exp: 0,
};
const acting: UserIdentity = { ...user, role: 'platform_admin', tenantId: T2, homeTenantId: T1 };
const node: NodeIdentity = { kind: 'node', tenantId: T1, nodeId: N1, nodeName: 'edge-1' };

async function headersFor(signer: IdentitySigner, identity: Identity): Promise<Record<string, string | string[]>> {
  const assertion = await signer.sign(identity);
  return buildUpstreamHeaders({
    req: { headers: { host: 'gw.example' }, socket: { remoteAddress: '10.0.0.9' } },
    requestId: 'req-12345678',
    trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', parentId: null },
    identity,
    assertion,
    trustedPeer: false,
  });
}

async function setup(clockStart = Date.now()) {
  const key = await generateSigningKey();
  const clock = manualClock(clockStart);
  const signer = await createIdentitySigner({ signingKey: key.privatePem, audience: AUD, ttlSeconds: 60, clock });
  const verifier = createIdentityVerifier({ keys: [...signer.jwks().keys] }, { audience: AUD, now: () => clock.now() });
  return { key, clock, signer, verifier };
}

async function rejection(p: Promise<unknown>): Promise<IdentityVerificationError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IdentityVerificationError);
  return err as IdentityVerificationError;
}

describe('identity assertion round trip (signed identity headers)', () => {
  it('user: signed, verified, plain headers agree', async () => {
    const { signer, verifier, key } = await setup();
    const h = await headersFor(signer, user);
    expect(h['x-g2d-auth']).toBe('user');
    expect(h['x-g2d-acting-tenant-id']).toBeUndefined();
    const id = await verifier.verify(h);
    expect(id).toMatchObject({ kind: 'user', tenantId: T1, userId: U1, email: 'ana@example.com', role: 'agent' });
    expect('actingTenantId' in id).toBe(false);
    const jws = h['x-g2d-identity'] as string;
    expect(decodeProtectedHeader(jws)).toEqual({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' });
    const claims = decodeJwt(jws);
    expect(claims).toMatchObject({
      iss: 'get2dial-gateway',
      aud: AUD,
      kind: 'user',
      tid: T1,
      sub: U1,
      role: 'agent',
      email: 'ana@example.com',
    });
    expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(60);
  });

  it('node: sub and nid are the node id; no user headers', async () => {
    const { signer, verifier } = await setup();
    const h = await headersFor(signer, node);
    expect(h['x-g2d-node-id']).toBe(N1);
    expect(h['x-g2d-user-id']).toBeUndefined();
    expect(await verifier.verify(h)).toMatchObject({ kind: 'node', tenantId: T1, nodeId: N1 });
    expect(decodeJwt(h['x-g2d-identity'] as string)).toMatchObject({ kind: 'node', tid: T1, sub: N1, nid: N1 });
  });

  it('platform admin acting cross-tenant: tid is the target, act_tid and the header carry the home tenant', async () => {
    const { signer, verifier } = await setup();
    const h = await headersFor(signer, acting);
    expect(h['x-g2d-tenant-id']).toBe(T2);
    expect(h['x-g2d-acting-tenant-id']).toBe(T1);
    expect(decodeJwt(h['x-g2d-identity'] as string)).toMatchObject({ tid: T2, act_tid: T1 });
    expect(await verifier.verify(h)).toMatchObject({
      kind: 'user',
      tenantId: T2,
      actingTenantId: T1,
      role: 'platform_admin',
    });
  });

  it('public: only X-G2D-Auth and the assertion', async () => {
    const { signer, verifier } = await setup();
    const h = await headersFor(signer, { kind: 'public' });
    expect(
      Object.keys(h)
        .filter((k) => k.startsWith('x-g2d-'))
        .sort(),
    ).toEqual(['x-g2d-auth', 'x-g2d-identity']);
    expect(await verifier.verify(h)).toMatchObject({ kind: 'public' });
  });

  it('a private JWK works as the signing key too, with the same kid', async () => {
    const key = await generateSigningKey();
    const jwk = createPrivateKey(key.privatePem).export({ format: 'jwk' });
    const signer = await createIdentitySigner({ signingKey: JSON.stringify(jwk), audience: AUD });
    expect(signer.kid).toBe(key.kid);
    const verifier = createIdentityVerifier({ keys: [key.publicPem], audience: AUD });
    expect(await verifier.verify(await headersFor(signer, user))).toMatchObject({ userId: U1 });
  });

  it('refuses keys that are not Ed25519 private keys, naming the variable', async () => {
    await expect(createIdentitySigner({ signingKey: 'not a key', audience: AUD })).rejects.toThrow(
      /IDENTITY_SIGNING_KEY/,
    );
    const { generateKeyPairSync } = await import('node:crypto');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    await expect(createIdentitySigner({ signingKey: ec, audience: AUD })).rejects.toThrow(/Ed25519/);
  });
});

describe('the verifier rejects', () => {
  const tamper: [string, (h: Record<string, string | string[]>) => void][] = [
    ['a changed tenant header', (h) => (h['x-g2d-tenant-id'] = T2)],
    ['a changed role header', (h) => (h['x-g2d-role'] = 'admin')],
    ['a changed email header', (h) => (h['x-g2d-user-email'] = 'eve@example.com')],
    ['a missing user id header', (h) => delete h['x-g2d-user-id']],
    ['an added node id header', (h) => (h['x-g2d-node-id'] = N1)],
    ['an added acting-tenant header', (h) => (h['x-g2d-acting-tenant-id'] = T2)],
    ['a changed auth kind', (h) => (h['x-g2d-auth'] = 'public')],
    ['a duplicated header', (h) => (h['x-g2d-role'] = ['agent', 'admin'])],
  ];
  it.each(tamper)('%s (mismatch)', async (_name, change) => {
    const { signer, verifier } = await setup();
    const h = await headersFor(signer, user);
    change(h);
    const err = await rejection(verifier.verify(h));
    expect(err.code).toBe('mismatch');
  });

  it('a header in another case is still compared (X-G2D-Role)', async () => {
    const { signer, verifier } = await setup();
    const h: Record<string, string | string[]> = await headersFor(signer, user);
    delete h['x-g2d-role'];
    h['X-G2D-Role'] = 'admin';
    expect((await rejection(verifier.verify(h))).code).toBe('mismatch');
  });

  it('no assertion at all', async () => {
    const { verifier } = await setup();
    expect((await rejection(verifier.verify({ 'x-g2d-auth': 'user', 'x-g2d-tenant-id': T1 }))).code).toBe('missing');
  });

  it('an expired assertion (60 s + 5 s tolerance)', async () => {
    const { signer, verifier, clock } = await setup();
    const h = await headersFor(signer, user);
    clock.advance(64_000);
    await expect(verifier.verify(h)).resolves.toMatchObject({ userId: U1 });
    clock.advance(2_000);
    expect((await rejection(verifier.verify(h))).code).toBe('expired');
  });

  it('the wrong audience', async () => {
    const { signer } = await setup();
    const other = createIdentityVerifier({ keys: [...signer.jwks().keys] }, { audience: 'someone-else' });
    expect((await rejection(other.verify(await headersFor(signer, user)))).code).toBe('claims');
  });

  it('a signature from a key that is not in the set', async () => {
    const { verifier } = await setup();
    const { signer: stranger } = await setup();
    expect((await rejection(verifier.verify(await headersFor(stranger, user)))).code).toBe('signature');
  });

  it('a flipped signature byte and a non-EdDSA token', async () => {
    const { signer, verifier } = await setup();
    const h = await headersFor(signer, user);
    const jws = h['x-g2d-identity'] as string;
    const last = jws.at(-2) === 'A' ? 'B' : 'A';
    expect(
      (await rejection(verifier.verify({ ...h, 'x-g2d-identity': jws.slice(0, -2) + last + jws.at(-1) }))).code,
    ).toBe('signature');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${jws.split('.')[1]}.`;
    expect((await rejection(verifier.verify({ ...h, 'x-g2d-identity': none }))).code).not.toBe('mismatch');
  });
});

describe('JWKS and rotation', () => {
  it('publishes the current key first, then previous ones, never the private part', async () => {
    const old1 = await generateSigningKey();
    const old2 = await generateSigningKey();
    const old2Jwk = { ...createPublicKey(old2.publicPem).export({ format: 'jwk' }), kid: 'legacy-kid' };
    const current = await generateSigningKey();
    const signer = await createIdentitySigner({
      signingKey: current.privatePem,
      previousPublicKeys: [old1.publicPem, JSON.stringify(old2Jwk), current.publicPem],
      audience: AUD,
    });
    const { keys } = signer.jwks();
    expect(keys.map((k) => k.kid)).toEqual([current.kid, old1.kid, 'legacy-kid']);
    for (const k of keys) {
      expect(k).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect('d' in k).toBe(false);
    }
    // An assertion signed before the rotation still verifies against the new JWKS.
    const before = await createIdentitySigner({ signingKey: old1.privatePem, audience: AUD });
    const verifier = createIdentityVerifier({ keys: [...keys] }, { audience: AUD });
    expect(await verifier.verify(await headersFor(before, node))).toMatchObject({ nodeId: N1 });
  });
});

describe('assertion cache', () => {
  it('reuses the same JWS while more than 30 s remain, then signs a new one', async () => {
    const { signer, clock } = await setup(1_700_000_000_000);
    const a = await signer.sign(user);
    expect(await signer.sign({ ...user, jti: 'another-token-same-person' })).toBe(a);
    clock.advance(29_000);
    expect(await signer.sign(user)).toBe(a);
    clock.advance(2_000);
    const b = await signer.sign(user);
    expect(b).not.toBe(a);
    expect(decodeJwt(b).iat).toBe(1_700_000_031);
  });

  it('keys the cache by everything the assertion says', async () => {
    const { signer } = await setup();
    const base = await signer.sign(user);
    for (const variant of [
      { ...user, role: 'admin' as const },
      { ...user, email: 'x@example.com' },
      { ...user, tenantId: T2 },
      acting,
    ]) {
      expect(await signer.sign(variant)).not.toBe(base);
    }
    const [x, y] = await Promise.all([signer.sign(node), signer.sign(node)]);
    expect(x).toBe(y);
  });
});
