import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { isCanonicalSegment } from '../../gateway/auth/token-claims.js';
import { createTokenService } from '../../gateway/auth/tokens.js';
import { manualClock } from '../../gateway/clock.js';

// Adversarial cases derived from RFC 8725 (JWT BCP) and OWASP ASVS V3: every one must be refused.
const SECRET = 'unit-test-secret-unit-test-secret!';
const OLD = 'previous-secret-previous-secret!!';
const TID = '6f1c1d2e-1111-4222-8333-444455556666';
const SUB = '7a2b3c4d-aaaa-4bbb-8ccc-ddddeeeeffff';
const jwt = {
  secret: SECRET,
  previousSecrets: [OLD],
  issuer: 'get2dial',
  audience: 'get2dial-control',
  ttlSeconds: 43200,
  clockToleranceSeconds: 30,
};
const enc = new TextEncoder();

function b64(obj: unknown): string {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

function hmac(alg: 'sha256' | 'sha384' | 'sha512', header: unknown, payload: unknown, secret = SECRET): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(alg, secret).update(input).digest('base64url')}`;
}

function claims(nowSec: number, extra: Record<string, unknown> = {}) {
  return {
    tid: TID,
    sub: SUB,
    email: 'a@b.test',
    role: 'agent',
    iss: 'get2dial',
    aud: 'get2dial-control',
    iat: nowSec,
    exp: nowSec + 3600,
    jti: 'j1',
    ...extra,
  };
}

describe('token service', () => {
  const clock = manualClock(Date.UTC(2026, 6, 1, 12));
  const now = Math.floor(clock.now() / 1000);
  const svc = createTokenService(jwt, { clock, cacheSize: 0 });

  it('mints HS256 tokens with typ JWT and every documented claim', async () => {
    const minted = await svc.mint({ userId: SUB, tenantId: TID, email: 'a@b.test', role: 'admin' });
    const [h, p] = minted.token.split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    expect(payload).toMatchObject({
      tid: TID,
      sub: SUB,
      email: 'a@b.test',
      role: 'admin',
      iss: 'get2dial',
      aud: 'get2dial-control',
      iat: now,
      exp: now + 43200,
    });
    expect(typeof payload.jti).toBe('string');
    expect(minted.expiresAt).toBe('2026-07-02T00:00:00Z');
    const verified = await svc.verify(minted.token);
    expect(verified).toEqual({ ok: true, claims: minted.claims });
  });

  it('accepts a token signed with a previous secret, and never signs with it', async () => {
    const token = hmac('sha256', { alg: 'HS256', typ: 'JWT' }, claims(now), OLD);
    expect((await svc.verify(token)).ok).toBe(true);
    const minted = await svc.mint({ userId: SUB, tenantId: TID, email: 'a@b.test', role: 'agent' });
    const onlyOld = createTokenService({ ...jwt, secret: OLD, previousSecrets: [] }, { clock, cacheSize: 0 });
    expect((await onlyOld.verify(minted.token)).ok).toBe(false);
  });

  const none = (alg: string) => `${b64({ alg, typ: 'JWT' })}.${b64(claims(now))}.`;
  const cases: [string, () => Promise<string> | string, string?][] = [
    ['alg none', () => none('none')],
    ['alg None', () => none('None')],
    ['alg NONE', () => none('NONE')],
    ['alg nOnE with a signature', () => `${b64({ alg: 'nOnE' })}.${b64(claims(now))}.c2ln`],
    ['HS384 with the right secret', () => hmac('sha384', { alg: 'HS384', typ: 'JWT' }, claims(now))],
    ['HS512 with the right secret', () => hmac('sha512', { alg: 'HS512', typ: 'JWT' }, claims(now))],
    [
      'HS256 header but HS512 signature',
      () => {
        const t = hmac('sha512', { alg: 'HS256' }, claims(now));
        return t;
      },
    ],
    ['wrong secret', () => hmac('sha256', { alg: 'HS256' }, claims(now), 'another-secret-another-secret-xx')],
    [
      'tampered role claim',
      () => {
        const [h, , s] = hmac('sha256', { alg: 'HS256' }, claims(now)).split('.');
        return `${h}.${b64(claims(now, { role: 'platform_admin' }))}.${s}`;
      },
    ],
    [
      'tampered tenant claim',
      () => {
        const [h, , s] = hmac('sha256', { alg: 'HS256' }, claims(now)).split('.');
        return `${h}.${b64(claims(now, { tid: '00000000-0000-4000-8000-000000000000' }))}.${s}`;
      },
    ],
    ['wrong issuer', () => hmac('sha256', { alg: 'HS256' }, claims(now, { iss: 'evil' }))],
    ['wrong audience', () => hmac('sha256', { alg: 'HS256' }, claims(now, { aud: 'other' }))],
    ['missing issuer', () => hmac('sha256', { alg: 'HS256' }, claims(now, { iss: undefined }))],
    ['missing audience', () => hmac('sha256', { alg: 'HS256' }, claims(now, { aud: undefined }))],
    ['missing tid', () => hmac('sha256', { alg: 'HS256' }, claims(now, { tid: undefined }))],
    ['missing sub', () => hmac('sha256', { alg: 'HS256' }, claims(now, { sub: undefined }))],
    ['missing exp', () => hmac('sha256', { alg: 'HS256' }, claims(now, { exp: undefined }))],
    ['exp as a string', () => hmac('sha256', { alg: 'HS256' }, claims(now, { exp: String(now + 3600) }))],
    ['nbf as a string', () => hmac('sha256', { alg: 'HS256' }, claims(now, { nbf: String(now) }))],
    ['iat as a string', () => hmac('sha256', { alg: 'HS256' }, claims(now, { iat: String(now) }))],
    ['expired 31 s ago', () => hmac('sha256', { alg: 'HS256' }, claims(now, { exp: now - 31 }))],
    ['nbf 60 s in the future', () => hmac('sha256', { alg: 'HS256' }, claims(now, { nbf: now + 60 }))],
    ['unknown role', () => hmac('sha256', { alg: 'HS256' }, claims(now, { role: 'root' }))],
    ['tid not a UUID', () => hmac('sha256', { alg: 'HS256' }, claims(now, { tid: 'acme' }))],
    [
      'email with a newline (header injection)',
      () => hmac('sha256', { alg: 'HS256' }, claims(now, { email: 'a@b.test\r\nX-G2D-Role: platform_admin' })),
    ],
    ['crit header', () => hmac('sha256', { alg: 'HS256', crit: ['exp'] }, claims(now))],
    [
      'crit header with an unknown extension',
      () => hmac('sha256', { alg: 'HS256', crit: ['x-evil'], 'x-evil': 1 }, claims(now)),
    ],
    [
      'jwk header carrying an attacker key',
      async () => {
        const attacker = enc.encode('attacker-key-attacker-key-attack');
        return new SignJWT(claims(now))
          .setProtectedHeader({
            alg: 'HS256',
            jwk: { kty: 'oct', k: Buffer.from(attacker).toString('base64url') } as never,
          })
          .sign(attacker);
      },
    ],
    [
      'kid and jku pointing elsewhere, signed with another key',
      () =>
        hmac(
          'sha256',
          { alg: 'HS256', kid: '../../etc/passwd', jku: 'http://evil.test/jwks' },
          claims(now),
          'attacker-key-attacker-key-attack',
        ),
    ],
    ['not a JWT', () => 'not-a-jwt'],
    ['JWE-shaped (5 parts)', () => 'a.b.c.d.e'],
    ['empty signature', () => hmac('sha256', { alg: 'HS256' }, claims(now)).replace(/\.[^.]+$/, '.')],
    ['oversized token', () => 'a'.repeat(9000) + '.b.c'],
    [
      'payload is an array',
      () => {
        const input = `${b64({ alg: 'HS256' })}.${b64([1, 2])}`;
        return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
      },
    ],
  ];

  it.each(cases)('refuses %s', async (_name, make) => {
    const token = await make();
    const result = await svc.verify(token);
    expect(result.ok).toBe(false);
  });

  it('allows 30 s of clock skew: expired 20 s ago passes, 31 s ago fails', async () => {
    expect((await svc.verify(hmac('sha256', { alg: 'HS256' }, claims(now, { exp: now - 20 })))).ok).toBe(true);
    expect(await svc.verify(hmac('sha256', { alg: 'HS256' }, claims(now, { exp: now - 31 })))).toEqual({
      ok: false,
      reason: 'expired',
    });
    expect((await svc.verify(hmac('sha256', { alg: 'HS256' }, claims(now, { nbf: now + 20 })))).ok).toBe(true);
    expect(await svc.verify(hmac('sha256', { alg: 'HS256' }, claims(now, { nbf: now + 31 })))).toEqual({
      ok: false,
      reason: 'not_yet_valid',
    });
  });

  it('ignores kid/typ header parameters when the signature is right', async () => {
    expect((await svc.verify(hmac('sha256', { alg: 'HS256', kid: 'whatever' }, claims(now)))).ok).toBe(true);
  });

  it('keeps cached tokens only until their expiry on the injected clock', async () => {
    const c = manualClock(clock.now());
    const cached = createTokenService(jwt, { clock: c, cacheSize: 10 });
    const token = hmac('sha256', { alg: 'HS256' }, claims(now, { exp: now + 100 }));
    // verifyCached never verifies: it only answers for a token verify() already accepted.
    expect(cached.verifyCached(token)).toBeNull();
    expect((await cached.verify(token)).ok).toBe(true);
    expect(cached.verifyCached(token)).toEqual(await cached.verify(token));
    c.advance(131_000);
    expect(cached.verifyCached(token)).toEqual({ ok: false, reason: 'expired' });
    expect(cached.verifyCached(token)).toBeNull();
    expect(await cached.verify(token)).toEqual({ ok: false, reason: 'expired' });
  });

  describe('lifetime and encoding: a token the gateway could have minted, spelled one way', () => {
    const ttl = jwt.ttlSeconds;
    const sign = (payload: unknown, secret = SECRET) => hmac('sha256', { alg: 'HS256', typ: 'JWT' }, payload, secret);
    /** The token with the last character of segment `i` replaced. */
    const lastChar = (token: string, i: number, c: string) => {
      const parts = token.split('.');
      parts[i] = parts[i]!.slice(0, -1) + c;
      return parts.join('.');
    };
    const flipPadBits = (token: string, i: number) => {
      const seg = token.split('.')[i]!;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const v = alphabet.indexOf(seg.at(-1)!);
      // The lowest bit of the last character is a pad bit whenever the length is not a multiple of 4.
      return lastChar(token, i, alphabet[v ^ 0x01]!);
    };

    it('refuses exp: 1e20 (no expiry at all), with or without iat', async () => {
      expect(await svc.verify(sign(claims(now, { exp: 1e20 })))).toEqual({ ok: false, reason: 'claims' });
      expect(await svc.verify(sign(claims(now, { exp: 1e20, iat: undefined })))).toEqual({
        ok: false,
        reason: 'claims',
      });
    });

    it('refuses a lifetime (exp - iat) over AUTH_JWT_TTL_SECONDS + 30 s, even when exp is near', async () => {
      const iat = now - ttl;
      expect((await svc.verify(sign(claims(now, { iat, exp: iat + ttl + 30 })))).ok).toBe(true);
      expect(await svc.verify(sign(claims(now, { iat, exp: iat + ttl + 31 })))).toEqual({
        ok: false,
        reason: 'claims',
      });
    });

    it('refuses an exp more than AUTH_JWT_TTL_SECONDS + 30 s ahead, also without iat', async () => {
      expect((await svc.verify(sign(claims(now, { iat: undefined, exp: now + ttl + 30 })))).ok).toBe(true);
      expect(await svc.verify(sign(claims(now, { iat: undefined, exp: now + ttl + 31 })))).toEqual({
        ok: false,
        reason: 'claims',
      });
    });

    it('refuses an iat more than 30 s in the future; 30 s of skew passes', async () => {
      expect((await svc.verify(sign(claims(now, { iat: now + 30, exp: now + 3600 })))).ok).toBe(true);
      expect(await svc.verify(sign(claims(now, { iat: now + 31, exp: now + 3600 })))).toEqual({
        ok: false,
        reason: 'not_yet_valid',
      });
    });

    it('a token without iat counts as issued as early as its exp allows (a password change catches it)', async () => {
      const verified = await svc.verify(sign(claims(now, { iat: undefined, exp: now + 600 })));
      expect(verified.ok && verified.claims.iat).toBe(now + 600 - ttl - 30);
    });

    it('refuses a signature re-encoded with non-zero pad bits (RFC 4648 §3.5), with or without jti', async () => {
      for (const extra of [{}, { jti: undefined }]) {
        const token = sign(claims(now, extra));
        expect((await svc.verify(token)).ok).toBe(true);
        const variant = flipPadBits(token, 2);
        expect(variant).not.toBe(token);
        expect(Buffer.from(variant.split('.')[2]!, 'base64url')).toEqual(
          Buffer.from(token.split('.')[2]!, 'base64url'),
        );
        expect(await svc.verify(variant)).toEqual({ ok: false, reason: 'malformed' });
      }
    });

    it('refuses non-canonical header and payload segments, and a segment one character too long', async () => {
      // Header and payload whose encodings end mid-byte, so their last character has pad bits.
      for (const i of [0, 1]) {
        let token = '';
        for (let n = 0; ; n += 1) {
          token = hmac(
            'sha256',
            { alg: 'HS256', typ: 'JWT', ...(i === 0 ? { x: 'y'.repeat(n) } : {}) },
            claims(now, i === 1 ? { pad: 'z'.repeat(n) } : {}),
          );
          if (token.split('.')[i]!.length % 4 !== 0) break;
        }
        expect(await svc.verify(flipPadBits(token, i))).toEqual({ ok: false, reason: 'malformed' });
      }
      // 43 + 2 characters: 6 bits left over, the encoding of no byte string.
      expect(await svc.verify(`${sign(claims(now))}AA`)).toEqual({ ok: false, reason: 'malformed' });
    });

    it('isCanonicalSegment: exactly the strings Buffer re-encodes to themselves', () => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      for (const prefix of ['', 'A', 'AB', 'ABC', 'ABCD']) {
        for (const c of alphabet) {
          const seg = prefix + c;
          const roundTrip = Buffer.from(seg, 'base64url').toString('base64url') === seg;
          expect(isCanonicalSegment(seg), seg).toBe(roundTrip);
        }
      }
    });

    it('a token without jti is revoked by its signed bytes: every accepted spelling has the same jti', async () => {
      const token = sign(claims(now, { jti: undefined }));
      const other = hmac('sha256', { alg: 'HS256', typ: 'JWT' }, claims(now, { jti: undefined }), OLD);
      const a = await svc.verify(token);
      const b = await svc.verify(other);
      expect(a.ok && b.ok && a.claims.jti === b.claims.jti).toBe(true);
    });
  });
});
