import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkNewPassword, loadCommonPasswords } from '../../gateway/auth/password-policy.js';
import { GatewayError } from '../../gateway/errors.js';

const LIMITS = { minLength: 12, maxLength: 256 };
const CURRENT = 'the current passphrase';
const common = loadCommonPasswords();

function rejection(next: string, current = CURRENT): GatewayError | undefined {
  try {
    checkNewPassword(next, current, LIMITS, common);
    return undefined;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
}

describe('loadCommonPasswords', () => {
  const dir = mkdtempSync(join(tmpdir(), 'g2d-common-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bundles at least the 10 000 most common passwords, password1234 among them (docs/api.md)', () => {
    expect(common.size).toBeGreaterThanOrEqual(10_000);
    for (const entry of ['password1234', '123456', 'password', 'qwerty123456']) expect(common.has(entry)).toBe(true);
    // The licence header is a comment, not a password.
    expect([...common].some((entry) => entry.startsWith('#'))).toBe(false);
  });

  it('skips comments and blank lines, trims and lowercases entries', () => {
    const path = join(dir, 'list.txt');
    writeFileSync(path, '# source: test\n\n  Hunter2Hunter2  \r\nABC\n#not-an-entry\n');
    expect([...loadCommonPasswords(path)]).toEqual(['hunter2hunter2', 'abc']);
  });

  it('refuses a missing or empty list, so a broken build fails at start', () => {
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '# only a header\n');
    expect(() => loadCommonPasswords(empty)).toThrow(/no entries/);
    expect(() => loadCommonPasswords(join(dir, 'missing.txt'))).toThrow();
  });
});

describe('checkNewPassword', () => {
  it('accepts a long, new, uncommon password', () => {
    expect(rejection('violet kettle orbit 42')).toBeUndefined();
    expect(rejection('a'.repeat(12))).toBeUndefined();
    expect(rejection('a'.repeat(256))).toBeUndefined();
  });

  it.each([
    ['shorter than 12 characters', 'a'.repeat(11), 'new password must be at least 12 characters'],
    ['empty', '', 'new password must be at least 12 characters'],
    ['longer than 256 characters', 'a'.repeat(257), 'new password must be at most 256 characters'],
    ['a 1 MB body', 'a'.repeat(1_000_000), 'new password must be at most 256 characters'],
    ['equal to the current password', CURRENT, 'new password must differ from the current password'],
    ['password1234', 'password1234', 'new password is too common'],
    ['a common password in another case, padded', '  PassWord1234 ', 'new password is too common'],
    ['another common 12-character password', 'qwerty123456', 'new password is too common'],
  ])('refuses a password %s with PASSWORD_POLICY', (_case, next, message) => {
    const err = rejection(next);
    expect(err?.code).toBe('PASSWORD_POLICY');
    expect(err?.status).toBe(400);
    expect(err?.publicMessage).toBe(message);
  });

  it('counts Unicode code points, not UTF-16 units or bytes', () => {
    // 11 astral code points are 22 UTF-16 units and 44 bytes, yet still too short.
    expect(rejection('🔑'.repeat(11))?.publicMessage).toBe('new password must be at least 12 characters');
    expect(rejection('🔑'.repeat(12))).toBeUndefined();
    expect(rejection('é'.repeat(256))).toBeUndefined();
    expect(rejection('🔑'.repeat(256))).toBeUndefined();
    expect(rejection('🔑'.repeat(257))?.publicMessage).toBe('new password must be at most 256 characters');
  });

  it('compares with the current password exactly (a changed case is a different password)', () => {
    expect(rejection(CURRENT.toUpperCase())).toBeUndefined();
    expect(rejection(`${CURRENT} `)).toBeUndefined();
  });

  it('checks length before anything else, so a short common password names the length rule', () => {
    expect(rejection('password', 'password')?.publicMessage).toBe('new password must be at least 12 characters');
  });
});
