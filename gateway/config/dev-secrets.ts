/**
 * Development secrets for the quickstart (docs/configuration.md, "generated in dev"): when AUTH_JWT_SECRET,
 * IDENTITY_SIGNING_KEY or AUTH_MFA_ENCRYPTION_KEY is not configured, one is generated on first start and kept in
 * `<dataDir>/secrets.json` (mode 0600), so a restart keeps tokens and upstream keys valid.
 * Production never gets here: loadConfig refuses NODE_ENV=production without both secrets, and
 * resolveDevSecrets refuses a production config as well.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './types.js';

export const DEV_SECRETS_FILE = 'secrets.json';

interface StoredSecrets {
  AUTH_JWT_SECRET?: string;
  IDENTITY_SIGNING_KEY?: string;
  AUTH_MFA_ENCRYPTION_KEY?: string;
}

export interface DevSecretsOptions {
  /** Makes an Ed25519 PKCS#8 PEM (auth/identity.ts `generateSigningKey`), injected so config stays the bottom layer. */
  readonly generateSigningKey: () => Promise<{ privatePem: string }>;
}

export interface DevSecretsResult {
  readonly config: Config;
  /** Which values came from (or were just written to) the secrets file. */
  readonly generated: readonly ('AUTH_JWT_SECRET' | 'IDENTITY_SIGNING_KEY' | 'AUTH_MFA_ENCRYPTION_KEY')[];
  readonly file: string;
}

/**
 * Returns a new frozen Config whose JWT secret and identity signing key are filled in from the
 * environment when set, else from `<dataDir>/secrets.json`, generating and persisting what is
 * missing. Values in the environment always win and are never written to the file.
 */
export async function resolveDevSecrets(config: Config, options: DevSecretsOptions): Promise<DevSecretsResult> {
  if (config.production) throw new Error('resolveDevSecrets: refusing to generate secrets with NODE_ENV=production');
  const file = join(config.dataDir, DEV_SECRETS_FILE);
  const needJwt = config.jwt.secret === null;
  const needKey = config.identity.signingKey === null;
  const needMfa = config.mfa.encryptionKey === null;
  if (!needJwt && !needKey && !needMfa) return { config, generated: [], file };

  const stored = readStored(file);
  let changed = false;
  if (needJwt && !stored.AUTH_JWT_SECRET) {
    // 48 random bytes: well over the 32 bytes docs/configuration.md asks of an HS256 key.
    stored.AUTH_JWT_SECRET = randomBytes(48).toString('base64url');
    changed = true;
  }
  if (needKey && !stored.IDENTITY_SIGNING_KEY) {
    stored.IDENTITY_SIGNING_KEY = (await options.generateSigningKey()).privatePem;
    changed = true;
  }
  if (needMfa && !stored.AUTH_MFA_ENCRYPTION_KEY) {
    stored.AUTH_MFA_ENCRYPTION_KEY = randomBytes(32).toString('base64url');
    changed = true;
  }
  if (changed) writeStored(config.dataDir, file, stored);

  const generated: DevSecretsResult['generated'] = [
    ...(needJwt ? (['AUTH_JWT_SECRET'] as const) : []),
    ...(needKey ? (['IDENTITY_SIGNING_KEY'] as const) : []),
    ...(needMfa ? (['AUTH_MFA_ENCRYPTION_KEY'] as const) : []),
  ];
  const next: Config = {
    ...config,
    jwt: Object.freeze({ ...config.jwt, secret: needJwt ? (stored.AUTH_JWT_SECRET ?? null) : config.jwt.secret }),
    identity: Object.freeze({
      ...config.identity,
      signingKey: needKey ? (stored.IDENTITY_SIGNING_KEY ?? null) : config.identity.signingKey,
    }),
    mfa: Object.freeze({
      ...config.mfa,
      encryptionKey: needMfa ? (stored.AUTH_MFA_ENCRYPTION_KEY ?? null) : config.mfa.encryptionKey,
    }),
  };
  // Every other branch of the old config is already deep-frozen; only the new spine needs it.
  return { config: Object.freeze(next), generated, file };
}

function readStored(file: string): StoredSecrets {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(
      `${file} is not valid JSON; delete it to generate new development secrets (existing tokens stop working)`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${file} must hold a JSON object`);
  const p = parsed as Record<string, unknown>;
  const out: StoredSecrets = {};
  for (const key of ['AUTH_JWT_SECRET', 'IDENTITY_SIGNING_KEY', 'AUTH_MFA_ENCRYPTION_KEY'] as const) {
    const v = p[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '') throw new Error(`${file}: ${key} must be a non-empty string`);
    out[key] = v;
  }
  if (out.AUTH_JWT_SECRET !== undefined && Buffer.byteLength(out.AUTH_JWT_SECRET) < 16)
    throw new Error(`${file}: AUTH_JWT_SECRET must be at least 16 bytes`);
  // A group- or world-readable file is tightened rather than refused: it is a dev secret.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return out;
}

/** Write to a temporary file then rename, so a crash never leaves half a secrets file. */
function writeStored(dataDir: string, file: string, stored: StoredSecrets): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
