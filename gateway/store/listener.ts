import type pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from './pg.js';

export interface PgListenerDeps {
  readonly db: Pick<Db, 'connect'>;
  readonly log: Logger;
  /** A plain identifier: it is interpolated into `LISTEN <channel>` (LISTEN takes no parameters). */
  readonly channel: string;
  onNotification(payload: string): void;
  /** The LISTEN is in place: notifications from now on are delivered. */
  onConnected(): void;
  /** The connection is gone: notifications may be missed until onConnected. */
  onDisconnected(reason: string): void;
}

export interface PgListenerOptions {
  /** First reconnect delay; doubles up to maxBackoffMs (with jitter). */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /**
   * A `SELECT 1` on the listening connection this often: a connection that died without a FIN
   * (network partition, NAT timeout) delivers no notifications and no error either, and TCP
   * keep-alive takes hours to notice. The probe bounds that blind spot.
   */
  readonly healthCheckMs?: number;
  readonly healthTimeoutMs?: number;
}

export interface PgListener {
  /** Tries to LISTEN once; on failure keeps retrying in the background. Never throws. */
  start(): Promise<void>;
  /** True while the LISTEN connection is up and healthy. */
  readonly connected: boolean;
  close(): Promise<void>;
}

const CHANNEL_RE = /^[a-z_][a-z0-9_]{0,62}$/;

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`pg listener: ${name} must be a positive number`);
  return value;
}

/**
 * A dedicated Postgres connection that LISTENs on one channel (SPEC §6, §11: node revocations
 * reach every instance). It reconnects with exponential backoff after any drop and tells its
 * owner when it is up or down, so the owner can stop trusting what it would have been told.
 */
export function createPgListener(deps: PgListenerDeps, options: PgListenerOptions = {}): PgListener {
  if (!CHANNEL_RE.test(deps.channel)) throw new Error(`pg listener: invalid channel name ${deps.channel}`);
  const minBackoff = positive('minBackoffMs', options.minBackoffMs ?? 100);
  const maxBackoff = positive('maxBackoffMs', options.maxBackoffMs ?? 5_000);
  const healthEvery = positive('healthCheckMs', options.healthCheckMs ?? 2_000);
  const healthTimeout = positive('healthTimeoutMs', options.healthTimeoutMs ?? 2_000);
  const { db, log, channel } = deps;

  let current: pg.PoolClient | null = null;
  let closed = false;
  let attempt = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let healthTimer: NodeJS.Timeout | undefined;
  // Tear-down of the live connection; set while one exists.
  let dropCurrent: ((reason: string) => void) | null = null;

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

  async function connect(): Promise<void> {
    if (closed || current) return;
    let client: pg.PoolClient;
    try {
      client = await db.connect();
    } catch (err) {
      log.warn({ channel, err: err instanceof Error ? err.message : String(err), attempt }, 'pg listener: connect failed');
      scheduleReconnect();
      return;
    }
    if (closed) {
      client.release(true);
      return;
    }
    let dead = false;
    const drop = (reason: string) => {
      if (dead) return;
      dead = true;
      clearInterval(healthTimer);
      healthTimer = undefined;
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
      if (wasCurrent && !closed) {
        log.warn({ channel, reason }, 'pg listener: connection lost; reconnecting');
        deps.onDisconnected(reason);
      }
      scheduleReconnect();
    };
    client.on('error', (err: Error) => drop(`error: ${err.message}`));
    client.on('end', () => drop('connection ended'));
    client.on('notification', (msg: pg.Notification) => {
      if (msg.channel === channel) deps.onNotification(msg.payload ?? '');
    });
    try {
      await client.query(`LISTEN ${channel}`);
    } catch (err) {
      log.warn({ channel, err: err instanceof Error ? err.message : String(err) }, 'pg listener: LISTEN failed');
      drop('listen failed');
      return;
    }
    if (closed || dead) {
      drop('closed');
      return;
    }
    current = client;
    dropCurrent = drop;
    attempt = 0;
    healthTimer = setInterval(() => void probe(client, drop), healthEvery);
    healthTimer.unref();
    log.info({ channel }, 'pg listener: listening');
    deps.onConnected();
  }

  async function probe(client: pg.PoolClient, drop: (reason: string) => void): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), healthTimeout);
    });
    try {
      const result = await Promise.race([client.query('SELECT 1').then(() => 'ok' as const), timeout]);
      if (result === 'timeout') drop('health check timed out');
    } catch (err) {
      drop(`health check failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      clearTimeout(timer);
    }
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
      const client = current;
      const drop = dropCurrent;
      if (client && drop) {
        await client.query(`UNLISTEN ${channel}`).catch(() => {});
        drop('closed');
      }
    },
  };
}
