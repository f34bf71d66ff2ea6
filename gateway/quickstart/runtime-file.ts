/**
 * The running quickstart's database URL, kept in `<dataDir>/database-url` while it runs, so the
 * admin CLI finds the embedded database without anyone copying a URL (docs/configuration.md).
 * The embedded Postgres listens on a new loopback port at each start: the file is written once it
 * listens and removed when the quickstart stops.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DATABASE_URL_FILE = 'database-url';

/** Writes the URL (mode 0600; written to a temporary file then renamed, so it is never half there). */
export function writeDatabaseUrl(dataDir: string, url: string): void {
  const file = join(dataDir, DATABASE_URL_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${url}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Removes the file; a missing file is fine. */
export function removeDatabaseUrl(dataDir: string): void {
  rmSync(join(dataDir, DATABASE_URL_FILE), { force: true });
}

/** The URL a running quickstart left in `dataDir`, or null when there is none. */
export function readDatabaseUrl(dataDir: string): string | null {
  try {
    const url = readFileSync(join(dataDir, DATABASE_URL_FILE), 'utf8').trim();
    return /^postgres(ql)?:\/\//.test(url) ? url : null;
  } catch {
    return null;
  }
}
