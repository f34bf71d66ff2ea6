/**
 * Revocation push (docs/scale-out.md): every instance hears every revocation at once and
 * drops the cached answer it affects, and closes the WebSockets it concerns. Two transports carry
 * the same events: Redis pub/sub for what the gateway itself revokes (store/redis-bus.ts; an
 * in-process bus for the single-instance quickstart) and Postgres LISTEN/NOTIFY for what the
 * admin CLI changes in Postgres (user disable, session revocation) and for node revocations.
 */

/** What was revoked. `user` covers every token of the user (password change, disable, logout of all sessions). */
export type RevocationEvent =
  | { readonly kind: 'jti'; readonly jti: string; readonly userId: string }
  | { readonly kind: 'session'; readonly sid: string; readonly userId: string }
  | { readonly kind: 'user'; readonly userId: string }
  | { readonly kind: 'node'; readonly nodeId: string };

export interface RevocationBus {
  /**
   * Announces `event` to every instance. The caller has already stored the revocation and applied
   * it locally; a failed publish is logged, never thrown (the stores and the 5 s re-check remain).
   */
  publish(event: RevocationEvent): Promise<void>;
  /** Whether pushed events are being received right now (proven by a probe round trip). */
  connected(): boolean;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface BusHandlers {
  /** An event published by another instance (or this one, for buses that cannot tell). */
  onEvent(event: RevocationEvent): void;
  /** The channel is up again: events may have been missed while it was down. */
  onConnected(): void;
  onDisconnected(reason: string): void;
}

const UUIDISH = /^[0-9a-f-]{36}$/i;
const SAFE = /^[\x21-\x7e]{1,320}$/;

/** Wire format: JSON; anything else (or a malformed event) is ignored by the receiver. */
export function encodeEvent(event: RevocationEvent, origin: string): string {
  return JSON.stringify({ o: origin, e: event });
}

export function decodeEvent(payload: string): { origin: string | null; event: RevocationEvent } | null {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { o, e } = value as { o?: unknown; e?: unknown };
  const event = toEvent(e);
  return event ? { origin: typeof o === 'string' ? o : null, event } : null;
}

function toEvent(e: unknown): RevocationEvent | null {
  if (typeof e !== 'object' || e === null) return null;
  const v = e as Record<string, unknown>;
  const id = (x: unknown): x is string => typeof x === 'string' && UUIDISH.test(x);
  switch (v.kind) {
    case 'jti':
      return typeof v.jti === 'string' && SAFE.test(v.jti) && id(v.userId)
        ? { kind: 'jti', jti: v.jti, userId: v.userId.toLowerCase() }
        : null;
    case 'session':
      return id(v.sid) && id(v.userId)
        ? { kind: 'session', sid: v.sid.toLowerCase(), userId: v.userId.toLowerCase() }
        : null;
    case 'user':
      return id(v.userId) ? { kind: 'user', userId: v.userId.toLowerCase() } : null;
    case 'node':
      return id(v.nodeId) ? { kind: 'node', nodeId: v.nodeId.toLowerCase() } : null;
    default:
      return null;
  }
}

/**
 * The in-process bus of the single-instance quickstart: there is no other instance to tell, and
 * the publisher has already applied the event, so publishing is a no-op that is always "connected".
 */
export function createMemoryRevocationBus(): RevocationBus {
  return {
    publish: async () => {},
    connected: () => true,
    start: async () => {},
    close: async () => {},
  };
}
