import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import type { SessionStore } from '../store/sessions.js';
import type { AuthStateStore } from '../store/state.js';
import type { UserStore } from '../store/users.js';
import type { RevocationEvent } from '../store/revocation-bus.js';
import { createFailOpenReporter } from './fail-open-warning.js';
import { createSharedReads } from './shared-reads.js';
import { NO_SESSION, verdictOf, type RevocationEntry, type SessionEntry, type UserStatus } from './session-verdict.js';
import type { TokenClaims } from './types.js';

export type SessionVerdict = 'ok' | 'revoked' | 'stale' | 'disabled' | 'unknown_user';

export interface SessionState {
  readonly verdict: SessionVerdict;
  readonly mustChangePassword: boolean;
  /**
   * The token's role is in AUTH_MFA_REQUIRED_ROLES and the user has no second factor yet: like
   * `mustChangePassword`, the token is good only for `me`, the enrolment routes and `logout`.
   */
  readonly mfaEnrollmentRequired?: boolean;
}

export interface Sessions {
  /** Server-side checks a signature cannot express (docs/security-model.md): revoked jti, pre-password-change token, disabled user. */
  check(claims: TokenClaims): Promise<SessionState>;
  /**
   * The same verdict as check(), at once, when both answers it needs are cached and fresh; null
   * when either must be read (then call check()). The hot path's way around two promises.
   */
  checkCached(claims: TokenClaims): SessionState | null;
  /** Logout: the jti is refused until its own expiry, on every instance. */
  revoke(claims: TokenClaims): Promise<void>;
  /** Password change at `atMs`: every token of this user issued before it stops working. */
  invalidateBefore(userId: string, atMs: number, ttlSeconds: number): Promise<void>;
  /** Forgets cached state for a user (status changed through this instance). */
  forgetUser(userId: string): void;
  /** A revocation pushed by any instance (or made here): cached answers it affects are replaced at once. */
  apply(event: RevocationEvent): void;
  /** Drops every cached answer (the push channel reconnected: messages may have been missed). */
  forgetAll(): void;
}

export interface SessionsOptions {
  clock?: Clock;
  /** How long a "not revoked" answer from the store is reused (the cross-instance bound). */
  revocationCacheMs?: number;
  /** How long a user's status (disabled, password change) and a session's state from Postgres are reused (at most 5 s, docs/security-model.md). */
  statusCacheMs?: number;
  /**
   * Both lifetimes while every revocation is pushed (pushUp() true): a revocation then replaces the
   * cached answer at once, so the cache no longer bounds staleness (docs/scale-out.md).
   */
  pushedCacheMs?: number;
  /** Whether the revocation push channels are connected right now. */
  pushUp?: () => boolean;
  /** Called when a dependency failed and the check failed open (for metrics). */
  onFailOpen?: (dependency: 'redis' | 'postgres') => void;
  /**
   * The longest lifetime a verified token can have (AUTH_JWT_TTL_SECONDS + clock leeway). A
   * revocation marker never lives longer than this (plus a margin), whatever `exp` says: the
   * verifier already refuses longer-lived tokens, and Redis refuses an expiry past its range.
   */
  longestTokenSeconds?: number;
  /** AUTH_MFA_REQUIRED_ROLES: roles whose users without a second factor get restricted tokens. */
  mfaRequiredRoles?: readonly string[];
}

/** AUTH_JWT_TTL_SECONDS' upper bound (30 days) plus the clock leeway: the default revocation cap. */
const MAX_TTL_SECONDS = 30 * 86400 + 30;

/**
 * Revocation and user-state checks on the request path. Redis holds revoked jtis and per-user
 * "valid after" times (both expire with the token lifetime); Postgres holds status and
 * password_changed_at. Answers are cached briefly so a request does not pay a round trip each
 * time; a local logout or password change takes effect at once on this instance and within the
 * cache bound elsewhere. A dependency outage fails open (docs/operations.md: token traffic keeps flowing
 * when Redis is down) and is reported through onFailOpen.
 */
/** The share of a cached answer's lifetime after which a use re-reads it in the background. */
const AHEAD = 0.8;

