import type { BeginResult, LockPolicy, Settlement, SettleResult } from './state.js';

/**
 * The lockout counters of one email as plain fields, and the two atomic steps on them. The memory
 * store runs this directly; the Redis store runs the same algorithm as Lua on a hash with the same
 * fields (gateway/store/redis-lock.ts), so both stores keep one contract. Fields:
 *   `w`       end of the fixed window, epoch ms (counters below are void once it has passed)
 *   `*`       attempts made without `tenant_domain`, failed or not (email-wide: such an attempt checks
 *             the password against every account of the email, so it counts against every workspace;
 *             a success there is still a wrong password for the other accounts)
 *   `d:<ws>`  failures that named workspace <ws> (a tenant id, or `domain:<d>` for an unknown domain)
 *   `c:<ws>`  the value of `*` when an account of <ws> last logged in: its own count starts again
 *             from there, everybody else's does not
 *   `l:<id>`  an in-flight attempt's lease: `<expiry ms>|<kind>|<ws>`, kind `n` named (counts in
 *             `d:<ws>`), `f` named but folded into `*` (too many workspaces), `a` without a domain,
 *             `r` without a domain but restricted to the comma-separated workspaces in <ws> (see
 *             beginAttempt); `a`, `r` and `f` count in `*`
 */
export type LockFields = Map<string, string>;

/**
 * At most this many workspace counters per email and window. Past it, a failure naming a further
 * workspace is counted email-wide instead: stricter for everyone, never looser, and it keeps each
 * atomic step (and the Redis script's run time) bounded however many domains an attacker names.
 */
export const MAX_WORKSPACES = 64;

interface View {
  star: number;
  dom: Map<string, number>;
  credit: Map<string, number>;
  /** Live leases per workspace (named, not folded) and email-wide (`a` and `f`). */
  leaseDom: Map<string, number>;
  leaseStar: number;
  windowEnd: number;
}

/** Drops what has expired (void counters, old leases) and reads the rest. */
function load(fields: LockFields, now: number): View {
  const windowEnd = Number(fields.get('w') ?? '0');
  const open = windowEnd > now;
  const view: View = {
    star: 0,
    dom: new Map(),
    credit: new Map(),
    leaseDom: new Map(),
    leaseStar: 0,
    windowEnd: open ? windowEnd : 0,
  };
  for (const [f, v] of [...fields]) {
    if (f === 'w') {
      if (!open) fields.delete(f);
    } else if (f === '*') {
      if (open) view.star = Number(v);
      else fields.delete(f);
    } else if (f.startsWith('d:') || f.startsWith('c:')) {
      if (open) (f.startsWith('d:') ? view.dom : view.credit).set(f.slice(2), Number(v));
      else fields.delete(f);
    } else if (f.startsWith('l:')) {
      const [exp = '0', kind = 'a', ws = ''] = splitLease(v);
      if (Number(exp) <= now) fields.delete(f);
      else if (kind === 'n') view.leaseDom.set(ws, (view.leaseDom.get(ws) ?? 0) + 1);
      else if (kind === 'r') for (const w of ws.split(',')) view.leaseDom.set(w, (view.leaseDom.get(w) ?? 0) + 1);
      else view.leaseStar += 1;
    }
  }
  return view;
}

function splitLease(v: string): [string, string, string] {
  const a = v.indexOf('|');
  const b = v.indexOf('|', a + 1);
  return [v.slice(0, a), v.slice(a + 1, b), v.slice(b + 1)];
}

/** Wrong passwords a workspace's account (if it exists) has seen: its own failures, plus email-wide attempts since its last login. */
function effective(view: View, ws: string): number {
  return (view.dom.get(ws) ?? 0) + view.star - (view.credit.get(ws) ?? 0);
}

/** Settled counts and in-flight leases against a request naming `ws`, or without a domain (null). */
function pressure(view: View, ws: string | null): { settled: number; inflight: number } {
  if (ws !== null) return { settled: effective(view, ws), inflight: (view.leaseDom.get(ws) ?? 0) + view.leaseStar };
  // Without a domain the password may be checked against any workspace, including every one
  // nobody named yet (count: the email-wide one): every one must have room.
  let settled = view.star;
  let total = view.star;
  for (const w of new Set([...view.dom.keys(), ...view.credit.keys(), ...view.leaseDom.keys()])) {
    const e = effective(view, w);
    settled = Math.max(settled, e);
    total = Math.max(total, e + (view.leaseDom.get(w) ?? 0));
  }
  return { settled, inflight: total - settled + view.leaseStar };
}

