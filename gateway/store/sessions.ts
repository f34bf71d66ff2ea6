import type { Db } from './pg.js';
import { UUID_RE } from './tenants.js';

/**
 * Postgres channel for revocations made outside a gateway process (the admin CLI: user disable,
 * session revocation). Payload: a revocation event as JSON (store/revocation-bus.ts).
 */
export const USER_REVOKED_CHANNEL = 'g2d_user_revoked';

/** Why a session ended (the `revoked_reason` column). */
export type RevokeReason = 'logout' | 'logout_all' | 'revoked' | 'refresh_reuse' | 'password_change' | 'admin';

export interface SessionRow {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly expiresAt: Date;
  readonly refreshExpiresAt: Date;
  readonly revokedAt: Date | null;
  /** How the user signed in (RFC 8176 `amr`), kept for the tokens refreshes mint. */
  readonly amr: readonly string[];
}

export interface NewSession {
  readonly tenantId: string;
  readonly userId: string;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly refreshHash: string;
  /** The gateway's clock, the one password_changed_at is stamped with (rotation compares the two). */
  readonly createdAt: Date;
  /** Absolute end, from login. */
  readonly expiresAt: Date;
  /** Idle end of the first refresh token (never past expiresAt). */
  readonly refreshExpiresAt: Date;
  readonly amr: readonly string[];
}

export interface SessionStore {
  create(input: NewSession): Promise<SessionRow>;
  /**
   * Rotation in one atomic statement: the session whose current refresh token is `oldHash`, not
   * revoked, within both limits at `now`, of an active user whose password did not change after
   * the session opened, gets `newHash` (idle end `now + idleSeconds`, capped at the absolute end),
   * and `oldHash` is recorded as spent. Null when no row matched: of two racing rotations exactly
   * one gets the row.
   */
  rotate(oldHash: string, newHash: string, now: Date, idleSeconds: number): Promise<SessionRow | null>;
  /** The session a spent refresh token belonged to (reuse detection), or null. */
  findBySpentHash(hash: string): Promise<{ sessionId: string; tenantId: string; userId: string } | null>;
  /** Revokes one session of `userId`; null when it is not theirs, unknown or already ended. */
  revoke(id: string, userId: string, reason: RevokeReason, now: Date): Promise<SessionRow | null>;
  /** Revokes a session whatever its owner (reuse detection); null when already revoked or unknown. */
  revokeById(id: string, reason: RevokeReason, now: Date): Promise<SessionRow | null>;
  /** Revokes every open session of the user except `keep`; returns the revoked ids. */
  revokeAllForUser(userId: string, reason: RevokeReason, now: Date, keep?: string): Promise<string[]>;
  /**
   * Open sessions of the user, newest first: not revoked, before their absolute end, and either
   * refreshable or holding an access token that may still be valid (minted at login or the last
   * refresh, less than `accessTtlSeconds` ago).
   */
  listOpen(userId: string, now: Date, accessTtlSeconds: number): Promise<SessionRow[]>;
  /** Whether the session is revoked or past its absolute end; null when unknown. */
  statusOf(id: string): Promise<{ userId: string; revoked: boolean; expiresAt: Date } | null>;
  /** Stamps `last_seen_at` for many sessions in one statement (batched off the request path). */
  touch(ids: readonly string[], at: Date): Promise<void>;
}

interface Row {
  id: string;
  tenant_id: string;
  user_id: string;
  created_at: Date;
  last_seen_at: Date;
  ip: string | null;
  user_agent: string | null;
  expires_at: Date;
  refresh_expires_at: Date;
  revoked_at: Date | null;
  amr: string[];
}

const COLUMNS =
  's.id, s.tenant_id, s.user_id, s.created_at, s.last_seen_at, s.ip, s.user_agent, s.expires_at, s.refresh_expires_at, s.revoked_at, s.amr';

function toSession(r: Row): SessionRow {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    userId: r.user_id,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    ip: r.ip,
    userAgent: r.user_agent,
    expiresAt: r.expires_at,
    refreshExpiresAt: r.refresh_expires_at,
    revokedAt: r.revoked_at,
    amr: r.amr,
  };
}

