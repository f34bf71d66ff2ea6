import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSecretBox } from '../../gateway/auth/mfa-crypto.js';
import { base32Decode, base32Encode, hotp, matchTotp, otpauthUri, sameCode, totp } from '../../gateway/auth/totp.js';

describe('base32 (RFC 4648 §10 test vectors)', () => {
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];
  it.each(vectors)('%j ↔ %s', (plain, encoded) => {
    expect(base32Encode(Buffer.from(plain))).toBe(encoded);
    expect(base32Decode(encoded)?.toString()).toBe(plain);
  });
  it('decodes padded and lower-case input, refuses other alphabets', () => {
    expect(base32Decode('MZXW6YTBOI======')?.toString()).toBe('foobar');
    expect(base32Decode('mzxw6ytboi')?.toString()).toBe('foobar');
    expect(base32Decode('MZXW1')).toBeNull();
    expect(base32Decode('MZ XW')).toBeNull();
  });
  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        (bytes) => base32Decode(base32Encode(bytes))?.equals(Buffer.from(bytes)) === true,
      ),
      { numRuns: 200 },
    );
  });
});

describe('HOTP (RFC 4226 Appendix D) and TOTP (RFC 6238 Appendix B, SHA1)', () => {
  const seed = Buffer.from('12345678901234567890');
  it('HOTP test values', () => {
    const expected = [
      '755224',
      '287082',
      '359152',
      '969429',
      '338314',
      '254676',
      '287922',
      '162583',
      '399871',
      '520489',
    ];
    expect(expected.map((_, i) => hotp(seed, i))).toEqual(expected);
  });
  it.each([
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ])('T=%i → %s (8 digits)', (seconds, code) => {
    expect(totp(seed, seconds * 1000, 8)).toBe(code);
  });
  it('accepts ±1 step and nothing further, returning the matched step', () => {
    const now = 1_700_000_000_000;
    const step = Math.floor(now / 30_000);
    expect(matchTotp(seed, hotp(seed, step), now)).toBe(step);
    expect(matchTotp(seed, hotp(seed, step - 1), now)).toBe(step - 1);
    expect(matchTotp(seed, hotp(seed, step + 1), now)).toBe(step + 1);
    expect(matchTotp(seed, hotp(seed, step - 2), now)).toBeNull();
    expect(matchTotp(seed, hotp(seed, step + 2), now)).toBeNull();
  });
  it('compares codes of different lengths as unequal without throwing', () => {
    expect(sameCode('123456', '1234567')).toBe(false);
    expect(sameCode('123456', '123456')).toBe(true);
  });
  it('builds an otpauth URI with the label URI-encoded', () => {
    expect(otpauthUri('a+b@x.test', 'ABC')).toBe(
      'otpauth://totp/Get2Dial:a%2Bb%40x.test?secret=ABC&issuer=Get2Dial&algorithm=SHA1&digits=6&period=30',
    );
  });
});

describe('sealed MFA secrets (AES-256-GCM, HKDF-derived key)', () => {
  const secret = Buffer.from('0123456789abcdefghij');
  it('round-trips and binds the user id', () => {
    const box = createSecretBox('k'.repeat(40));
    const sealed = box.seal(secret, 'user-a');
    expect(sealed.includes(secret)).toBe(false);
    expect(box.open(sealed, 'user-a')).toEqual({ plain: secret, stale: false });
    expect(box.open(sealed, 'user-b')).toBeNull();
  });
  it('refuses a tampered value and a foreign key', () => {
    const box = createSecretBox('k'.repeat(40));
    const sealed = box.seal(secret, 'u');
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
    expect(box.open(flipped, 'u')).toBeNull();
    expect(createSecretBox('z'.repeat(40)).open(sealed, 'u')).toBeNull();
  });
  it('rotation: the previous key opens old values (marked stale), the current key seals', () => {
    const old = createSecretBox('old-key-old-key-old-key-old-key-old-key');
    const sealedOld = old.seal(secret, 'u');
    const rotated = createSecretBox('new-key-new-key-new-key-new-key-new-key', [
      'old-key-old-key-old-key-old-key-old-key',
    ]);
    expect(rotated.open(sealedOld, 'u')).toEqual({ plain: secret, stale: true });
    const resealed = rotated.seal(secret, 'u');
    expect(rotated.open(resealed, 'u')).toEqual({ plain: secret, stale: false });
    expect(old.open(resealed, 'u')).toBeNull();
  });
  it('without a current key nothing is sealed (503) but previous keys still open', () => {
    const old = createSecretBox('old-key-old-key-old-key-old-key-old-key');
    const onlyPrevious = createSecretBox(null, ['old-key-old-key-old-key-old-key-old-key']);
    expect(onlyPrevious.open(old.seal(secret, 'u'), 'u')?.plain).toEqual(secret);
    expect(() => onlyPrevious.seal(secret, 'u')).toThrow(expect.objectContaining({ code: 'SERVICE_UNAVAILABLE' }));
  });
});

describe('AUTH_MFA_* configuration', () => {
  it('defaults to platform_admin; empty means none; unknown roles and short keys are refused', async () => {
    const { loadConfig } = await import('../../gateway/config/index.js');
    expect(loadConfig({}).mfa.requiredRoles).toEqual(['platform_admin']);
    expect(loadConfig({ AUTH_MFA_REQUIRED_ROLES: '' }).mfa.requiredRoles).toEqual([]);
    expect(loadConfig({ AUTH_MFA_REQUIRED_ROLES: ' admin, platform_admin ' }).mfa.requiredRoles).toEqual([
      'admin',
      'platform_admin',
    ]);
    expect(() => loadConfig({ AUTH_MFA_REQUIRED_ROLES: 'root' })).toThrow(
      /AUTH_MFA_REQUIRED_ROLES: "root" is not a role/,
    );
    expect(() => loadConfig({ AUTH_MFA_ENCRYPTION_KEY: 'short' })).toThrow(
      /AUTH_MFA_ENCRYPTION_KEY: every key must be at least 32 bytes/,
    );
    const c = loadConfig({
      AUTH_MFA_ENCRYPTION_KEY: 'a'.repeat(32),
      AUTH_MFA_PREVIOUS_ENCRYPTION_KEYS: `${'b'.repeat(32)}, ${'c'.repeat(32)}`,
    });
    expect(c.mfa.previousEncryptionKeys).toEqual(['b'.repeat(32), 'c'.repeat(32)]);
  });
});