export function createSessions(
  deps: { state: AuthStateStore; users: UserStore; sessionStore?: Pick<SessionStore, 'statusOf'>; log: Logger },
  options: SessionsOptions = {},
): Sessions {
  const clock = options.clock ?? systemClock;
  const shortRevocationMs = options.revocationCacheMs ?? 2000;
  const shortStatusMs = options.statusCacheMs ?? 4000;
  const pushedMs = options.pushedCacheMs ?? 30_000;
  const pushUp = options.pushUp ?? (() => false);
  // Read at every use: when the channel drops, entries older than the short lifetime are stale at once.
  const revocationLife = () => (pushUp() ? Math.max(pushedMs, shortRevocationMs) : shortRevocationMs);
  const statusLife = () => (pushUp() ? Math.max(pushedMs, shortStatusMs) : shortStatusMs);
  const longestTokenSeconds = options.longestTokenSeconds ?? MAX_TTL_SECONDS;
  const mfaRoles: ReadonlySet<string> = new Set(options.mfaRequiredRoles ?? []);
  // Each entry names its user: a change to one user evicts that user's entries, never another's.
  const revoked = new LRUCache<string, RevocationEntry & { userId: string }>({ max: 50_000 });
  const statuses = new LRUCache<string, UserStatus & { at: number }>({ max: 50_000 });
  const sessionStates = new LRUCache<string, SessionEntry & { userId: string }>({ max: 50_000 });
  const { state, users, sessionStore, log } = deps;
  // During an outage every request fails open: counted each time, logged once per dependency per 10 s.
  const failedOpen = createFailOpenReporter(clock, log, options.onFailOpen);

  // Requests that miss the cache together share one read; a change to a user made while a read
  // of theirs is out keeps that read from being cached or joined (auth/shared-reads.ts).
  const revocationReads = createSharedReads<RevocationEntry>();
  const statusReads = createSharedReads<UserStatus>();
  const sessionReads = createSharedReads<SessionEntry>();
  /** Every local or pushed change to `userId`: reads of theirs that are out are not cached. */
  const changed = (userId: string) => {
    revocationReads.invalidate(userId);
    statusReads.invalidate(userId);
    sessionReads.invalidate(userId);
  };
  const revocationHit = (claims: TokenClaims) => {
    const hit = revoked.get(claims.jti);
    return hit?.userId === claims.sub ? hit : undefined;
  };

  function revocationOf(claims: TokenClaims, ahead = false): Promise<RevocationEntry> {
    const now = clock.now();
    const hit = revocationHit(claims);
    if (hit && !ahead && now - hit.at < revocationLife()) return Promise.resolve(hit);
    return revocationReads.join(`${claims.jti}\n${claims.sub}`, claims.sub, (fresh) =>
      readRevocation(claims, hit, now, fresh),
    );
  }

  async function readRevocation(
    claims: TokenClaims,
    hit: RevocationEntry | undefined,
    now: number,
    fresh: () => boolean,
  ): Promise<RevocationEntry> {
    try {
      const [jti, va] = await state.getMarkers([`revoked:${claims.jti}`, `va:${claims.sub}`]);
      const entry = { revoked: jti !== null, validAfter: va === null ? 0 : Number(va), at: now, userId: claims.sub };
      if (fresh()) revoked.set(claims.jti, entry);
      return entry;
    } catch (err) {
      failedOpen('redis', err, 'revocation check');
      return hit ?? { revoked: false, validAfter: 0, at: now };
    }
  }

  function statusOf(userId: string, ahead = false): Promise<UserStatus> {
    const now = clock.now();
    const hit = statuses.get(userId);
    if (hit && !ahead && now - hit.at < statusLife()) return Promise.resolve(hit);
    return statusReads.join(userId, userId, (fresh) => readStatus(userId, hit, now, fresh));
  }

  async function readStatus(
    userId: string,
    hit: UserStatus | undefined,
    now: number,
    fresh: () => boolean,
  ): Promise<UserStatus> {
    try {
      const row = await users.statusOf(userId);
      const entry = row
        ? {
            disabled: row.status === 'disabled',
            mustChangePassword: row.mustChangePassword,
            mfaEnabled: row.mfaEnabled,
            validAfter: row.passwordChangedAt.getTime(),
            exists: true,
            at: now,
          }
        : { disabled: false, mustChangePassword: false, mfaEnabled: false, validAfter: 0, exists: false, at: now };
      if (fresh()) statuses.set(userId, entry);
      return entry;
    } catch (err) {
      failedOpen('postgres', err, 'user status check');
      return hit ?? { disabled: false, mustChangePassword: false, mfaEnabled: true, validAfter: 0, exists: true };
    }
  }

  function sessionOf(claims: TokenClaims, ahead = false): Promise<SessionEntry> {
    const sid = claims.sid;
    if (sid === undefined || !sessionStore) return Promise.resolve(NO_SESSION);
    const now = clock.now();
    const hit = sessionStates.get(sid);
    if (hit && (hit.revoked || (!ahead && now - hit.at < statusLife()))) return Promise.resolve(hit);
    return sessionReads.join(sid, claims.sub, (fresh) => readSession(sessionStore, sid, claims.sub, hit, now, fresh));
  }

  async function readSession(
    store: Pick<SessionStore, 'statusOf'>,
    sid: string,
    userId: string,
    hit: SessionEntry | undefined,
    now: number,
    fresh: () => boolean,
  ): Promise<SessionEntry> {
    try {
      const row = await store.statusOf(sid);
      // Unknown, or another user's: the sid does not stand for a session of this token's subject.
      const entry =
        !row || row.userId !== userId
          ? { revoked: true, expiresAt: 0, at: now, userId }
          : { revoked: row.revoked, expiresAt: row.expiresAt.getTime(), at: now, userId };
      if (fresh()) sessionStates.set(sid, entry);
      return entry;
    } catch (err) {
      failedOpen('postgres', err, 'session check');
      return hit ?? { revoked: false, expiresAt: Infinity, at: now };
    }
  }

  function sessionCached(claims: TokenClaims, now: number, life: number): SessionEntry | null {
    if (claims.sid === undefined || !sessionStore) return NO_SESSION;
    const hit = sessionStates.get(claims.sid);
    return hit && (hit.revoked || now - hit.at < life) ? hit : null;
  }

  /** Drops `userId`'s revocation entries (only those with a valid-after time before `beforeMs`, when given). */
  function forgetRevocationsOf(userId: string, beforeMs = Infinity): void {
    for (const [jti, entry] of revoked.entries())
      if (entry.userId === userId && entry.validAfter < beforeMs) revoked.delete(jti);
  }

  function forgetAll(): void {
    revocationReads.invalidateAll();
    statusReads.invalidateAll();
    sessionReads.invalidateAll();
    revoked.clear();
    statuses.clear();
    sessionStates.clear();
  }

  return {
    async check(claims) {
      const [rev, status, session] = await Promise.all([revocationOf(claims), statusOf(claims.sub), sessionOf(claims)]);
      return verdictOf(claims, rev, status, session, clock.now(), mfaRoles);
    },
    checkCached(claims) {
      const now = clock.now();
      const revLife = revocationLife(),
        life = statusLife(); // once per request: each asks pushUp()
      const rev = revocationHit(claims);
      if (!rev || now - rev.at >= revLife) return null;
      const status = statuses.get(claims.sub);
      if (!status || now - status.at >= life) return null;
      const session = sessionCached(claims, now, life);
      if (session === null) return null;
      // Refresh-ahead: in its last fifth an answer still answers and is re-read once in the background.
      if (now - rev.at > AHEAD * revLife) void revocationOf(claims, true);
      if (now - status.at > AHEAD * life) void statusOf(claims.sub, true);
      if (session !== NO_SESSION && !session.revoked && now - session.at > AHEAD * life) void sessionOf(claims, true);
      return verdictOf(claims, rev, status, session, now, mfaRoles);
    },
    async revoke(claims) {
      const ttl = Math.max(1, Math.min(Math.ceil(claims.exp - clock.now() / 1000), longestTokenSeconds) + 60);
      await state.setMarker(`revoked:${claims.jti}`, '1', ttl);
      changed(claims.sub);
      revoked.set(claims.jti, { revoked: true, validAfter: 0, at: clock.now(), userId: claims.sub });
    },
    async invalidateBefore(userId, atMs, ttlSeconds) {
      await state.setMarker(`va:${userId}`, String(atMs), ttlSeconds + 60);
      changed(userId);
      forgetRevocationsOf(userId, atMs);
      statuses.delete(userId);
    },
    forgetUser(userId) {
      changed(userId);
      statuses.delete(userId);
    },
    apply(event) {
      const now = clock.now();
      if (event.kind !== 'node') changed(event.userId);
      switch (event.kind) {
        case 'jti':
          revoked.set(event.jti, { revoked: true, validAfter: 0, at: now, userId: event.userId });
          break;
        case 'session':
          // Remembered as revoked until evicted: a revoked session never comes back.
          sessionStates.set(event.sid, { revoked: true, expiresAt: 0, at: now, userId: event.userId });
          break;
        case 'user': {
          // Password change, disable, logout of every session: the user's status and valid-after
          // time are read again, and the user's revocation entries (they carry valid-after) with
          // them. Other users' entries stay: with the push up they live 30 s, and every gateway
          // hears every user event of the database (all tenants), so clearing them all would
          // shorten every cache to the gap between two unrelated events.
          statuses.delete(event.userId);
          forgetRevocationsOf(event.userId);
          for (const [sid, entry] of sessionStates.entries())
            if (entry.userId === event.userId && !entry.revoked) sessionStates.delete(sid);
          break;
        }
        case 'node':
          break;
      }
    },
    forgetAll,
  };
}