/** Sessions and their refresh tokens in Postgres (migration 003_sessions.sql). */
export function createSessionStore(db: Pick<Db, 'query'>): SessionStore {
  const one = async (sql: string, params: unknown[]) => {
    const { rows } = await db.query<Row>(sql, params);
    return rows[0] ? toSession(rows[0]) : null;
  };
  return {
    async create(s) {
      const row = await one(
        `INSERT INTO sessions AS s (tenant_id, user_id, ip, user_agent, refresh_hash, created_at, last_seen_at, expires_at, refresh_expires_at, amr)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
        [
          s.tenantId,
          s.userId,
          s.ip,
          s.userAgent?.slice(0, 512) ?? null,
          s.refreshHash,
          s.createdAt,
          s.expiresAt,
          s.refreshExpiresAt,
          [...s.amr],
        ],
      );
      if (!row) throw new Error('session insert returned no row');
      return row;
    },
    rotate: (oldHash, newHash, now, idleSeconds) =>
      // One statement, so the row lock serialises racing rotations across every instance: the
      // loser re-evaluates `refresh_hash = $1` against the winner's row and matches nothing.
      one(
        `WITH rotated AS (
           UPDATE sessions AS s
              SET refresh_hash = $2, previous_refresh_hash = s.refresh_hash, refreshed_at = $3,
                  refresh_expires_at = LEAST(s.expires_at, $3::timestamptz + make_interval(secs => $4))
             FROM users u
            WHERE s.refresh_hash = $1 AND s.revoked_at IS NULL
              AND s.refresh_expires_at > $3 AND s.expires_at > $3
              AND u.id = s.user_id AND u.status = 'active' AND u.password_changed_at <= s.created_at
           RETURNING ${COLUMNS}
         ), spent AS (
           INSERT INTO session_spent_refresh (hash, session_id) SELECT $1, id FROM rotated ON CONFLICT (hash) DO NOTHING
         )
         SELECT * FROM rotated s`,
        [oldHash, newHash, now, idleSeconds],
      ),
    async findBySpentHash(hash) {
      const { rows } = await db.query<{ session_id: string; tenant_id: string; user_id: string }>(
        'SELECT p.session_id, s.tenant_id, s.user_id FROM session_spent_refresh p JOIN sessions s ON s.id = p.session_id WHERE p.hash = $1',
        [hash],
      );
      const r = rows[0];
      return r ? { sessionId: r.session_id, tenantId: r.tenant_id, userId: r.user_id } : null;
    },
    revoke: (id, userId, reason, now) =>
      UUID_RE.test(id)
        ? one(
            `UPDATE sessions AS s SET revoked_at = $3, revoked_reason = $4
              WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 RETURNING ${COLUMNS}`,
            [id, userId, now, reason],
          )
        : Promise.resolve(null),
    revokeById: (id, reason, now) =>
      one(
        `UPDATE sessions AS s SET revoked_at = $2, revoked_reason = $3 WHERE s.id = $1 AND s.revoked_at IS NULL RETURNING ${COLUMNS}`,
        [id, now, reason],
      ),
    async revokeAllForUser(userId, reason, now, keep) {
      const { rows } = await db.query<{ id: string }>(
        `UPDATE sessions SET revoked_at = $2, revoked_reason = $3
          WHERE user_id = $1 AND revoked_at IS NULL AND ($4::uuid IS NULL OR id <> $4::uuid) RETURNING id`,
        [userId, now, reason, keep ?? null],
      );
      return rows.map((r) => r.id);
    },
    async listOpen(userId, now, accessTtlSeconds) {
      const { rows } = await db.query<Row>(
        `SELECT ${COLUMNS} FROM sessions s WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
            AND (s.refresh_expires_at > $2 OR COALESCE(s.refreshed_at, s.created_at) + make_interval(secs => $3) > $2)
          ORDER BY s.created_at DESC, s.id DESC LIMIT 1000`,
        [userId, now, accessTtlSeconds],
      );
      return rows.map(toSession);
    },
    async statusOf(id) {
      if (!UUID_RE.test(id)) return null;
      const { rows } = await db.query<{ user_id: string; revoked_at: Date | null; expires_at: Date }>(
        'SELECT user_id, revoked_at, expires_at FROM sessions WHERE id = $1',
        [id],
      );
      const r = rows[0];
      return r ? { userId: r.user_id, revoked: r.revoked_at !== null, expiresAt: r.expires_at } : null;
    },
    async touch(ids, at) {
      if (ids.length === 0) return;
      await db.query('UPDATE sessions SET last_seen_at = $2 WHERE id = ANY($1::uuid[]) AND last_seen_at < $2', [
        ids,
        at,
      ]);
    },
  };
}
