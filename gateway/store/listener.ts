import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from './pg.js';
import { createEchoProbe } from '../util/echo-probe.js';

export interface PgListenerDeps {
  /** Where the dedicated connection comes from (best a pool of its own: it is held for good). */
  readonly db: Pick<Db, 'connect'>;
  readonly log: Logger;
  /** A plain identifier: it is interpolated into `LISTEN <channel>` (LISTEN takes no parameters). */
  readonly channel: string;
  onNotification(payload: string): void;
  /** Notifications are proven to arrive: from now on every one is delivered. */
  onConnected(): void;
  /** Notifications may be missed until the next onConnected. */
  onDisconnected(reason: string): void;
}

export interface PgListenerOptions {
  /** First reconnect delay; doubles up to maxBackoffMs (with jitter). */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How often the delivery probe runs on a live connection. */
  readonly healthCheckMs?: number;
  /** How long a probe may take before the connection is declared deaf. */
  readonly healthTimeoutMs?: number;
}

export interface PgListener {
  /** Tries to LISTEN once; on failure keeps retrying in the background. Never throws. */
  start(): Promise<void>;
  /** True while the connection is up and its last delivery probe came back. */
  readonly connected: boolean;
  close(): Promise<void>;
}

const CHANNEL_RE = /^[a-z_][a-z0-9_]{0,62}$/;
/** Probe payloads start with this; they are never handed to the owner. */
const PROBE_PREFIX = 'probe:';

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`pg listener: ${name} must be a positive number`);
  return value;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A dedicated Postgres connection that LISTENs on one channel (docs/scale-out.md: node revocations
 * reach every instance). It is trusted only while a probe proves delivery end to end: it
 * NOTIFYs itself and waits for the echo. That catches what a `SELECT 1` would not: a connection
 * that died without a FIN (partition, NAT timeout; TCP keep-alive takes hours), a PgBouncer in
 * transaction mode (LISTEN accepted, notifications lost) and embedded Postgres (PGlite's socket
 * server never delivers them). After any failure it reconnects with exponential backoff, and it
 * tells its owner when it is up or down, so the owner can stop trusting what it would be told.
 */
export function createPgListener(deps: PgListenerDeps, options: PgListenerOptions = {}): PgListener {
  if (!CHANNEL_RE.test(deps.channel)) throw new Error(`pg listener: invalid channel name ${deps.channel}`);
  const minBackoff = positive('minBackoffMs', options.minBackoffMs ?? 100);
  const maxBackoff = positive('maxBackoffMs', options.maxBackoffMs ?? 5_000);
  const healthEvery = positive('healthCheckMs', options.healthCheckMs ?? 2_000);
  const healthTimeout = positive('healthTimeoutMs', options.healthTimeoutMs ?? 2_000);
  const { db, log, channel } = deps;
  const instance = randomBytes(6).toString('hex');

  let current: pg.PoolClient | null = null;
  let closed = false;
  let attempt = 0;
  let probeSeq = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  // Tear-down of the live connection; set while one exists.
  let dropCurrent: ((reason: string) => void) | null = null;
  const echoes = createEchoProbe();

  function scheduleReconnect(): void {
    if (closed || retryTimer) return;
    const base = Math.min(maxBackoff, minBackoff * 2 ** attempt);
    attempt++;
    // Jitter (50–100 %) so a fleet that lost Postgres together does not reconnect in lockstep.
    const delay = Math.round(base * (0.5 + Math.random() / 2));
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delay);
    retryTimer.unref();
  }

  // The first failure in a row is a warning; repeats (Postgres down for a while) are debug noise.
  function failed(what: string, reason: string): void {
    if (attempt <= 1) log.warn({ channel, reason, attempt }, `pg listener: ${what}; retrying`);
    else log.debug({ channel, reason, attempt }, `pg listener: ${what}; retrying`);
  }

  /** NOTIFYs itself on `client` and resolves true when the echo arrives within the timeout. */
  function probe(client: pg.PoolClient): Promise<boolean> {
    const payload = `${PROBE_PREFIX}${instance}:${++probeSeq}`;
    return echoes.probe(payload, () => client.query('SELECT pg_notify($1, $2)', [channel, payload]), healthTimeout);
  }

  async function connect(): Promise<void> {
    if (closed || current) return;
    let client: pg.PoolClient;
    try {
      client = await db.connect();
    } catch (err) {
      failed('connect failed', message(err));
      scheduleReconnect();
      return;
    }
    if (closed) {
      client.release(true);
      return;
    }
    let dead = false;
    const health: { timer?: NodeJS.Timeout } = {};
    const drop = (reason: string) => {
      if (dead) return;
      dead = true;
      clearInterval(health.timer);
      const wasCurrent = current === client;
      if (wasCurrent) {
        current = null;
        dropCurrent = null;
      }
      client.removeAllListeners('notification');
      // Destroy rather than return it to the pool: a pooled connection still LISTENing would
      // hand its notifications to nobody, and a broken one must not be reused.
      try {
        client.release(true);
      } catch {
        // already released
      }
      if (closed) return;
      if (wasCurrent) {
        log.warn({ channel, reason }, 'pg listener: connection lost; reconnecting');
        deps.onDisconnected(reason);
      } else {
        failed('not listening', reason);
      }
      scheduleReconnect();
    };
    client.on('error', (err: Error) => drop(`error: ${err.message}`));
    client.on('end', () => drop('connection ended'));
    client.on('notification', (msg: pg.Notification) => {
      if (msg.channel !== channel) return;
      const payload = msg.payload ?? '';
      if (payload.startsWith(PROBE_PREFIX)) echoes.echoed(payload);
      else deps.onNotification(payload);
    });
    try {
      await client.query(`LISTEN ${channel}`);
    } catch (err) {
      drop(`LISTEN failed: ${message(err)}`);
      return;
    }
    if (!(await probe(client))) {
      drop('notifications are not delivered on this connection');
      return;
    }
    if (closed || dead) {
      drop('closed');
      return;
    }
    current = client;
    dropCurrent = drop;
    attempt = 0;
    health.timer = setInterval(() => {
      void probe(client).then((ok) => {
        if (!ok) drop('delivery probe failed');
      });
    }, healthEvery);
    health.timer.unref();
    log.info({ channel }, 'pg listener: listening');
    deps.onConnected();
  }

  return {
    start: () => connect(),
    get connected() {
      return current !== null;
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      retryTimer = undefined;
      // No UNLISTEN round trip: closing the session ends its LISTEN, and a query on a connection
      // to an unreachable server could hold shutdown until the drain deadline.
      dropCurrent?.('closed');
    },
  };
}

/** What an owner of a LISTEN subscription is told (PgListenerDeps without the plumbing). */
export type ListenHandlers = Pick<PgListenerDeps, 'onNotification' | 'onConnected' | 'onDisconnected'>;

/** Postgres notifications by channel: the store's service for caches that must hear changes. */
export interface NotificationFeed {
  /** A listener on `channel` (not started): each subscription holds one connection of the feed's pool. */
  subscribe(channel: string, handlers: ListenHandlers, options?: PgListenerOptions): PgListener;
}

/**
 * A notification feed over `db`, best a small pool of its own: a LISTEN connection is held for
 * good and must never take a slot from request traffic.
 */
export function createNotificationFeed(deps: {
  readonly db: Pick<Db, 'connect'>;
  readonly log: Logger;
}): NotificationFeed {
  return {
    subscribe: (channel, handlers, options) =>
      createPgListener({ db: deps.db, log: deps.log, channel, ...handlers }, options),
  };
}
