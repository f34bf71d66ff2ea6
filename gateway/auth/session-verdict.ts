import { issuedAtMs } from './tokens.js';
import type { SessionState } from './sessions.js';
import type { TokenClaims } from './types.js';

/**
 * The verdict on a token from the three answers the session checks cache (auth/sessions.ts): the
 * token's revocation entry, its user's status and its session's state. Pure, so cached and fresh
 * answers are judged the same way.
 */

export interface RevocationEntry {
  revoked: boolean;
  validAfter: number;
  at: number;
}

export interface UserStatus {
  disabled: boolean;
  mustChangePassword: boolean;
  /** TOTP confirmed (fails open to true while Postgres is down, as the other status fields do). */
  mfaEnabled: boolean;
  /** Milliseconds; tokens issued before it predate the last password change. */
  validAfter: number;
  exists: boolean;
}

export interface SessionEntry {
  /** Revoked, unknown, another user's, or past its absolute end at `expiresAt`. */
  revoked: boolean;
  expiresAt: number;
  at: number;
}

export const OK: SessionState = Object.freeze({ verdict: 'ok', mustChangePassword: false });
export const NO_SESSION: SessionEntry = Object.freeze({ revoked: false, expiresAt: Infinity, at: Infinity });

/**
 * The first failing check wins: revoked, unknown user, disabled, then issued before a password
 * change. A role in `mfaRoles` without a confirmed second factor passes, restricted to enrolment.
 */
export function verdictOf(
  claims: TokenClaims,
  rev: RevocationEntry,
  status: UserStatus,
  session: SessionEntry,
  now: number,
  mfaRoles: ReadonlySet<string>,
): SessionState {
  const mustChangePassword = status.mustChangePassword;
  if (rev.revoked || session.revoked || session.expiresAt <= now) return { verdict: 'revoked', mustChangePassword };
  if (!status.exists) return { verdict: 'unknown_user', mustChangePassword };
  if (status.disabled) return { verdict: 'disabled', mustChangePassword };
  if (issuedAtMs(claims) < Math.max(rev.validAfter, status.validAfter)) return { verdict: 'stale', mustChangePassword };
  if (!status.mfaEnabled && mfaRoles.has(claims.role))
    return { verdict: 'ok', mustChangePassword, mfaEnrollmentRequired: true };
  return mustChangePassword ? { verdict: 'ok', mustChangePassword } : OK;
}
