/**
 * Embedded Postgres for the quickstart (`npm start`): PGlite (Postgres compiled to WASM, in process),
 * persisted under `<dataDir>/pgdata`, served over the Postgres wire protocol on 127.0.0.1 by
 * pglite-server.ts. The gateway then talks to it through the same `createPg` pool, the same
 * migrations and the same SQL as production; nothing else in the code knows it is embedded.
 *
 * With pglite-server.ts, the only importer of `@electric-sql/pglite`, and only by a dynamic import
 * when the embedded database starts: PGlite is an optional dependency that a production install
 * (`npm ci --omit=dev --omit=optional`) leaves out. Never used in production. PGlite is one backend session: connections take turns per exchange/transaction
 * (see pglite-server.ts), so a small pool is plenty; LISTEN/NOTIFY works across connections.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { startPgliteServer, type PgliteServer } from './pglite-server.js';

export interface EmbeddedPostgresOptions {
  /** Directory for the database files (`pgdata/`) and the lock file; created if missing. */
  readonly dataDir: string;
}

export interface EmbeddedPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`: hand it to `createPg`. */
  readonly url: string;
  /**
   * The pool size to use against it: PGlite runs one exchange at a time, so more connections only
   * queue; two lets the node-key LISTEN connection hold one while queries use the other.
   */
  readonly poolSize: number;
  /** Stops the socket server, then closes PGlite (a clean checkpoint), then drops the lock. */
  close(): Promise<void>;
}

/**
 * Starts PGlite at `<dataDir>/pgdata` and a wire-protocol server on 127.0.0.1 and a free port.
 * A lock file (`<dataDir>/pgdata.lock`, the owner's pid) stops a second process from opening the
 * same files, which PGlite does not guard against and which would corrupt them.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const pgdata = join(options.dataDir, 'pgdata');
  const releaseLock = acquireLock(join(options.dataDir, 'pgdata.lock'));

  let db: PGlite | undefined;
  let server: PgliteServer;
  try {
    const { PGlite } = await loadPglite();
    db = await PGlite.create(pgdata);
    server = await startPgliteServer(db, { host: '127.0.0.1', port: 0 });
  } catch (err) {
    await db?.close().catch(() => {});
    releaseLock();
    throw new Error(`embedded Postgres (PGlite at ${pgdata}) failed to start: ${(err as Error).message}`, {
      cause: err,
    });
  }

  const started = { db, server };
  let closing: Promise<void> | undefined;
  return {
    // PGlite ignores the user and database names; these are its defaults.
    url: `postgres://postgres@${server.address}/postgres`,
    poolSize: 2,
    close() {
      closing ??= (async () => {
        await started.server.close().catch(() => {});
        await started.db.close().catch(() => {});
        releaseLock();
      })();
      return closing;
    },
  };
}

/** The optional package, loaded only here; missing means a lean production install, said plainly. */
async function loadPglite(): Promise<{ PGlite: typeof PGlite }> {
  try {
    return await import('@electric-sql/pglite');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new Error(
      'the optional package @electric-sql/pglite is not installed (npm ci --omit=optional leaves it out): set DATABASE_URL, or install it',
      { cause: err },
    );
  }
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
        throw new Error(
          `the embedded database in ${path.replace(/\.lock$/, '')} is in use by process ${owner}; stop it first (one quickstart per data directory)`,
        );
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
