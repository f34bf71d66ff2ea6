import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/index.js';
import { resolveDevSecrets } from '../../gateway/config/dev-secrets.js';
import { generateSigningKey } from '../../gateway/auth/identity.js';

describe('resolveDevSecrets (docs/configuration.md: generated in dev, kept under the data dir)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'g2d-secrets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const opts = { generateSigningKey };

  it('generates both secrets once, in a 0600 file, and reuses them on the next start', async () => {
    const first = await resolveDevSecrets(loadConfig({ GATEWAY_DATA_DIR: dir }), opts);
    expect(first.generated).toEqual(['AUTH_JWT_SECRET', 'IDENTITY_SIGNING_KEY', 'AUTH_MFA_ENCRYPTION_KEY']);
    expect(Buffer.byteLength(first.config.mfa.encryptionKey ?? '')).toBeGreaterThanOrEqual(32);
    expect(Buffer.byteLength(first.config.jwt.secret ?? '')).toBeGreaterThanOrEqual(32);
    expect(first.config.identity.signingKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(
      Object.isFrozen(first.config) && Object.isFrozen(first.config.jwt) && Object.isFrozen(first.config.identity),
    ).toBe(true);
    expect(statSync(first.file).mode & 0o777).toBe(0o600);

    const second = await resolveDevSecrets(loadConfig({ GATEWAY_DATA_DIR: dir }), opts);
    expect(second.config.jwt.secret).toBe(first.config.jwt.secret);
    expect(second.config.identity.signingKey).toBe(first.config.identity.signingKey);
    expect(second.config.mfa.encryptionKey).toBe(first.config.mfa.encryptionKey);
  });

  it('keeps configured values, never writes them to the file, and generates only what is missing', async () => {
    const secret = 'an-operator-chosen-secret-of-enough-bytes';
    const r = await resolveDevSecrets(loadConfig({ GATEWAY_DATA_DIR: dir, AUTH_JWT_SECRET: secret }), opts);
    expect(r.generated).toEqual(['IDENTITY_SIGNING_KEY', 'AUTH_MFA_ENCRYPTION_KEY']);
    expect(r.config.jwt.secret).toBe(secret);
    const stored = JSON.parse(readFileSync(r.file, 'utf8'));
    expect(stored.AUTH_JWT_SECRET).toBeUndefined();
    expect(JSON.stringify(stored)).not.toContain(secret);
  });

  it('returns the config untouched when every secret is configured (no file written)', async () => {
    const { privatePem } = await generateSigningKey();
    const config = loadConfig({
      GATEWAY_DATA_DIR: dir,
      AUTH_JWT_SECRET: 'x'.repeat(40),
      IDENTITY_SIGNING_KEY: privatePem,
      AUTH_MFA_ENCRYPTION_KEY: 'm'.repeat(40),
    });
    const r = await resolveDevSecrets(config, opts);
    expect(r.config).toBe(config);
    expect(() => statSync(r.file)).toThrow();
  });

  it('refuses a production config', async () => {
    const { privatePem } = await generateSigningKey();
    const config = loadConfig({
      NODE_ENV: 'production',
      GATEWAY_DATA_DIR: dir,
      DATABASE_URL: 'postgres://db/x',
      REDIS_URL: 'redis://r',
      AUTH_JWT_SECRET: 'x'.repeat(40),
      IDENTITY_SIGNING_KEY: privatePem,
    });
    await expect(resolveDevSecrets(config, opts)).rejects.toThrow(/production/);
  });

  it('says how to recover from a damaged secrets file, and tightens a loose mode', async () => {
    const file = join(dir, 'secrets.json');
    writeFileSync(file, '{not json');
    await expect(resolveDevSecrets(loadConfig({ GATEWAY_DATA_DIR: dir }), opts)).rejects.toThrow(/delete it/);
    writeFileSync(file, JSON.stringify({ AUTH_JWT_SECRET: 'y'.repeat(40) }), { mode: 0o644 });
    const r = await resolveDevSecrets(loadConfig({ GATEWAY_DATA_DIR: dir }), opts);
    expect(r.config.jwt.secret).toBe('y'.repeat(40));
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
