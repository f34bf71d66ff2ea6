/**
 * Embedded Postgres for the quickstart (SPEC §1): PGlite (Postgres compiled to WASM, in process),
 * persisted under `<dataDir>/pgdata`, served over the Postgres wire protocol on 127.0.0.1 by
 * pglite-socket. The gateway then talks to it through the same `createPg` pool, the same
 * migrations and the same SQL as production; nothing else in the code knows it is embedded.
 *
 * This is the only importer of `@electric-sql/pglite*` (STYLE habit 8). Never used in production.
 *
 * Limits worth knowing (measured, see the quickstart report):
 * - PGlite is one backend session. The socket server multiplexes connections by queueing protocol
 *   messages and keeps a transaction on the connection that opened it; the gateway's pool uses one
 *   connection so nothing depends on that multiplexing.
 * - LISTEN is accepted but NOTIFY is never delivered to socket clients (the notification goes into
 *   the raw protocol stream of whichever query ran, and PGlite's JS listeners do not see it), so
 *   node-key revocation relies on the cache expiry there. One process only: there is one gateway.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgresOptions {
  /** Directory for the database files (`pgdata/`) and the lock file; created if missing. */
  readonly dataDir: string;
  /** Connections the socket server accepts at once (the pool's one, plus a LISTEN or a CLI). */
  readonly maxConnections?: number;
}

export interface EmbeddedPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`: hand it to `createPg`. */
  readonly url: string;
  /** The pool size to use against it: PGlite runs one statement at a time. */
  readonly poolSize: number;
  /** Stops the socket server, then closes PGlite (a clean checkpoint), then drops the lock. */
  close(): Promise<void>;
}

/**
 * Starts PGlite at `<dataDir>/pgdata` and a pglite-socket server on 127.0.0.1 and a free port.
 * A lock file (`<dataDir>/pgdata.lock`, the owner's pid) stops a second process from opening the
 * same files, which PGlite does not guard against and which would corrupt them.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const maxConnections = options.maxConnections ?? 4;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new RangeError('maxConnections must be a positive integer');
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const pgdata = join(options.dataDir, 'pgdata');
  const releaseLock = acquireLock(join(options.dataDir, 'pgdata.lock'));

  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    db = await PGlite.create(pgdata);
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections });
    await server.start();
  } catch (err) {
    await server?.stop().catch(() => {});
    await db?.close().catch(() => {});
    releaseLock();
    throw new Error(`embedded Postgres (PGlite at ${pgdata}) failed to start: ${(err as Error).message}`, { cause: err });
  }

  const started = { db, server };
  let closing: Promise<void> | undefined;
  return {
    // getServerConn() is "host:port" once listening; PGlite ignores the user and database names.
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    poolSize: 1,
    close() {
      closing ??= (async () => {
        await started.server.stop().catch(() => {});
        await started.db.close().catch(() => {});
        releaseLock();
      })();
      return closing;
    },
  };
}

/** Creates `path` exclusively with our pid; a lock left by a dead process is taken over. */
function acquireLock(path: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && (owner === process.pid || isAlive(owner))) {
        throw new Error(`the embedded database in ${path.replace(/\.lock$/, '')} is in use by process ${owner}; stop it first (one quickstart per data directory)`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`cannot take the lock ${path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else; still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
