/**
 * How many proxied WebSockets one identity may hold at once (WS_MAX_PER_IDENTITY). Each socket
 * costs a client connection, an upstream connection and two sets of buffers; without a bound one
 * token could open thousands. Counted per user id (all of a user's tokens together) and per node
 * id, in this instance's memory: N instances behind a balancer allow up to N × the limit.
 * A slot is taken before the upstream is dialled and given back when the socket closes or the
 * upgrade fails.
 */
import type { Identity } from '../auth/types.js';

export interface WsIdentityLimiter {
  /**
   * Takes a slot for the identity and returns its release (safe to call more than once), or null
   * when the identity already holds the maximum. Public routes (no identity) are not counted.
   */
  acquire(identity: Identity): (() => void) | null;
  /** Sockets the identity holds now (tests, diagnostics). */
  held(identity: Identity): number;
}

const NOTHING = (): void => {};

function keyOf(identity: Identity): string | null {
  if (identity.kind === 'user') return `u:${identity.userId}`;
  if (identity.kind === 'node') return `n:${identity.nodeId}`;
  return null;
}

/** A per-identity counter of open WebSockets with `max` slots each (validated in config: ≥ 1). */
export function createWsIdentityLimiter(max: number): WsIdentityLimiter {
  if (!Number.isInteger(max) || max < 1) throw new TypeError('createWsIdentityLimiter: max must be a whole number ≥ 1');
  const open = new Map<string, number>();
  return {
    acquire(identity) {
      const key = keyOf(identity);
      if (key === null) return NOTHING;
      const count = open.get(key) ?? 0;
      if (count >= max) return null;
      open.set(key, count + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (open.get(key) ?? 1) - 1;
        if (left <= 0) open.delete(key);
        else open.set(key, left);
      };
    },
    held(identity) {
      const key = keyOf(identity);
      return key === null ? 0 : (open.get(key) ?? 0);
    },
  };
}
