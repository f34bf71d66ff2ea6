import { readFileSync } from 'node:fs';
import { validateRouteRateLimit } from './rate-limit.js';
import { ROLES, type RouteDef, type Role } from './types.js';

/**
 * Routes the gateway always serves itself (docs/configuration.md). They sit in front of every table, built-in
 * or from GATEWAY_ROUTES_FILE, so no file can hand login or the JWKS to an upstream.
 */
export const GATEWAY_ROUTES: readonly RouteDef[] = [
  { prefix: '/healthz', auth: 'gateway' },
  { prefix: '/readyz', auth: 'gateway' },
  { prefix: '/metrics', auth: 'gateway' },
  { prefix: '/.well-known/jwks.json', auth: 'gateway' },
  { prefix: '/openapi.json', auth: 'gateway' },
  { prefix: '/api/v1/auth', auth: 'gateway' },
  { prefix: '/api/v1/nodes/register', auth: 'gateway' },
  { prefix: '/api/v1/nodes/rotate-key', auth: 'gateway' },
];

/** The built-in proxied table (docs/configuration.md); GATEWAY_ROUTES_FILE replaces exactly this part. */
export const DEFAULT_PROXY_ROUTES: readonly RouteDef[] = [
  { prefix: '/api/v1/edge/health', auth: 'public' },
  { prefix: '/api/v1/nodes', auth: 'node' },
  { prefix: '/api/v1/edge', auth: 'node' },
  { prefix: '/api/v1', auth: 'user' },
  { prefix: '/ws/supervisor', auth: 'user', websocket: true, roles: ['supervisor', 'admin', 'platform_admin'] },
  { prefix: '/ws/agent', auth: 'user', websocket: true },
];

const PREFIX_RE = /^\/(?:[A-Za-z0-9._~!$&'()*+,=:@-]+\/?)*$/;
const ROUTE_KEYS = new Set(['prefix', 'upstream', 'auth', 'roles', 'websocket', 'rateLimit']);

/** Validates a route table value; pushes every problem into `problems` (one message at start). */
export function validateRoutes(value: unknown, where: string, problems: string[]): RouteDef[] {
  if (!Array.isArray(value)) {
    problems.push(`${where}: must be a JSON array of routes`);
    return [];
  }
  const out: RouteDef[] = [];
  value.forEach((raw: unknown, i) => {
    const at = `${where}[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${at}: must be an object`);
      return;
    }
    const r = raw as Record<string, unknown>;
    for (const key of Object.keys(r)) if (!ROUTE_KEYS.has(key)) problems.push(`${at}: unknown field "${key}"`);
    const { prefix, upstream, auth, roles, websocket } = r;
    let ok = true;
    if (
      typeof prefix !== 'string' ||
      !PREFIX_RE.test(prefix) ||
      prefix.includes('//') ||
      /(^|\/)\.{1,2}(\/|$)/.test(prefix)
    ) {
      problems.push(`${at}.prefix: must be an absolute, normalized path like "/api/v1/things"`);
      ok = false;
    }
    if (auth !== 'user' && auth !== 'node' && auth !== 'public') {
      problems.push(`${at}.auth: must be "user", "node" or "public"`);
      ok = false;
    }
    if (upstream !== undefined && !isHttpUrl(upstream)) {
      problems.push(`${at}.upstream: must be an http(s)://host[:port] origin (no path, query or credentials)`);
      ok = false;
    }
    if (roles !== undefined && (!Array.isArray(roles) || roles.some((x) => !ROLES.includes(x as Role)))) {
      problems.push(`${at}.roles: must be an array of ${ROLES.join(', ')}`);
      ok = false;
    }
    if (roles !== undefined && auth !== 'user') {
      problems.push(`${at}.roles: only user routes have roles`);
      ok = false;
    }
    if (websocket !== undefined && typeof websocket !== 'boolean') {
      problems.push(`${at}.websocket: must be true or false`);
      ok = false;
    }
    const rateLimit =
      r.rateLimit === undefined
        ? undefined
        : validateRouteRateLimit(r.rateLimit, auth as RouteDef['auth'], `${at}.rateLimit`, problems);
    if (rateLimit === null) ok = false;
    if (!ok) return;
    const route: RouteDef = {
      prefix: (prefix as string).length > 1 ? (prefix as string).replace(/\/$/, '') : (prefix as string),
      auth: auth as RouteDef['auth'],
      ...(upstream !== undefined ? { upstream: upstream as string } : {}),
      ...(roles !== undefined ? { roles: roles as Role[] } : {}),
      ...(websocket !== undefined ? { websocket: websocket as boolean } : {}),
      ...(rateLimit ? { rateLimit } : {}),
    };
    out.push(route);
  });
  return out;
}

/** Reads and validates GATEWAY_ROUTES_FILE. */
export function loadRoutesFile(file: string, problems: string[]): RouteDef[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`GATEWAY_ROUTES_FILE: cannot read ${file}: ${(err as Error).message}`);
    return [];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    problems.push(`GATEWAY_ROUTES_FILE: ${file} is not valid JSON: ${(err as Error).message}`);
    return [];
  }
  return validateRoutes(parsed, 'GATEWAY_ROUTES_FILE', problems);
}

/**
 * An upstream is an origin: `http(s)://host[:port]` with no credentials, path, query or fragment.
 * The proxy sends the normalized request path as it is (docs/configuration.md), so a base path in the URL would
 * be silently ignored; it is refused instead.
 */
export function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const u = new URL(value);
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') &&
      u.username === '' &&
      u.password === '' &&
      u.pathname === '/' &&
      u.search === '' &&
      u.hash === '' &&
      !/[?#]/.test(value)
    );
  } catch {
    return false;
  }
}
