import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './pg.js';

/** Where the ordered `NNN_name.sql` files live (copied next to the compiled code by `npm run build`). */
export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface Migration {
  readonly version: string;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrateResult {
  readonly applied: string[];
  readonly alreadyApplied: string[];
}

/** Reads the migration files in order; names must look like `001_core.sql`. */
export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), 'utf8');
      return {
        version: file.slice(0, 3),
        name: file.replace(/\.sql$/, ''),
        sql,
        checksum: checksumOf(sql),
      };
    });
}

/**
 * What a migration's checksum covers: its statements, not its comments. A comment can then be
 * reworded in a released file without every database that applied it refusing to start.
 */
export function checksumOf(sql: string): string {
  const code = sql
    .split('\n')
    .filter((line) => !/^\s*--/.test(line))
    .map((line) => line.trimEnd())
    .join('\n');
  return createHash('sha256').update(code).digest('hex');
}

/**
 * Checksums recorded before comments were left out of them (the whole file's SHA-256 as first
 * released). A database that holds one of these has the same statements applied; it is accepted
 * and its row moved to the current checksum.
 */
const RELEASED_CHECKSUMS: Readonly<Record<string, string>> = {
  '001': 'e599be295536410396c79000e39f688eeb7200955584be2fb2c0cf001796446f',
  '002': '52ff6585e5aced1fe4e042a86f1e5b20b3211e9012fa21bc79b8fe110f064057',
};

// Any constant works as long as every gateway uses the same one; this is "g2dmigr" as an int.
const MIGRATION_LOCK_KEY = 0x6732646d;

/**
 * Applies pending migrations, each in its own transaction, under a session advisory lock so two
 * processes running `cli migrate` at once serialise instead of racing. Idempotent: applied versions
 * are recorded in `schema_migrations`; an applied file whose checksum changed is an error.
 */
export async function migrate(db: Db, migrations: readonly Migration[] = readMigrations()): Promise<MigrateResult> {
  const client = await db.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: string; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations',
    );
    const done = new Map(rows.map((r) => [r.version, r.checksum]));
    const applied: string[] = [];
    const alreadyApplied: string[] = [];
    for (const m of migrations) {
      const sum = done.get(m.version);
      if (sum !== undefined) {
        if (sum !== m.checksum) {
          if (RELEASED_CHECKSUMS[m.version] !== sum)
            throw new Error(`migration ${m.name} was changed after it was applied (checksum mismatch)`);
          await client.query('UPDATE schema_migrations SET checksum = $2 WHERE version = $1', [m.version, m.checksum]);
        }
        alreadyApplied.push(m.name);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          m.checksum,
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(m.name);
    }
    return { applied, alreadyApplied };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    client.release();
  }
}
