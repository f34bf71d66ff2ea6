import { createTenantStore, UUID_RE } from '../store/tenants.js';
import { DEFAULT_PRUNE_BATCH, exportAuditEvents, pruneAuditEvents } from '../store/audit-history.js';
import { CliError, need, optional } from './args.js';
import type { CommandTable } from './context.js';
import { parseTimeArg } from './time.js';

const DAY_MS = 86_400_000;
const TIME_HELP = 'ISO-8601 (2026-01-31, 2026-01-31T12:00:00Z) or a span back from now (30m, 24h, 7d, 2w)';

/** The audit trail in `auth_events` (docs/operations.md): export as JSON lines, prune by age. */
export const auditCommands: CommandTable = {
  'audit export': {
    usage: 'audit export --since T [--until T] [--tenant D]',
    summary:
      'Streams the audit events with since <= occurred_at < until, oldest first, one JSON object per line ' +
      '(the auth_events row, timestamps ISO-8601 UTC). Memory stays flat however many rows match.',
    options: {
      since: { type: 'string', description: `start (inclusive): ${TIME_HELP}` },
      until: { type: 'string', description: 'end (exclusive), same forms; default: now' },
      tenant: {
        type: 'string',
        description: 'only this tenant: its domain, or its id (UUID) for a tenant since deleted',
      },
    },
    output: 'jsonl',
    async run(args, ctx) {
      const now = Date.now();
      const since = parseTimeArg(need(args, 'since'), 'since', now);
      const untilText = optional(args, 'until');
      const until = untilText === undefined ? undefined : parseTimeArg(untilText, 'until', now);
      if (until && until.getTime() <= since.getTime()) throw new CliError('--until must be after --since');
      const tenantArg = optional(args, 'tenant');
      let tenantId: string | undefined;
      if (tenantArg !== undefined) {
        if (UUID_RE.test(tenantArg.trim())) tenantId = tenantArg.trim().toLowerCase();
        else {
          const tenant = await createTenantStore(await ctx.db()).findByDomain(tenantArg);
          if (!tenant) throw new CliError(`no tenant with domain ${tenantArg}`, 1);
          tenantId = tenant.id;
        }
      }
      return exportAuditEvents(await ctx.db(), {
        since,
        ...(until ? { until } : {}),
        ...(tenantId ? { tenantId } : {}),
      });
    },
  },
  'audit prune': {
    usage: 'audit prune --older-than DAYS',
    summary: `Deletes audit events older than DAYS days, ${DEFAULT_PRUNE_BATCH} rows per statement; prints {"deleted": n}.`,
    options: { 'older-than': { type: 'string', description: 'age in whole days, 1 or more' } },
    async run(args, ctx) {
      const text = need(args, 'older-than').trim();
      if (!/^\d{1,6}$/.test(text) || Number(text) < 1)
        throw new CliError('--older-than must be a whole number of days, 1 or more');
      const cutoff = new Date(Date.now() - Number(text) * DAY_MS);
      return { deleted: await pruneAuditEvents(await ctx.db(), cutoff) };
    },
  },
};
