/** The audit retention job (ops/audit-retention.ts) against real Postgres: one instance of many prunes. */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUDIT_PRUNE_LOCK_KEY, createAuditRetention, type AuditRetention } from '../../gateway/ops/audit-retention.js';
import { createLogger } from '../../gateway/ops/logger.js';
import { migrate } from '../../gateway/store/migrate.js';
import { createPg, type Db } from '../../gateway/store/pg.js';
import { createDatabase, dropDatabase } from '../helpers/services.js';

const DAY = 86_400_000;
const pools: Db[] = [];
// A database of its own: the job prunes every tenant's events, which must not reach other test
// files' rows (advisory locks are per database too, so the lock is private as well).
let url = '';
let admin: Db;
beforeAll(async () => {
  url = await createDatabase(inject('postgresAdminUrl'));
  admin = pool();
  await migrate(admin);
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await dropDatabase(inject('postgresAdminUrl'), url);
});

function pool(): Db {
  const db = createPg({ url, poolSize: 2 });
  pools.push(db);
  return db;
}

/** A gateway-like runner: its own pool (as a separate instance has), its own log lines and counts. */
function runner(options: { retentionDays?: number; initialDelayMs?: number; batchSize?: number } = {}) {
  const lines: Record<string, unknown>[] = [];
  const runs: [string, number][] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const db = pool();
  const job: AuditRetention = createAuditRetention(
    {
      db,
      log: createLogger({ level: 'debug', format: 'json', destination }),
      onRun: (result, deleted) => runs.push([result, deleted]),
    },
    {
      retentionDays: options.retentionDays ?? 1,
      initialDelayMs: options.initialDelayMs ?? 60_000,
      intervalMs: DAY,
      batchSize: options.batchSize ?? 200,
    },
  );
  return { db, job, lines, runs };
}

async function insert(tenantId: string, count: number, ageMs: number): Promise<void> {
  await admin.query(
    `INSERT INTO auth_events (occurred_at, event, tenant_id) SELECT now() - $3 * interval '1 millisecond', 'login_failure', $1 FROM generate_series(1, $2)`,
    [tenantId, count, ageMs],
  );
}

async function countFor(tenantId: string): Promise<number> {
  const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM auth_events WHERE tenant_id = $1', [
    tenantId,
  ]);
  return Number(rows[0]?.n);
}

describe('audit retention', () => {
  it('two racing instances: one takes the lock and prunes in batches, the other skips', async () => {
    const t = randomUUID();
    await insert(t, 6000, 3 * DAY);
    await insert(t, 5, 3_600_000);
    const a = runner();
    const b = runner();
    // Warm both pools so neither wins the race just by connecting first.
    await Promise.all([a.db.query('SELECT 1'), b.db.query('SELECT 1')]);
    const outcomes = await Promise.all([a.job.runOnce(), b.job.runOnce()]);
    expect(outcomes.map((o) => o.result).sort()).toEqual(['pruned', 'skipped']);
    const pruned = outcomes.find((o) => o.result === 'pruned');
    expect(pruned?.deleted).toBeGreaterThanOrEqual(6000);
    expect(outcomes.find((o) => o.result === 'skipped')?.deleted).toBe(0);
    expect(await countFor(t)).toBe(5);
    expect([...a.runs, ...b.runs].map(([r]) => r).sort()).toEqual(['pruned', 'skipped']);
    const winner = a.runs[0]?.[0] === 'pruned' ? a : b;
    expect(winner.lines.find((l) => l.msg === 'audit retention: pruned old audit events')).toMatchObject({
      level: 'info',
      deleted: pruned?.deleted,
      retentionDays: 1,
    });
    // The lock is released after the run: the next round is free to prune (nothing left to delete).
    expect(await b.job.runOnce()).toEqual({ result: 'pruned', deleted: 0 });
  });

  it('skips while another session holds the lock, and prunes once it is released', async () => {
    const t = randomUUID();
    await insert(t, 50, 2 * DAY);
    const holder = await admin.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [AUDIT_PRUNE_LOCK_KEY]);
      const r = runner();
      expect(await r.job.runOnce()).toEqual({ result: 'skipped', deleted: 0 });
      expect(await countFor(t)).toBe(50);
      await holder.query('SELECT pg_advisory_unlock($1)', [AUDIT_PRUNE_LOCK_KEY]);
      expect((await r.job.runOnce()).result).toBe('pruned');
      expect(await countFor(t)).toBe(0);
    } finally {
      holder.release();
    }
  });

  it('runs on its own after the initial delay; stop() cancels; 0 days never runs', async () => {
    const t = randomUUID();
    await insert(t, 10, 5 * DAY);
    const r = runner({ retentionDays: 4, initialDelayMs: 50 });
    r.job.start();
    const deadline = Date.now() + 10_000;
    while (r.runs.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
    await r.job.stop();
    expect(r.runs[0]?.[0]).toBe('pruned');
    expect(await countFor(t)).toBe(0);

    const keep = runner({ retentionDays: 0, initialDelayMs: 10 });
    const u = randomUUID();
    await insert(u, 3, 3000 * DAY);
    keep.job.start();
    await new Promise((res) => setTimeout(res, 200));
    await keep.job.stop();
    expect(keep.runs).toEqual([]);
    expect(await countFor(u)).toBe(3);
  });
});
