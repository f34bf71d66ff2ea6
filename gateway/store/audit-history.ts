/**
 * Reading and pruning the audit trail (`auth_events`) after the fact: the `audit export` and
 * `audit prune` commands and the retention job (ops/audit-retention.ts). Writing stays in audit.ts.
 */
import type { Db } from './pg.js';

/** One exported event: the row as stored, timestamps as ISO-8601 UTC with milliseconds. */
export interface AuditExportLine {
  readonly id: number;
  readonly occurred_at: string;
  readonly event: string;
  readonly tenant_id: string | null;
  readonly user_id: string | null;
  readonly node_id: string | null;
  readonly ip: string | null;
  readonly user_agent: string | null;
  readonly request_id: string | null;
  readonly detail: unknown;
}

interface EventRow {
  id: string;
  occurred_at: Date;
  event: string;
  tenant_id: string | null;
  user_id: string | null;
  node_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  detail: unknown;
}

export interface ExportFilter {
  /** Inclusive lower bound on occurred_at. */
  readonly since: Date;
  /** Exclusive upper bound; none = up to the export's snapshot. */
  readonly until?: Date;
  readonly tenantId?: string;
  /** Rows fetched from the cursor at a time (default 500). */
  readonly batchSize?: number;
}

/** Something that runs SQL: the Db pool, or one checked-out connection. */
export type Sql = Pick<Db, 'query'>;

export const DEFAULT_PRUNE_BATCH = 1000;

/**
 * Streams the events of a time range, oldest first, through a server-side cursor (`DECLARE …
 * CURSOR` in one read-only REPEATABLE READ transaction): memory holds one batch whatever the
 * range, and the export is one consistent snapshot even while new events arrive. Stopping the
 * iteration early closes the cursor and returns the connection.
 */
export async function* exportAuditEvents(
  db: Pick<Db, 'connect'>,
  filter: ExportFilter,
): AsyncGenerator<AuditExportLine> {
  const where = ['occurred_at >= $1'];
  const params: unknown[] = [filter.since];
  if (filter.until) {
    params.push(filter.until);
    where.push(`occurred_at < $${params.length}`);
  }
  if (filter.tenantId) {
    params.push(filter.tenantId);
    where.push(`tenant_id = $${params.length}`);
  }
  const batch = Math.max(1, Math.min(10_000, Math.floor(filter.batchSize ?? 500)));
  const client = await db.connect();
  let broken = false;
  let open = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    open = true;
    await client.query(
      `DECLARE audit_export NO SCROLL CURSOR FOR
         SELECT id, occurred_at, event, tenant_id, user_id, node_id, ip, user_agent, request_id, detail
           FROM auth_events WHERE ${where.join(' AND ')} ORDER BY occurred_at, id`,
      params,
    );
    for (;;) {
      const { rows } = await client.query<EventRow>(`FETCH ${batch} FROM audit_export`);
      for (const r of rows) yield toLine(r);
      if (rows.length < batch) break;
    }
    await client.query('COMMIT');
    open = false;
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    // An early return (the consumer stopped) lands here with the transaction still open.
    if (open && !broken) await client.query('ROLLBACK').catch(() => (broken = true));
    client.release(broken);
  }
}

function toLine(r: EventRow): AuditExportLine {
  return {
    id: Number(r.id),
    occurred_at: r.occurred_at.toISOString(),
    event: r.event,
    tenant_id: r.tenant_id,
    user_id: r.user_id,
    node_id: r.node_id,
    ip: r.ip,
    user_agent: r.user_agent,
    request_id: r.request_id,
    detail: r.detail,
  };
}

/**
 * Deletes events that occurred before `cutoff`, oldest first, `batchSize` rows per statement so no
 * single DELETE holds many row locks or a long transaction. Returns how many rows went.
 */
export async function pruneAuditEvents(
  sql: Sql,
  cutoff: Date,
  options: { batchSize?: number; onBatch?: (deleted: number) => void; shouldStop?: () => boolean } = {},
): Promise<number> {
  const batch = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_PRUNE_BATCH));
  let total = 0;
  for (;;) {
    const { rowCount } = await sql.query(
      `DELETE FROM auth_events WHERE id IN (
         SELECT id FROM auth_events WHERE occurred_at < $1 ORDER BY occurred_at LIMIT $2)`,
      [cutoff, batch],
    );
    const n = rowCount ?? 0;
    total += n;
    if (n > 0) options.onBatch?.(n);
    if (n < batch || options.shouldStop?.()) return total;
  }
}
