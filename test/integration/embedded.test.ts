/**
 * The quickstart's embedded Postgres (README.md): PGlite behind the wire-protocol front, reached
 * through the production `createPg` pool, running the production migrations.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../gateway/store/embedded.js';
import { createPgListener } from '../../gateway/store/listener.js';
import { migrate, readMigrations } from '../../gateway/store/migrate.js';
import { createPg, type Db } from '../../gateway/store/pg.js';

const waitFor = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('embedded Postgres (PGlite)', () => {
  let dir: string;
  let embedded: EmbeddedPostgres;
  let db: Db;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'g2d-embedded-'));
    embedded = await startEmbeddedPostgres({ dataDir: dir });
    db = createPg({ url: embedded.url, poolSize: embedded.poolSize });
  });
  afterAll(async () => {
    await db?.close();
    await embedded?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only and applies every migration (triggers included); gen_random_uuid() works', async () => {
    expect(embedded.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    const result = await migrate(db);
    expect(result.applied).toEqual(readMigrations().map((m) => m.name));
    expect(result.applied).toContain('003_sessions');
    expect((await migrate(db)).applied).toEqual([]);
    const { rows } = await db.query<{ id: string }>(
      "INSERT INTO tenants (name, domain) VALUES ('T', 't.example') RETURNING id",
    );
    expect(rows[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps each connection’s Parse…Sync and transaction together under concurrency (no crossed results)', async () => {
    const wide = createPg({ url: embedded.url, poolSize: 4 });
    try {
      await wide.query('CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)');
      await wide.query('INSERT INTO counter VALUES (1, 0)');
      const outcomes = await Promise.all(
        Array.from({ length: 240 }, async (_, i) => {
          if (i % 3 === 0) {
            // Read-modify-write: a lost update would show as a short count.
            await wide.transaction(async (tx) => {
              const r = await tx.query<{ n: number }>('SELECT n FROM counter WHERE id = $1', [1]);
              await tx.query('UPDATE counter SET n = $2 WHERE id = $1', [1, (r.rows[0]?.n ?? 0) + 1]);
            });
            return true;
          }
          // Distinct statement text per query, so a hijacked unnamed statement shows.
          const r = await wide.query<Record<string, unknown>>(`SELECT $1::text AS v${i % 5}, $2::int AS i`, [
            `x${i}`,
            i,
          ]);
          return r.rows[0]?.[`v${i % 5}`] === `x${i}` && r.rows[0]?.i === i;
        }),
      );
      expect(outcomes.every(Boolean)).toBe(true);
      expect((await wide.query<{ n: number }>('SELECT n FROM counter WHERE id = 1')).rows[0]?.n).toBe(80);
    } finally {
      await wide.close();
    }
  });

  it('delivers NOTIFY to a LISTEN connection (node-key revocation), only on commit, while the pool keeps working', async () => {
    const payloads: string[] = [];
    const listener = createPgListener({
      db,
      log: pino({ level: 'silent' }),
      channel: 'g2d_test_channel',
      onNotification: (p) => payloads.push(p),
      onConnected: () => {},
      onDisconnected: () => {},
    });
    await listener.start();
    try {
      expect(listener.connected).toBe(true);
      // The listener holds one of the two pooled connections; queries still flow on the other.
      await db
        .transaction(async (tx) => {
          await tx.query('SELECT pg_notify($1, $2)', ['g2d_test_channel', 'rolled-back']);
          throw new Error('abort');
        })
        .catch(() => {});
      await db.transaction(async (tx) => {
        await tx.query('SELECT pg_notify($1, $2)', ['g2d_test_channel', 'node-1']);
      });
      await db.query("NOTIFY g2d_test_channel, 'node-2'");
      await waitFor(() => payloads.length >= 2);
      expect(payloads).toEqual(['node-1', 'node-2']);
    } finally {
      await listener.close();
    }
  });

  it('rolls back the transaction of a connection that dies inside it, and the others carry on', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS scratch (v text)');
    const client = new pg.Client({ connectionString: embedded.url });
    client.on('error', () => {});
    await client.connect();
    await client.query('BEGIN');
    await client.query("INSERT INTO scratch VALUES ('uncommitted')");
    // A query from the pool waits for that transaction (one session) ...
    const waiting = db.query<{ n: string }>('SELECT count(*)::text AS n FROM scratch');
    // ... until the connection vanishes without COMMIT.
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect((await waiting).rows[0]?.n).toBe('0');
  });

  it('refuses a second process on the same data directory', async () => {
    await expect(startEmbeddedPostgres({ dataDir: dir })).rejects.toThrow(/in use by process/);
  });

  it('persists across a restart', async () => {
    await db.close();
    await embedded.close();
    embedded = await startEmbeddedPostgres({ dataDir: dir });
    db = createPg({ url: embedded.url, poolSize: embedded.poolSize });
    expect((await migrate(db)).applied).toEqual([]);
    const { rows } = await db.query<{ domain: string }>('SELECT domain FROM tenants');
    expect(rows.map((r) => r.domain)).toEqual(['t.example']);
  });
});
