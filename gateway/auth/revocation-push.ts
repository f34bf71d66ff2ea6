import type { Logger } from 'pino';
import type { RedisConfig } from '../config/types.js';
import { createPgListener, type PgListener } from '../store/listener.js';
import type { Db } from '../store/pg.js';
import { createRedisRevocationBus } from '../store/redis-bus.js';
import type { RedisClient } from '../store/redis.js';
import { USER_REVOKED_CHANNEL } from '../store/sessions.js';
import { createMemoryRevocationBus, decodeEvent, type BusHandlers, type RevocationBus, type RevocationEvent } from '../store/revocation-bus.js';

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
 * The revocation push of one instance (docs/_incoming/sessions.md): a Redis pub/sub bus for what
 * gateways revoke (in-process when there is no Redis: the quickstart) plus a Postgres LISTEN on
 * `g2d_user_revoked`, fed by triggers, for user and session changes made anywhere. Without a
 * LISTEN connection (embedded Postgres) connected() stays false and caches keep short lifetimes.
 */
export function createRevocationPush(deps: { client: RedisClient | null; redis: RedisConfig; listenDb: Pick<Db, 'connect'> | null; log: Logger }): RevocationPush {
  const targets: RevocationTarget[] = [];
  const applyHere = (event: RevocationEvent) => {
    for (const t of targets) t.apply(event);
  };
  const forgetAll = () => {
    for (const t of targets) t.forgetAll();
  };
  const handlers: BusHandlers = { onEvent: applyHere, onConnected: forgetAll, onDisconnected: () => {} };
  const bus: RevocationBus = deps.client ? createRedisRevocationBus({ publisher: deps.client, redis: deps.redis, log: deps.log, handlers }) : createMemoryRevocationBus();
  const listener: PgListener | null = deps.listenDb
    ? createPgListener({
        db: deps.listenDb,
        log: deps.log,
        channel: USER_REVOKED_CHANNEL,
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
