import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { hashKey } from './node-keys.js';

/**
 * Derives the new key of a node-key rotation, so that a retry of the same rotation can answer the
 * same new key without the gateway ever storing that key, in plain text or encrypted
 * (docs/edge-nodes.md, "Key rotation"):
 *
 *   new key = "g2dn_" + base64url(HMAC-SHA-256(K, label ‖ presented previous key ‖ nonce))
 *   K       = HKDF-SHA-256(AUTH_JWT_SECRET, salt "get2dial-gateway", info "node-key-rotation v1")
 *
 * The nonce is 32 random bytes per rotation, stored beside the previous key's digest. Deriving
 * from the previous *raw* key means that the database and the server secret together still do not
 * yield a node's key: the raw previous key is needed too, which only the node holds (and which dies
 * at the end of the grace). HKDF with its own `info` separates K from the JWT signing key (RFC 5869
 * §3.2), so reusing AUTH_JWT_SECRET needs no new secret in every deployment. When that secret is
 * rotated during a grace, the retry tries AUTH_JWT_PREVIOUS_SECRETS too and keeps the derivation
 * whose digest matches the stored new key; if none matches, the retry is refused.
 */
export interface NodeKeyDeriver {
  /** A fresh rotation: a new nonce and the key derived from the presented key with the current secret. */
  rotate(presentedKey: string): { nonce: Buffer; rawKey: string; hash: string };
  /** The key a rotation with this nonce produced, found by its digest; null when no secret matches. */
  rederive(presentedKey: string, nonce: Buffer, expectedHash: string): string | null;
}

const LABEL = 'g2d node key rotation v1\0';

/** Builds the deriver from AUTH_JWT_SECRET first, then AUTH_JWT_PREVIOUS_SECRETS (rederive only). */
export function createNodeKeyDeriver(secrets: readonly string[]): NodeKeyDeriver {
  if (secrets.length === 0 || secrets.some((s) => s.length === 0))
    throw new Error('node key deriver: at least one non-empty secret is required');
  const keys = secrets.map((s) =>
    Buffer.from(hkdfSync('sha256', Buffer.from(s, 'utf8'), 'get2dial-gateway', 'node-key-rotation v1', 32)),
  );
  const derive = (key: Buffer, presented: string, nonce: Buffer) =>
    `g2dn_${createHmac('sha256', key).update(LABEL).update(presented, 'utf8').update('\0').update(nonce).digest('base64url')}`;
  return {
    rotate(presentedKey) {
      const nonce = randomBytes(32);
      const rawKey = derive(keys[0] as Buffer, presentedKey, nonce);
      return { nonce, rawKey, hash: hashKey(rawKey) };
    },
    rederive(presentedKey, nonce, expectedHash) {
      for (const key of keys) {
        const rawKey = derive(key, presentedKey, nonce);
        if (hashKey(rawKey) === expectedHash) return rawKey;
      }
      return null;
    },
  };
}
