import { createHash, randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import { ROLES, type Role } from '../config/types.js';
import type { AuthStateStore } from '../store/state.js';
import type { TokenClaims, UserIdentity } from './types.js';

/** WebSocket tickets: `g2dt_` + 32 random bytes as unpadded base64url (43 chars). */
export const TICKET_RE = /^g2dt_[A-Za-z0-9_-]{43}$/;
/** The longest life a ticket may have: it travels in a URL, so it must be short-lived and single-use. */
export const MAX_TICKET_TTL_SECONDS = 30;

export interface IssuedTicket {
  readonly ticket: string;
  /** RFC 3339 UTC, like the login's `expires_at`. */
  readonly expiresAt: string;
}

/** What a redeemed ticket stands for: the access token that obtained it, and the tenant it acts in. */
export interface TicketGrant {
  /** The claims of the access token that obtained the ticket (its jti, exp, sid…). */
  readonly claims: TokenClaims;
  /** The acting tenant decided when the ticket was issued (a platform admin's `?tenant_id=`). */
  readonly tenantId: string;
}

export interface WsTickets {
  /** Issues a ticket for this (already authenticated and tenant-scoped) user. Throws when the store is down (503). */
  issue(identity: UserIdentity): Promise<IssuedTicket>;
  /**
   * Spends a ticket: its grant, or null when it is malformed, unknown, already spent or expired.
   * The state store's atomic take makes it single-use across every instance. Throws when the store is down.
   */
  redeem(ticket: string): Promise<TicketGrant | null>;
}

interface StoredGrant {
  v: 1;
  /** Milliseconds: the ticket's own expiry, checked against the injected clock. */
  until: number;
  act: string;
  tid: string;
  sub: string;
  email: string;
  role: Role;
  jti: string;
  iat: number;
  exp: number;
  sid?: string;
  /** RFC 8176 methods of the access token, so the socket's assertion says how the user signed in. */
  amr?: string[];
}

/** The state-store key of a ticket: only its SHA-256 digest, so a store dump holds no usable ticket. */
function keyOf(ticket: string): string {
  return `wst:${createHash('sha256').update(ticket, 'utf8').digest('hex')}`;
}

function parse(raw: string): StoredGrant | null {
  try {
    const g = JSON.parse(raw) as Partial<StoredGrant>;
    const strings = [g.act, g.tid, g.sub, g.email, g.jti];
    if (g.v !== 1 || strings.some((s) => typeof s !== 'string')) return null;
    if (typeof g.until !== 'number' || typeof g.iat !== 'number' || typeof g.exp !== 'number') return null;
    if (!ROLES.includes(g.role as Role) || (g.sid !== undefined && typeof g.sid !== 'string')) return null;
    if (g.amr !== undefined && !(Array.isArray(g.amr) && g.amr.every((m) => m === 'pwd' || m === 'otp'))) return null;
    return g as StoredGrant;
  } catch {
    return null;
  }
}

/**
 * Single-use WebSocket tickets (docs/api.md, "WebSocket tickets"): a browser cannot set headers on
 * an upgrade, so instead of putting its access token in the URL it trades the token for a ticket
 * valid for at most 30 s and spends it on `/ws/*?ticket=`. The ticket is bound to the user, the
 * session, the acting tenant and the access token's `jti` and `exp`: the socket it opens is
 * re-checked and closed exactly as one opened with that access token would be.
 */
export function createWsTickets(
  deps: { state: AuthStateStore; clock?: Clock },
  options: { ttlSeconds: number },
): WsTickets {
  const clock = deps.clock ?? systemClock;
  const { state } = deps;
  const ttl = options.ttlSeconds;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TICKET_TTL_SECONDS)
    throw new Error(`ws tickets: ttlSeconds must be 1–${MAX_TICKET_TTL_SECONDS}`);

  return {
    async issue(identity) {
      const ticket = `g2dt_${randomBytes(32).toString('base64url')}`;
      const nowMs = clock.now();
      // Never outlives the access token that obtained it; whole seconds, so expires_at is exact.
      const until = Math.floor(Math.min(nowMs + ttl * 1000, identity.exp * 1000) / 1000) * 1000;
      const grant: StoredGrant = {
        v: 1,
        until,
        act: identity.tenantId,
        tid: identity.homeTenantId,
        sub: identity.userId,
        email: identity.email,
        role: identity.role,
        jti: identity.jti,
        iat: identity.iat,
        exp: identity.exp,
        ...(identity.sid !== undefined ? { sid: identity.sid } : {}),
        ...(identity.amr !== undefined ? { amr: [...identity.amr] } : {}),
      };
      // The store's own expiry is a second coarser; `until` is the exact bound, checked on redeem.
      await state.setMarker(keyOf(ticket), JSON.stringify(grant), Math.max(1, Math.ceil((until - nowMs) / 1000)));
      return { ticket, expiresAt: new Date(until).toISOString().replace(/\.\d{3}Z$/, 'Z') };
    },

    async redeem(ticket) {
      // Anything not shaped like a ticket never reaches the store (junk, empty, huge).
      if (typeof ticket !== 'string' || !TICKET_RE.test(ticket)) return null;
      const raw = await state.takeMarker(keyOf(ticket));
      if (raw === null) return null;
      const g = parse(raw);
      if (!g || g.until <= clock.now()) return null;
      const claims: TokenClaims = {
        tid: g.tid,
        sub: g.sub,
        email: g.email,
        role: g.role,
        jti: g.jti,
        iat: g.iat,
        exp: g.exp,
        ...(g.sid !== undefined ? { sid: g.sid } : {}),
        ...(g.amr !== undefined ? { amr: g.amr } : {}),
      };
      return { claims, tenantId: g.act };
    },
  };
}
