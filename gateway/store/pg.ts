import pg from 'pg';
import { GatewayError, unavailable } from '../errors.js';

/** The narrow database surface every store uses; implemented by a pg Pool (real or PGlite-backed). */
export interface Db {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** Runs `fn` in one transaction on one connection; rolls back on throw. */
  transaction<T>(fn: (tx: Pick<Db, 'query'>) => Promise<T>): Promise<T>;
  /** A dedicated connection (LISTEN/NOTIFY, advisory locks); the caller releases it. */
  connect(): Promise<pg.PoolClient>;
  /** True when a trivial query answers within `timeoutMs`. */
  ping(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
  readonly pool: pg.Pool;
}

export interface PgOptions {
  url: string;
  poolSize: number;
  ssl?: boolean | { rejectUnauthorized: boolean };
  /** Fails a query that waits longer than this for a connection (fast 503 when Postgres is gone). */
  connectionTimeoutMillis?: number;
  statementTimeoutMillis?: number;
  applicationName?: string;
}

// Class 08 (connection exception), 53 (insufficient resources), 57P0x (shutdown) and node socket
// errors mean "Postgres is unavailable": 503. Anything else is a bug or a constraint and is rethrown.
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0)/;
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
]);

export function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) return true;
  return /timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error|Cannot use a pool after calling end/i.test(
    err.message,
  );
}

function mapError(err: unknown): unknown {
  if (err instanceof GatewayError) return err;
  return isUnavailableError(err) ? unavailable('postgres', err) : err;
}

/** Creates the pg pool adapter. Connection failures surface as 503 GatewayErrors. */
export function createPg(options: PgOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    ssl: options.ssl === false ? undefined : options.ssl,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 3000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMillis ?? 10_000,
    application_name: options.applicationName ?? 'get2dial-gateway',
    keepAlive: true,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});

  const db: Db = {
    pool,
    async query<R extends pg.QueryResultRow>(text: string, params?: readonly unknown[]) {
      try {
        return await pool.query<R>(text, params as unknown[] | undefined);
      } catch (err) {
        throw mapError(err);
      }
    },
    async transaction<T>(fn: (tx: Pick<Db, 'query'>) => Promise<T>): Promise<T> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw mapError(err);
      }
      let broken = false;
      try {
        await client.query('BEGIN');
        const tx: Pick<Db, 'query'> = {
          async query<R extends pg.QueryResultRow>(text: string, params?: readonly unknown[]) {
            return client.query<R>(text, params as unknown[] | undefined);
          },
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        broken = isUnavailableError(err);
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw mapError(err);
      } finally {
        client.release(broken);
      }
    },
    async connect() {
      try {
        return await pool.connect();
      } catch (err) {
        throw mapError(err);
      }
    },
    async ping(timeoutMs: number) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        });
        return await Promise.race([pool.query('SELECT 1').then(() => true), timeout]);
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await pool.end().catch(() => {});
    },
  };
  return db;
}
