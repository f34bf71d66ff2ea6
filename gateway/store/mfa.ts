import type { Db } from './pg.js';

/** One user's second-factor state as stored: sealed secrets only (gateway/auth/mfa-crypto.ts). */
export interface MfaRecord {
  readonly userId: string;
  readonly pendingSealed: Buffer | null;
  readonly secretSealed: Buffer | null;
  readonly enabled: boolean;
}

export interface MfaStore {
  get(userId: string): Promise<MfaRecord | null>;
  /** Setup: stores (or replaces) the pending secret. False when TOTP is already enabled. */
  setPending(userId: string, sealed: Buffer): Promise<boolean>;
  /**
   * Confirm: the pending secret becomes the secret and the recovery code digests replace any older
   * ones, in one transaction. False when nothing was pending (or it was replaced meanwhile).
   */
  enable(userId: string, pendingSealed: Buffer, codeHashes: readonly string[]): Promise<boolean>;
  /** Turns TOTP off and forgets the recovery codes. True when it was on (or pending). */
  disable(userId: string): Promise<boolean>;
  /** Re-seals the secret with the current key (rotation); only if it is still `expected`. */
  reseal(userId: string, expected: Buffer, sealed: Buffer): Promise<void>;
  /** Spends one recovery code atomically: true for exactly one caller, once. */
  useRecoveryCode(userId: string, codeHash: string): Promise<boolean>;
  /** Unused recovery codes left. */
  recoveryCodesLeft(userId: string): Promise<number>;
  /** How many users have TOTP enabled (the start-up check for AUTH_MFA_ENCRYPTION_KEY). */
  countEnabled(): Promise<number>;
}

interface Row {
  user_id: string;
  pending_sealed: Buffer | null;
  secret_sealed: Buffer | null;
  enabled_at: Date | null;
}

/** Second-factor rows (store/migrations/005_mfa.sql). */
export function createMfaStore(db: Pick<Db, 'query' | 'transaction'>): MfaStore {
  return {
    async get(userId) {
      const { rows } = await db.query<Row>(
        'SELECT user_id, pending_sealed, secret_sealed, enabled_at FROM user_mfa WHERE user_id = $1',
        [userId],
      );
      const r = rows[0];
      return r
        ? {
            userId: r.user_id,
            pendingSealed: r.pending_sealed,
            secretSealed: r.secret_sealed,
            enabled: r.enabled_at !== null,
          }
        : null;
    },
    async setPending(userId, sealed) {
      const { rowCount } = await db.query(
        `INSERT INTO user_mfa (user_id, pending_sealed) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET pending_sealed = EXCLUDED.pending_sealed, updated_at = now()
           WHERE user_mfa.enabled_at IS NULL`,
        [userId, sealed],
      );
      return (rowCount ?? 0) > 0;
    },
    enable: (userId, pendingSealed, codeHashes) =>
      db.transaction(async (tx) => {
        const { rowCount } = await tx.query(
          `UPDATE user_mfa SET secret_sealed = pending_sealed, pending_sealed = NULL, enabled_at = now(), updated_at = now()
            WHERE user_id = $1 AND enabled_at IS NULL AND pending_sealed = $2`,
          [userId, pendingSealed],
        );
        if ((rowCount ?? 0) === 0) return false;
        await tx.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
        await tx.query('INSERT INTO mfa_recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[])', [
          userId,
          [...codeHashes],
        ]);
        return true;
      }),
    async disable(userId) {
      const { rowCount } = await db.query('DELETE FROM user_mfa WHERE user_id = $1', [userId]);
      await db.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
      return (rowCount ?? 0) > 0;
    },
    async reseal(userId, expected, sealed) {
      await db.query(
        'UPDATE user_mfa SET secret_sealed = $3, updated_at = now() WHERE user_id = $1 AND secret_sealed = $2',
        [userId, expected, sealed],
      );
    },
    async useRecoveryCode(userId, codeHash) {
      const { rowCount } = await db.query(
        'UPDATE mfa_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL',
        [userId, codeHash],
      );
      return (rowCount ?? 0) === 1;
    },
    async recoveryCodesLeft(userId) {
      const { rows } = await db.query<{ n: string }>(
        'SELECT count(*) AS n FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL',
        [userId],
      );
      return Number(rows[0]?.n ?? 0);
    },
    async countEnabled() {
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM user_mfa WHERE enabled_at IS NOT NULL');
      return Number(rows[0]?.n ?? 0);
    },
  };
}
