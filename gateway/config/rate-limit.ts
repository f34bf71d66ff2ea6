import type { Reader } from './reader.js';
import {
  RATE_LIMIT_KINDS,
  type AuthKind,
  type RateLimitConfig,
  type RateLimitKind,
  type RateLimitPolicy,
  type RouteRateLimit,
} from './types.js';

const POLICY_RE = /^(\d{1,10})\/(\d{1,10})(?::(\d{1,10}))?$/;
const MAX_COUNT = 1_000_000_000;
/** A window of up to 30 days: longer ones belong in a quota system, not a request limiter. */
const MAX_WINDOW_SECONDS = 30 * 86_400;

const SYNTAX = '"<requests>/<seconds>" or "<requests>/<seconds>:<burst>" (e.g. "600/60" or "600/60:100")';

/**
 * Parses `<limit>/<seconds>[:<burst>]` (whitespace-free). Returns null and records a problem when
 * the value is malformed or out of range. The burst (the bucket's size) defaults to the limit.
 */
export function parseRateLimit(raw: string, where: string, problems: string[]): RateLimitPolicy | null {
  const m = POLICY_RE.exec(raw);
  if (!m) {
    problems.push(`${where}: must be ${SYNTAX} (got "${raw}")`);
    return null;
  }
  const limit = Number(m[1]);
  const windowSeconds = Number(m[2]);
  const burst = m[3] === undefined ? limit : Number(m[3]);
  let ok = true;
  if (limit < 1 || limit > MAX_COUNT) {
    problems.push(`${where}: the request count must be from 1 to ${MAX_COUNT} (got "${raw}")`);
    ok = false;
  }
  if (windowSeconds < 1 || windowSeconds > MAX_WINDOW_SECONDS) {
    problems.push(`${where}: the window must be from 1 to ${MAX_WINDOW_SECONDS} seconds (got "${raw}")`);
    ok = false;
  }
  if (m[3] !== undefined && (burst < 1 || burst > MAX_COUNT)) {
    problems.push(`${where}: the burst must be from 1 to ${MAX_COUNT} (got "${raw}")`);
    ok = false;
  }
  return ok ? { limit, windowSeconds, burst } : null;
}

/** RATE_LIMIT_USER, RATE_LIMIT_NODE, RATE_LIMIT_TENANT (unset, empty or `off` = no limit) and RATE_LIMIT_SYNC_MS. */
export function readRateLimits(r: Reader): RateLimitConfig {
  const problems: string[] = [];
  const read = (kind: RateLimitKind): RateLimitPolicy | null => {
    const name = `RATE_LIMIT_${kind.toUpperCase()}`;
    const raw = r.str(name);
    if (raw === undefined || raw === 'off') return null;
    return parseRateLimit(raw, name, problems);
  };
  const config: RateLimitConfig = {
    user: read('user'),
    node: read('node'),
    tenant: read('tenant'),
    syncMs: r.int('RATE_LIMIT_SYNC_MS', 200, 20, 5_000),
  };
  for (const p of problems) r.problem(p);
  return config;
}

/**
 * Validates a route's `rateLimit` object: keys `user`, `node`, `tenant`, each a policy string or
 * `"off"`. A `user` limit only on user routes, a `node` limit only on node routes, none on
 * public routes (they have no identity to count by).
 */
export function validateRouteRateLimit(
  value: unknown,
  auth: AuthKind | undefined,
  at: string,
  problems: string[],
): RouteRateLimit | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${at}: must be an object like {"user": "600/60", "tenant": "off"}`);
    return null;
  }
  const out: { [K in RateLimitKind]?: RateLimitPolicy | 'off' } = {};
  let ok = true;
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (!(RATE_LIMIT_KINDS as readonly string[]).includes(key)) {
      problems.push(`${at}: unknown field "${key}" (user, node or tenant)`);
      ok = false;
      continue;
    }
    const kind = key as RateLimitKind;
    if (auth === 'public') {
      problems.push(`${at}.${kind}: public routes have no identity to limit`);
      ok = false;
      continue;
    }
    if ((kind === 'user' && auth === 'node') || (kind === 'node' && auth === 'user')) {
      problems.push(`${at}.${kind}: only ${kind} routes have ${kind} limits`);
      ok = false;
      continue;
    }
    if (raw === 'off') {
      out[kind] = 'off';
      continue;
    }
    if (typeof raw !== 'string') {
      problems.push(`${at}.${kind}: must be ${SYNTAX} or "off"`);
      ok = false;
      continue;
    }
    const policy = parseRateLimit(raw, `${at}.${kind}`, problems);
    if (policy) out[kind] = policy;
    else ok = false;
  }
  return ok ? out : null;
}
