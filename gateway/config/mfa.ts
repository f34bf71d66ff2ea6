import { PLACEHOLDER_RE } from './reload.js';
import type { Env, Reader } from './reader.js';
import { ROLES, type MfaConfig, type Role } from './types.js';

/**
 * AUTH_MFA_REQUIRED_ROLES and the TOTP secret encryption keys (AUTH_MFA_ENCRYPTION_KEY, plus
 * AUTH_MFA_PREVIOUS_ENCRYPTION_KEYS while re-encrypting); each may come from its `_FILE`.
 */
export function readMfa(r: Reader, env: Env, production: boolean): MfaConfig {
  // Set but empty means "no role requires MFA"; unset means the default.
  const raw = env.AUTH_MFA_REQUIRED_ROLES;
  const names =
    raw === undefined
      ? ['platform_admin']
      : raw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  const requiredRoles: Role[] = [];
  for (const name of names) {
    if (ROLES.includes(name as Role)) requiredRoles.push(name as Role);
    else r.problem(`AUTH_MFA_REQUIRED_ROLES: "${name}" is not a role (${ROLES.join(', ')})`);
  }
  const encryptionKey = r.secret('AUTH_MFA_ENCRYPTION_KEY');
  const previous = (r.secret('AUTH_MFA_PREVIOUS_ENCRYPTION_KEYS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const [name, value] of [
    ['AUTH_MFA_ENCRYPTION_KEY', encryptionKey],
    ...previous.map((v) => ['AUTH_MFA_PREVIOUS_ENCRYPTION_KEYS', v] as const),
  ] as const) {
    if (value === null) continue;
    if (Buffer.byteLength(value) < 32) r.problem(`${name}: every key must be at least 32 bytes (openssl rand -hex 32)`);
    else if (production && PLACEHOLDER_RE.test(value))
      r.problem(`${name}: still the example placeholder; generate one (openssl rand -hex 32)`);
  }
  return { requiredRoles: [...new Set(requiredRoles)], encryptionKey, previousEncryptionKeys: previous };
}
