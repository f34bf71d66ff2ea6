import type { Logger } from 'pino';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { GatewayError } from '../errors.js';

/**
 * TOTP secrets at rest: AES-256-GCM under a key derived with HKDF-SHA256 (RFC 5869) from
 * AUTH_MFA_ENCRYPTION_KEY. A sealed value is `v1 || key id (8 bytes) || nonce (12) || tag (16) ||
 * ciphertext`; the key id tells which configured key sealed it, so rotation
 * (AUTH_MFA_PREVIOUS_ENCRYPTION_KEYS) decrypts old values and re-seals them with the current key.
 */
export interface SecretBox {
  seal(plain: Uint8Array, context: string): Buffer;
  /** The plaintext and whether it was sealed by an older key (re-seal it), or null when no key opens it. */
  open(sealed: Uint8Array, context: string): { plain: Buffer; stale: boolean } | null;
}

const VERSION = 1;
const INFO = 'get2dial-gateway mfa secret v1';

interface DerivedKey {
  readonly id: Buffer;
  readonly key: Buffer;
}

function derive(material: string): DerivedKey {
  const okm = Buffer.from(hkdfSync('sha256', Buffer.from(material, 'utf8'), Buffer.alloc(0), INFO, 40));
  // The first 8 bytes name the key (never used to encrypt); the last 32 are the AES key.
  return { id: okm.subarray(0, 8), key: okm.subarray(8) };
}

/**
 * Creates the box from the current key and older ones (decrypt only). `context` (the user id) is
 * bound as additional authenticated data, so a sealed secret copied to another user's row fails.
 * Without a current key (production before AUTH_MFA_ENCRYPTION_KEY is set) nothing can be sealed:
 * `seal` throws 503.
 */
export function createSecretBox(current: string | null, previous: readonly string[] = []): SecretBox {
  if (current === '') throw new Error('createSecretBox: the key is empty');
  const now = current === null ? null : derive(current);
  const keys = [...(now ? [now] : []), ...previous.map(derive)];
  return {
    seal(plain, context) {
      if (!now)
        throw new GatewayError('SERVICE_UNAVAILABLE', { detail: 'mfa: AUTH_MFA_ENCRYPTION_KEY is not configured' });
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', now.key, nonce);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([Buffer.from([VERSION]), now.id, nonce, cipher.getAuthTag(), body]);
    },
    open(sealed, context) {
      const buf = Buffer.from(sealed);
      if (buf.length < 1 + 8 + 12 + 16 || buf[0] !== VERSION) return null;
      const id = buf.subarray(1, 9);
      const nonce = buf.subarray(9, 21);
      const tag = buf.subarray(21, 37);
      const body = buf.subarray(37);
      for (const k of keys) {
        if (!k.id.equals(id)) continue;
        try {
          const decipher = createDecipheriv('aes-256-gcm', k.key, nonce);
          decipher.setAAD(Buffer.from(context, 'utf8'));
          decipher.setAuthTag(tag);
          const plain = Buffer.concat([decipher.update(body), decipher.final()]);
          return { plain, stale: k !== now };
        } catch {
          return null;
        }
      }
      return null;
    },
  };
}

/**
 * AUTH_MFA_ENCRYPTION_KEY. Production without it starts only while no user has MFA (then the
 * enrolment routes answer 503); outside production an ephemeral key stands in (the quickstart
 * keeps a generated one in its data directory instead), and secrets sealed with it do not survive
 * a restart.
 */
export async function resolveMfaKey(
  configured: string | null,
  deps: { readonly production: boolean; readonly log: Logger; countEnabled(): Promise<number> },
): Promise<string | null> {
  if (configured !== null) return configured;
  if (deps.production) {
    const enrolled = await deps.countEnabled();
    if (enrolled > 0)
      throw new Error(`createApp: AUTH_MFA_ENCRYPTION_KEY is required: ${enrolled} user(s) have MFA enabled`);
    deps.log.warn('no AUTH_MFA_ENCRYPTION_KEY: MFA enrolment answers 503 until one is configured');
    return null;
  }
  deps.log.warn(
    'no AUTH_MFA_ENCRYPTION_KEY: TOTP secrets are sealed with an ephemeral dev key and stop opening after a restart',
  );
  return randomBytes(32).toString('base64url');
}
