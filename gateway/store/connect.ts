/**
 * Opens the store's connections from the validated config: the request pool, the LISTEN pool and
 * the auth state store (Redis, or process memory outside production). The composition root calls
 * these and only wires what they return.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { DatabaseConfig, RedisConfig } from '../config/types.js';
import { createNotificationFeed, type NotificationFeed } from './listener.js';
import { createMemoryStateStore } from './memory.js';
import { createPg, type Db } from './pg.js';
import { createRedisClient, createRedisStateStore, type RedisClient } from './redis.js';
import type { AuthStateStore } from './state.js';

/** The request pool of DATABASE_URL. */
export function openDatabase(database: DatabaseConfig): Db {
  if (!database.url) throw new Error('createApp: no database URL');
  return createPg({ url: database.url, poolSize: database.poolSize, ssl: database.ssl });
}

/**
 * The LISTEN connections (node revocations, user revocations) share a small pool of their own, so
 * they never take a slot from request traffic. An injected Db (the quickstart's embedded one)
 * comes without a URL for more connections: no feed then (null), and caches keep short lifetimes.
 */
export function openNotificationFeed(
  database: DatabaseConfig,
  options: { readonly injectedDb: boolean; readonly log: Logger },
): { readonly feed: NotificationFeed; close(): Promise<void> } | null {
  if (options.injectedDb || !database.url) return null;
  const pool = createPg({
    url: database.url,
    poolSize: 2,
    ssl: database.ssl,
    applicationName: 'get2dial-gateway-listen',
  });
  return { feed: createNotificationFeed({ db: pool, log: options.log }), close: () => pool.close() };
}

/**
 * The auth state store: Redis when configured (with one warning per outage and `onRedisUp`
 * following the connection), else process memory, refused in production.
 */
export function openStateStore(
  redis: RedisConfig,
  deps: {
    readonly production: boolean;
    readonly log: Logger;
    readonly clock: Clock;
    readonly onRedisUp: (up: boolean) => void;
  },
): { state: AuthStateStore; client: RedisClient | null } {
  const { log } = deps;
  if (redis.url || redis.sentinels || redis.clusterNodes) {
    const client = createRedisClient(redis);
    // One warning per outage, not one per reconnect attempt; the gauge follows the connection.
    let down = false;
    const lost = (reason: string) => {
      if (down) return;
      down = true;
      deps.onRedisUp(false);
      log.warn({ err: reason }, 'redis unavailable: logins answer 503, revocation checks fail open; reconnecting');
    };
    client.on('error', (err: Error) => {
      if (client.status === 'ready') log.warn({ err: err.message }, 'redis error');
      else lost(err.message);
    });
    // A server that goes away cleanly (EOF, failover) emits no error, only a reconnect.
    client.on('reconnecting', () => lost('connection closed'));
    client.on('ready', () => {
      deps.onRedisUp(true);
      if (down) log.info('redis reconnected');
      down = false;
    });
    return { state: createRedisStateStore(client, redis.keyPrefix), client };
  }
  if (deps.production) throw new Error('createApp: Redis is required in production');
  log.warn('no REDIS_URL: lockout, throttles and revocation are kept in process memory (single instance only)');
  return { state: createMemoryStateStore(deps.clock), client: null };
}
