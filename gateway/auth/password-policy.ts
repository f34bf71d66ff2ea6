import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PasswordConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';

/** The bundled list; `bin/copy-assets.cjs` copies `gateway/auth/data/` next to the compiled module. */
const DEFAULT_LIST = fileURLToPath(new URL('./data/common-passwords.txt', import.meta.url));

/**
 * Reads the common-password list (one entry a line, `#` lines are comments) into a Set of
 * trimmed, lowercased entries. Call once at startup and pass the Set down; it throws if the
 * file is missing or empty, so a broken build fails at start rather than accepting everything.
 */
export function loadCommonPasswords(path: string = DEFAULT_LIST): ReadonlySet<string> {
  const set = new Set<string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const entry = line.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    set.add(entry.toLowerCase());
  }
  if (set.size === 0) throw new Error(`common password list ${path} has no entries`);
  return set;
}

/** Counts code points, stopping once past `limit` so a 1 MB body costs no more than needed. */
function codePoints(text: string, limit: number): number {
  let n = 0;
  for (const _ of text) {
    n += 1;
    if (n > limit) break;
  }
  return n;
}

function refuse(rule: string): GatewayError {
  return new GatewayError('PASSWORD_POLICY', { publicMessage: `new password ${rule}` });
}

/**
 * The new-password rules (docs/api.md), checked in this order, each failure a 400 PASSWORD_POLICY
 * whose message names the rule: length in Unicode code points (what a person counts, not UTF-16
 * units or bytes) between minLength and maxLength; different from the current password; not in
 * the common list (compared trimmed and lowercased, so `Password1234 ` is as weak as `password1234`).
 */
export function checkNewPassword(
  newPlain: string,
  currentPlain: string,
  config: Pick<PasswordConfig, 'minLength' | 'maxLength'>,
  commonPasswords: ReadonlySet<string>,
): void {
  const length = codePoints(newPlain, config.maxLength);
  if (length < config.minLength) throw refuse(`must be at least ${config.minLength} characters`);
  if (length > config.maxLength) throw refuse(`must be at most ${config.maxLength} characters`);
  if (newPlain === currentPlain) throw refuse('must differ from the current password');
  if (commonPasswords.has(newPlain.trim().toLowerCase())) throw refuse('is too common');
}
