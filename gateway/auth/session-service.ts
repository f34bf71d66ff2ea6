import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { SessionConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { AuditLog } from '../store/audit.js';
import type { RevokeReason, SessionRow, SessionStore } from '../store/sessions.js';
import type { User, UserStore } from '../store/users.js';
import { rfc3339 } from '../util/time.js';
import { hashKey } from './node-keys.js';
import type { RevocationEvent } from '../store/revocation-bus.js';
import type { TokenService } from './tokens.js';

/** Raw refresh tokens: `g2dr_` + 32 random bytes as unpadded base64url (43 chars). */
export const REFRESH_TOKEN_RE = /^g2dr_[A-Za-z0-9_-]{43}$/;

/** A fresh refresh token and its SHA-256 hex digest (the only form stored). */
export function generateRefreshToken(): { raw: string; hash: string } {
  const raw = `g2dr_${randomBytes(32).toString('base64url')}`;
  return { raw, hash: hashKey(raw) };
}

export interface Issued {
  readonly token: string;
  /** RFC 3339, the access token's expiry. */
  readonly expiresAt: string;
  readonly sessionId: string;
  /** The fields a login response gains: `refresh_token`, `refresh_expires_at`. */
  readonly extra: { readonly refresh_token: string; readonly refresh_expires_at: string };
}

export interface RequestMeta {
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId?: string | null;
}

export interface SessionService {
  /** Opens a session for a user who just authenticated and mints its first access token (with `sid`). */
  /** Opens a session for a login; `amr` (RFC 8176) is kept with it, so refreshed tokens say how the user signed in. */
  open(user: User, meta: RequestMeta, amr?: readonly string[]): Promise<Issued>;
  /**
   * Rotates a refresh token: the user and the new tokens (the route answers them as a login
   * does), or 401 INVALID_REFRESH_TOKEN.
   * A spent token presented again revokes its whole session everywhere (audit `refresh_reuse`).
   */
  refresh(raw: string, meta: RequestMeta): Promise<{ user: User; issued: Issued }>;
  /** Revokes one of the user's sessions; false when it is not theirs, unknown or already ended. */
  revoke(userId: string, sessionId: string, reason: RevokeReason): Promise<boolean>;
  /** Revokes every open session of the user (except `keep`) and announces it; returns their ids. */
  revokeAll(userId: string, reason: RevokeReason, keep?: string): Promise<string[]>;
  /** The user's open sessions, newest first, in the API's shape. */
  list(userId: string, currentSid: string | undefined): Promise<Record<string, unknown>[]>;
}

/**
 * Sessions and refresh-token rotation (docs/api.md; RFC 9700 §4.14 refresh token
 * rotation with reuse detection). Every revocation is stored first, then `announce`d: applied to
 * this instance's caches and open sockets at once and pushed to every other instance.
 */
export function createSessionService(deps: {
  store: SessionStore;
  users: Pick<UserStore, 'findById'>;
  tokens: TokenService;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  config: SessionConfig;
  /** Access-token lifetime (AUTH_JWT_TTL_SECONDS): a session is listed while one of its tokens may live. */
  accessTtlSeconds: number;
  announce: (event: RevocationEvent) => void;
}): SessionService {
  const { store, users, tokens, audit, clock, config, announce } = deps;

  const refreshEnd = (now: number, sessionEnd: Date) =>
    new Date(Math.min(now + config.refreshTtlSeconds * 1000, sessionEnd.getTime()));

  async function mintFor(user: User, session: SessionRow, raw: string): Promise<Issued> {
    const minted = await tokens.mint({
      userId: user.id,
      tenantId: user.tenantId,
      email: user.email,
      role: user.role,
      sessionId: session.id,
      amr: session.amr,
    });
    return {
      token: minted.token,
      expiresAt: minted.expiresAt,
      sessionId: session.id,
      extra: { refresh_token: raw, refresh_expires_at: rfc3339(session.refreshExpiresAt) },
    };
  }

  const invalid = () => new GatewayError('INVALID_REFRESH_TOKEN');

  return {
    async open(user, meta, amr = ['pwd']) {
      const now = clock.now();
      const expiresAt = new Date(now + config.maxSeconds * 1000);
      const { raw, hash } = generateRefreshToken();
      const session = await store.create({
        tenantId: user.tenantId,
        userId: user.id,
        ip: meta.ip,
        userAgent: meta.userAgent,
        refreshHash: hash,
        createdAt: new Date(now),
        expiresAt,
        refreshExpiresAt: refreshEnd(now, expiresAt),
        amr,
      });
      return mintFor(user, session, raw);
    },

    async refresh(raw, meta) {
      if (!REFRESH_TOKEN_RE.test(raw)) throw invalid();
      const hash = hashKey(raw);
      const next = generateRefreshToken();
      const now = clock.now();
      const rotated = await store.rotate(hash, next.hash, new Date(now), config.refreshTtlSeconds);
      if (rotated) {
        const user = await users.findById(rotated.userId);
        if (!user || user.status !== 'active') throw invalid();
        const issued = await mintFor(user, rotated, next.raw);
        return { user, issued };
      }
      const spent = await store.findBySpentHash(hash);
      if (spent) {
        // Reuse: either the client raced itself or the token was stolen; the session cannot tell
        // which copy is the thief's, so it ends for both (RFC 9700 §4.14.2).
        const ended = await store.revokeById(spent.sessionId, 'refresh_reuse', new Date(now));
        if (ended) announce({ kind: 'session', sid: spent.sessionId, userId: spent.userId });
        void audit.record({
          event: 'refresh_reuse',
          tenantId: spent.tenantId,
          userId: spent.userId,
          ip: meta.ip,
          userAgent: meta.userAgent,
          requestId: meta.requestId ?? null,
          detail: { sid: spent.sessionId, session_revoked: ended !== null },
        });
      }
      throw invalid();
    },

    async revoke(userId, sessionId, reason) {
      const row = await store.revoke(sessionId.toLowerCase(), userId, reason, new Date(clock.now()));
      if (!row) return false;
      announce({ kind: 'session', sid: row.id, userId });
      return true;
    },

    async revokeAll(userId, reason, keep) {
      const ids = await store.revokeAllForUser(userId, reason, new Date(clock.now()), keep);
      for (const sid of ids) announce({ kind: 'session', sid, userId });
      return ids;
    },

    async list(userId, currentSid) {
      const rows = await store.listOpen(userId, new Date(clock.now()), deps.accessTtlSeconds);
      return rows.map((s) => ({
        id: s.id,
        created_at: rfc3339(s.createdAt),
        last_seen_at: rfc3339(s.lastSeenAt),
        ip: s.ip,
        user_agent: s.userAgent,
        current: s.id === currentSid,
      }));
    },
  };
}
