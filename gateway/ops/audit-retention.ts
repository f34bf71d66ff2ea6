/**
 * Audit retention (AUDIT_RETENTION_DAYS, docs/operations.md): every gateway instance runs this
 * timer, and whichever takes the Postgres advisory lock first prunes; the others find it taken and
 * skip that round. The lock is a session lock on one checked-out connection, held for the whole
 * run and released at its end (or with the connection, if the process dies mid-run).
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { DEFAULT_PRUNE_BATCH, pruneAuditEvents } from '../store/audit-history.js';
import type { Db } from '../store/pg.js';
import type { AuditPruneResult } from './metric-labels.js';

/** "g2dauditprune" folded to an int4: every instance must use the same key, nothing else may. */
export const AUDIT_PRUNE_LOCK_KEY = 0x67326170;

const DAY_MS = 86_400_000;

export interface AuditRetentionOptions {
  /** Events older than this many days go; 0 disables the job. */
  readonly retentionDays: number;
  /** First run after start: a few minutes (3–6 by default, jittered so replicas started together spread out). */
  readonly initialDelayMs?: number;
  /** Between runs (default 24 h). */
  readonly intervalMs?: number;
  readonly batchSize?: number;
}

export interface AuditRetentionDeps {
  readonly db: Pick<Db, 'connect'>;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Counts each run and the rows it deleted (g2d_gateway_audit_prune_runs_total, …_pruned_total). */
  readonly onRun?: (result: AuditPruneResult, deleted: number) => void;
}

export interface RunOutcome {
  readonly result: AuditPruneResult;
  readonly deleted: number;
}

export interface AuditRetention {
  /** Schedules the runs (unref'd timers: they never keep the process alive). No-op when disabled. */
  start(): void;
  /** One run now: prune if this instance gets the lock, else skip. Never throws. */
  runOnce(): Promise<RunOutcome>;
  /** Cancels the timers and waits for a run in progress to finish its current batch. */
  stop(): Promise<void>;
}

/** Creates the retention job; see the module comment for how instances share it. */
export function createAuditRetention(deps: AuditRetentionDeps, options: AuditRetentionOptions): AuditRetention {
  const clock = deps.clock ?? systemClock;
  const days = options.retentionDays;
  if (!Number.isInteger(days) || days < 0) throw new Error('audit retention: retentionDays must be a whole number ≥ 0');
  const intervalMs = options.intervalMs ?? DAY_MS;
  const initialDelayMs = options.initialDelayMs ?? 180_000 + Math.floor(Math.random() * 180_000);
  const batchSize = options.batchSize ?? DEFAULT_PRUNE_BATCH;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<RunOutcome> | null = null;
  let stopped = false;

  async function run(): Promise<RunOutcome> {
    const cutoff = new Date(clock.now() - days * DAY_MS);
    let client;
    try {
      client = await deps.db.connect();
    } catch (err) {
      deps.log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'audit retention: no database connection; next run in 24 h',
      );
      return { result: 'failed', deleted: 0 };
    }
    let broken = false;
    let deleted = 0;
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        AUDIT_PRUNE_LOCK_KEY,
      ]);
      if (!rows[0]?.locked) {
        deps.log.debug('audit retention: another instance is pruning; skipped');
        return { result: 'skipped', deleted: 0 };
      }
      try {
        const sql = { query: client.query.bind(client) } as Parameters<typeof pruneAuditEvents>[0];
        await pruneAuditEvents(sql, cutoff, {
          batchSize,
          onBatch: (n) => {
            deleted += n;
          },
          shouldStop: () => stopped,
        });
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [AUDIT_PRUNE_LOCK_KEY]).catch(() => (broken = true));
      }
      deps.log.info(
        { deleted, retentionDays: days, before: cutoff.toISOString() },
        'audit retention: pruned old audit events',
      );
      return { result: 'pruned', deleted };
    } catch (err) {
      broken = true;
      deps.log.error(
        { err: err instanceof Error ? err.message : String(err), deleted },
        'audit retention: prune failed; next run in 24 h',
      );
      return { result: 'failed', deleted };
    } finally {
      // A broken connection is discarded: Postgres drops its session locks with it.
      client.release(broken);
    }
  }

  function runOnce(): Promise<RunOutcome> {
    running ??= run()
      .then((outcome) => {
        deps.onRun?.(outcome.result, outcome.deleted);
        return outcome;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  function schedule(delay: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      void runOnce().then(() => schedule(intervalMs));
    }, delay);
    timer.unref();
  }

  return {
    start() {
      if (days === 0 || timer || stopped) return;
      schedule(initialDelayMs);
    },
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
