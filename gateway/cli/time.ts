/** Time arguments of the admin CLI: an ISO-8601 instant, or a span back from now such as `7d`. */
import { CliError } from './args.js';

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const RELATIVE_RE = /^(\d{1,6})([smhdw])$/;
// A date (UTC midnight) or a date-time with an explicit zone: a zoneless time would silently mean
// the machine's local time, so it is refused.
const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/i;

/**
 * `2026-01-31`, `2026-01-31T12:00:00Z`, `2026-01-31T12:00:00+02:00`, or `<n><unit>` meaning that
 * long before `nowMs` (units s, m, h, d, w: `90m`, `24h`, `7d`, `2w`).
 */
export function parseTimeArg(text: string, option: string, nowMs: number): Date {
  const t = text.trim();
  const rel = RELATIVE_RE.exec(t);
  if (rel) return new Date(nowMs - Number(rel[1]) * (UNIT_MS[rel[2] ?? 's'] ?? 0));
  if (ISO_RE.test(t)) {
    const ms = Date.parse(t.length === 10 ? `${t}T00:00:00Z` : t);
    if (Number.isFinite(ms)) return new Date(ms);
  }
  throw new CliError(
    `--${option} must be an ISO-8601 date or time with a zone (2026-01-31, 2026-01-31T12:00:00Z) or a span back from now (30m, 24h, 7d, 2w)`,
  );
}