/** When the key may be forgotten: the window's end or the latest lease's expiry. */
export function expiryOf(fields: LockFields): number {
  let at = Number(fields.get('w') ?? '0');
  for (const [f, v] of fields) if (f.startsWith('l:')) at = Math.max(at, Number(splitLease(v)[0]));
  return at;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * The step before the password check (the Redis twin is BEGIN_SCRIPT). A request without a domain
 * whose email-wide count is spent is not simply refused: the workspaces whose own account logged in
 * during this window (they hold a credit) still have room of their own, so the request is granted
 * restricted to them (`only`): the password is checked against those accounts alone, and a miss
 * answers "locked". Nobody else's account is reached, so a burst of right passwords without a
 * domain keeps working, and the answer still depends only on the requests, never on existence.
 */
export function beginAttempt(
  fields: LockFields,
  now: number,
  ws: string | null,
  leaseId: string,
  policy: LockPolicy,
): BeginResult {
  const view = load(fields, now);
  const { settled, inflight } = pressure(view, ws);
  const retryAfter = view.windowEnd > now ? seconds(view.windowEnd - now) : 0;
  const lease = (kind: string, of: string) =>
    fields.set(`l:${leaseId}`, `${now + policy.leaseSeconds * 1000}|${kind}|${of}`);
  if (ws === null && settled >= policy.max) {
    const credited = [...view.credit.keys()].filter((w) => effective(view, w) < policy.max).sort();
    const roomy = credited.filter(
      (w) => effective(view, w) + (view.leaseDom.get(w) ?? 0) + view.leaseStar < policy.max,
    );
    if (roomy.length > 0) {
      lease('r', roomy.join(','));
      return { outcome: 'granted', retryAfter, count: settled, only: roomy };
    }
    if (credited.length > 0) return { outcome: 'busy', retryAfter: 0, count: settled };
  }
  if (settled >= policy.max) return { outcome: 'locked', retryAfter, count: settled };
  // For a no-domain request "inflight" is taken at the fullest workspace, so this refuses whenever
  // any workspace it could reach has no free slot left.
  if (settled + inflight >= policy.max) return { outcome: 'busy', retryAfter: 0, count: settled };
  const kind = ws === null ? 'a' : view.dom.has(ws) || view.dom.size < MAX_WORKSPACES ? 'n' : 'f';
  lease(kind, ws ?? '');
  return { outcome: 'granted', retryAfter: 0, count: settled };
}

/** The step after the password check (the Redis twin is SETTLE_SCRIPT). */
export function settleAttempt(
  fields: LockFields,
  now: number,
  leaseId: string,
  outcome: Settlement,
  policy: LockPolicy,
): SettleResult {
  const view = load(fields, now);
  const lease = fields.get(`l:${leaseId}`);
  if (lease === undefined) return { settled: false, count: 0, locked: false };
  fields.delete(`l:${leaseId}`);
  if (outcome.kind === 'released') return { settled: true, count: 0, locked: false };
  const [, kind, ws] = splitLease(lease);
  const window = () => {
    if (view.windowEnd === 0) view.windowEnd = now + policy.windowSeconds * 1000;
    fields.set('w', String(view.windowEnd));
  };
  if (kind === 'a' || kind === 'r') {
    // Without a domain, even a success was a wrong password for every other account.
    window();
    view.star += 1;
    fields.set('*', String(view.star));
  }
  if (outcome.kind === 'authenticated') {
    const a = outcome.workspace;
    fields.delete(`d:${a}`);
    view.dom.delete(a);
    if (view.star > 0) {
      fields.set(`c:${a}`, String(view.star));
      view.credit.set(a, view.star);
    }
  } else if (kind === 'n') {
    window();
    const n = (view.dom.get(ws) ?? 0) + 1;
    view.dom.set(ws, n);
    fields.set(`d:${ws}`, String(n));
  } else if (kind === 'f') {
    window();
    view.star += 1;
    fields.set('*', String(view.star));
  }
  if (view.star === 0 && view.dom.size === 0) {
    fields.delete('w');
    return { settled: true, count: 0, locked: false };
  }
  const count = pressure(view, kind === 'a' || kind === 'r' ? null : ws).settled;
  // Re-armed when the request's identity locks, so the lock lasts the full window from here.
  if (count >= policy.max) fields.set('w', String(now + policy.windowSeconds * 1000));
  return { settled: true, count, locked: outcome.kind === 'failed' && count === policy.max };
}

/** `cli user unlock`: the workspace's count and the email-wide one (the Redis twin is UNLOCK_SCRIPT). */
export function unlock(fields: LockFields, now: number, ws: string): void {
  const view = load(fields, now);
  fields.delete(`d:${ws}`);
  fields.delete('*');
  // Credits are marks on the email-wide count: they go with it.
  for (const w of view.credit.keys()) fields.delete(`c:${w}`);
  view.dom.delete(ws);
  if (view.dom.size === 0) fields.delete('w');
}
