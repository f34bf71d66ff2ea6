import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  createMemoryRevocationBus,
  decodeEvent,
  encodeEvent,
  type BusHandlers,
  type RevocationBus,
} from './revocation-bus.js';
import type { RedisConfig } from '../config/types.js';
import { createRedisClient, type RedisClient } from './redis.js';
import { createEchoProbe } from '../util/echo-probe.js';

export interface RedisBusOptions {
  /** How often a probe proves delivery on the live subscription. */
  readonly healthCheckMs?: number;
  /** How long a probe may take before the subscription is declared deaf. */
  readonly probeTimeoutMs?: number;
}

/** The subscriber connection's CLIENT SETNAME (the process id tells instances apart in CLIENT LIST). */
export function subscriberName(pid = process.pid): string {
  return `g2d-revocation-sub-${pid}`;
}

const PROBE = 'probe:';

/**
 * How the revocation push opens its bus: Redis pub/sub on `client`, or without Redis (the
 * single-instance quickstart) the in-process bus.
 */
export function revocationBusOpener(
  client: RedisClient | null,
  deps: { readonly redis: RedisConfig; readonly log: Logger },
): (handlers: BusHandlers) => RevocationBus {
  return (handlers) =>
    client
      ? createRedisRevocationBus({ publisher: client, redis: deps.redis, log: deps.log, handlers })
      : createMemoryRevocationBus();
}

/**
 * Revocation push over Redis pub/sub. Publishes on the shared client; receives on a dedicated
 * subscriber connection (a subscribed connection can run no other command) on channel
 * `<REDIS_KEY_PREFIX>revocations`. The subscription is trusted only once a probe it published to
 * itself came back, and again every `healthCheckMs`; a lost connection or a missing echo reports
 * down (callers shorten their caches), and the client reconnects and resubscribes by itself, after
 * which onConnected tells the owner to forget everything it cached (events may have been missed).
 */
export function createRedisRevocationBus(
  deps: { publisher: RedisClient; redis: RedisConfig; log: Logger; handlers: BusHandlers },
  options: RedisBusOptions = {},
): RevocationBus {
  const { publisher, log, handlers } = deps;
  const channel = `${deps.redis.keyPrefix}revocations`;
  const origin = randomBytes(8).toString('hex');
  const healthEvery = options.healthCheckMs ?? 2_000;
  const probeTimeout = options.probeTimeoutMs ?? 2_000;
  let subscriber: RedisClient | null = null;
  let up = false;
  let closed = false;
  let seq = 0;
  let health: NodeJS.Timeout | undefined;
  const echoes = createEchoProbe();

  const down = (reason: string) => {
    if (!up) return;
    up = false;
    log.warn({ channel, reason }, 'revocation push: channel down; caches fall back to short lifetimes');
    handlers.onDisconnected(reason);
  };

  function probe(): Promise<boolean> {
    const payload = `${PROBE}${origin}:${++seq}`;
    return echoes.probe(payload, () => publisher.publish(channel, payload), probeTimeout);
  }

  async function confirm(): Promise<void> {
    if (closed || up) return;
    if (await probe()) {
      if (closed || up) return;
      up = true;
      log.info({ channel }, 'revocation push: subscribed');
      handlers.onConnected();
    }
  }

  function onMessage(ch: string, message: string): void {
    if (ch !== channel) return;
    if (message.startsWith(PROBE)) {
      echoes.echoed(message);
      return;
    }
    const decoded = decodeEvent(message);
    if (!decoded) {
      log.debug({ channel }, 'revocation push: ignored a malformed message');
      return;
    }
    if (decoded.origin === origin) return; // applied locally before it was published
    handlers.onEvent(decoded.event);
  }

  return {
    async publish(event) {
      try {
        await publisher.publish(channel, encodeEvent(event, origin));
      } catch (err) {
        log.warn(
          { channel, kind: event.kind, err: err instanceof Error ? err.message : String(err) },
          'revocation push: publish failed; other instances re-check within 5 s',
        );
      }
    },
    connected: () => up,
    async start() {
      const sub = createRedisClient(deps.redis, {
        connectionName: subscriberName(),
        // A subscriber must keep its subscription across reconnects and never give up on a command.
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
        commandTimeout: undefined,
        autoResubscribe: true,
      });
      subscriber = sub;
      sub.on('message', onMessage);
      sub.on('error', (err: Error) => down(err.message));
      sub.on('close', () => down('connection closed'));
      sub.on('end', () => down('connection ended'));
      // After a reconnect ioredis resubscribes by itself; the probe then proves it worked.
      sub.on('ready', () => {
        setTimeout(() => void confirm(), 20).unref();
      });
      // Never waits for Redis: a gateway starts (and serves token traffic) while Redis is down, the
      // subscription then comes up with the connection, and until it does caches keep their short
      // lifetimes (docs/operations.md, faults).
      void sub
        .subscribe(channel)
        .then(() => confirm())
        .catch((err: unknown) => {
          log.warn(
            { channel, err: err instanceof Error ? err.message : String(err) },
            'revocation push: subscribe failed; retrying in the background',
          );
        });
      health = setInterval(() => {
        if (closed) return;
        void probe().then((ok) => {
          if (ok) void confirm();
          else if (up) {
            down('delivery probe failed');
            // A deaf connection (no FIN): drop it so the client reconnects and resubscribes.
            sub.disconnect(true);
          }
        });
      }, healthEvery);
      health.unref();
    },
    async close() {
      closed = true;
      clearInterval(health);
      up = false;
      if (subscriber) {
        subscriber.removeAllListeners('message');
        subscriber.disconnect();
      }
    },
  };
}
