import type { NotificationFeed, PgListener } from '../store/listener.js';
import { USER_REVOKED_CHANNEL } from '../store/sessions.js';
import { decodeEvent, type BusHandlers, type RevocationBus, type RevocationEvent } from '../store/revocation-bus.js';

/** What a pushed revocation is applied to on this instance (caches, open sockets). */
export interface RevocationTarget {
  apply(event: RevocationEvent): void;
  /** A channel (re)connected: events may have been missed, so nothing cached can be trusted. */
  forgetAll(): void;
}

export interface RevocationPush {
  /** Applies `event` here at once, then publishes it to every other instance. */
  announce(event: RevocationEvent): void;
  /** Adds a target; every event (local or pushed) is applied to each. */
  attach(target: RevocationTarget): void;
  /** True while every channel this instance relies on is proven to deliver (caches may be long). */
  connected(): boolean;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The revocation push of one instance (docs/scale-out.md): a pub/sub bus for what
 * gateways revoke (store/redis-bus.ts opens it: Redis, or in-process for the quickstart) plus the
 * Postgres notifications on `g2d_user_revoked`, fed by triggers, for user and session changes
 * made anywhere. The plumbing is the store's; this module only fans events out to its targets.
 * Without a feed (embedded Postgres) connected() stays false and caches keep short lifetimes.
 */
export function createRevocationPush(deps: {
  openBus: (handlers: BusHandlers) => RevocationBus;
  feed: NotificationFeed | null;
}): RevocationPush {
  const targets: RevocationTarget[] = [];
  const applyHere = (event: RevocationEvent) => {
    for (const t of targets) t.apply(event);
  };
  const forgetAll = () => {
    for (const t of targets) t.forgetAll();
  };
  const handlers: BusHandlers = { onEvent: applyHere, onConnected: forgetAll, onDisconnected: () => {} };
  const bus = deps.openBus(handlers);
  const listener: PgListener | null = deps.feed
    ? deps.feed.subscribe(USER_REVOKED_CHANNEL, {
        onNotification(payload) {
          const decoded = decodeEvent(payload);
          if (decoded) applyHere(decoded.event);
        },
        onConnected: forgetAll,
        onDisconnected: () => {},
      })
    : null;

  return {
    announce(event) {
      applyHere(event);
      void bus.publish(event);
    },
    attach: (target) => void targets.push(target),
    connected: () => bus.connected() && (listener?.connected ?? false),
    async start() {
      await bus.start();
      await listener?.start();
    },
    async close() {
      await Promise.allSettled([bus.close(), listener?.close()]);
    },
  };
}
