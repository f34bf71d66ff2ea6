/**
 * The settings a running gateway re-reads on SIGHUP (docs/operations.md): the route table from
 * GATEWAY_ROUTES_FILE and the older keys still accepted or published during a rotation
 * (AUTH_JWT_PREVIOUS_SECRETS[_FILE], IDENTITY_PREVIOUS_PUBLIC_KEYS[_FILE]). Validated exactly as
 * at start; loadConfig reads the same values through these functions.
 */
import { ConfigError } from './errors.js';
import { Reader, type Env } from './reader.js';
import { DEFAULT_PROXY_ROUTES, GATEWAY_ROUTES, loadRoutesFile } from './routes.js';
import type { RouteDef } from './types.js';

/** What example files put where a secret goes (config/compose.env.example: `change-me…`). */
export const PLACEHOLDER_RE = /change[-_ ]?me|changeme|placeholder|example-secret/i;

export interface Reloadable {
  /** The whole table: the gateway's own routes, then the file's (or the built-in) proxied ones. */
  readonly routes: readonly RouteDef[];
  readonly previousSecrets: readonly string[];
  readonly previousPublicKeys: readonly string[];
}

/** AUTH_JWT_PREVIOUS_SECRETS (or its _FILE): comma-separated, each at least 16 bytes. */
export function readPreviousSecrets(r: Reader, production: boolean): string[] {
  const secrets = (r.secret('AUTH_JWT_PREVIOUS_SECRETS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (secrets.some((s) => Buffer.byteLength(s) < 16))
    r.problem('AUTH_JWT_PREVIOUS_SECRETS: every key must be at least 16 bytes');
  if (production && secrets.some((s) => PLACEHOLDER_RE.test(s)))
    r.problem('AUTH_JWT_PREVIOUS_SECRETS: still the example placeholder; generate one (openssl rand -hex 32)');
  return secrets;
}

/** The route table: GATEWAY_ROUTES first (no file can take them over), then the proxied routes. */
export function readRoutes(routesFile: string | null, problems: string[]): RouteDef[] {
  const proxied = routesFile === null ? DEFAULT_PROXY_ROUTES : loadRoutesFile(routesFile, problems);
  return [...GATEWAY_ROUTES, ...proxied];
}

/** Re-reads the reloadable settings; throws ConfigError listing every problem (nothing half-read). */
export function readReloadable(env: Env = process.env): Reloadable {
  const problems: string[] = [];
  const r = new Reader(env, problems);
  const production = (r.str('NODE_ENV') ?? 'development') === 'production';
  const routes = readRoutes(r.str('GATEWAY_ROUTES_FILE') ?? null, problems);
  const previousSecrets = readPreviousSecrets(r, production);
  const previousPublicKeys = r.pemList('IDENTITY_PREVIOUS_PUBLIC_KEYS');
  if (problems.length > 0) throw new ConfigError(problems);
  return { routes, previousSecrets, previousPublicKeys };
}
