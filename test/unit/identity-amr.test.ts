import { SignJWT, importPKCS8 } from 'jose';
import { describe, expect, it } from 'vitest';
import { createIdentitySigner, generateSigningKey } from '../../gateway/auth/identity.js';
import { createIdentityVerifier } from '@get2dial/identity-verifier';
import type { UserIdentity } from '../../gateway/auth/types.js';
import { buildUpstreamHeaders } from '../../gateway/proxy/headers.js';

const AUD = 'get2dial-upstream';
const T1 = '11111111-1111-4111-8111-111111111111';
const U1 = '33333333-3333-4333-8333-333333333333';
const base: UserIdentity = {
  kind: 'user',
  tenantId: T1,
  homeTenantId: T1,
  userId: U1,
  email: 'ana@example.com',
  role: 'admin',
  jti: 'j1',
  iat: 0,
  exp: 0,
};

async function setup() {
  const key = await generateSigningKey();
  const signer = await createIdentitySigner({ signingKey: key.privatePem, audience: AUD });
  const verifier = createIdentityVerifier({ keys: [...signer.jwks().keys] }, { audience: AUD });
  const headersFor = async (identity: UserIdentity, clientHeaders: Record<string, string> = {}) =>
    buildUpstreamHeaders({
      req: { headers: { host: 'gw.example', ...clientHeaders }, socket: { remoteAddress: '10.0.0.9' } },
      requestId: 'req-1',
      trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', parentId: null },
      identity,
      assertion: await signer.sign(identity),
      trustedPeer: false,
    });
  return { key, signer, verifier, headersFor };
}

describe('amr (RFC 8176) for upstreams', () => {
  it('the assertion and X-G2D-Auth-Methods carry the methods; the verifier exposes them', async () => {
    const { verifier, headersFor } = await setup();
    for (const amr of [['pwd'], ['pwd', 'otp']]) {
      const h = await headersFor({ ...base, amr }, { 'x-g2d-auth-methods': 'hwk' });
      expect(h['x-g2d-auth-methods']).toBe(amr.join(','));
      expect(await verifier.verify(h)).toMatchObject({ kind: 'user', amr });
    }
  });

  it('an identity without amr (a token minted before MFA) is asserted as pwd', async () => {
    const { verifier, headersFor } = await setup();
    const h = await headersFor(base);
    expect(h['x-g2d-auth-methods']).toBe('pwd');
    expect(await verifier.verify(h)).toMatchObject({ amr: ['pwd'] });
  });

  it('rejects a header that disagrees with the assertion, or a missing one', async () => {
    const { verifier, headersFor } = await setup();
    const h = await headersFor({ ...base, amr: ['pwd'] });
    await expect(verifier.verify({ ...h, 'x-g2d-auth-methods': 'pwd,otp' })).rejects.toMatchObject({
      code: 'mismatch',
    });
    const { 'x-g2d-auth-methods': _dropped, ...without } = h;
    await expect(verifier.verify(without)).rejects.toMatchObject({ code: 'mismatch' });
  });

  it('an assertion from an older gateway (no amr claim, no header) verifies as pwd; a header beside it is a mismatch', async () => {
    const { key, signer, verifier } = await setup();
    const now = Math.floor(Date.now() / 1000);
    const jws = await new SignJWT({ kind: 'user', tid: T1, sub: U1, role: 'admin', email: 'ana@example.com' })
      .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: 'JWT' })
      .setIssuer('get2dial-gateway')
      .setAudience(AUD)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(await importPKCS8(key.privatePem, 'EdDSA'));
    const h = {
      'x-g2d-identity': jws,
      'x-g2d-auth': 'user',
      'x-g2d-tenant-id': T1,
      'x-g2d-user-id': U1,
      'x-g2d-user-email': 'ana@example.com',
      'x-g2d-role': 'admin',
    };
    expect(await verifier.verify(h)).toMatchObject({ amr: ['pwd'] });
    await expect(verifier.verify({ ...h, 'x-g2d-auth-methods': 'pwd' })).rejects.toMatchObject({ code: 'mismatch' });
  });
});
