import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { packageVersion } from './build-info.js';
import { ConfigError } from './errors.js';
import { isHttpUrl } from './routes.js';
import { PLACEHOLDER_RE, readPreviousSecrets, readRoutes } from './reload.js';
import { readRateLimits } from './rate-limit.js';
import { readDatabase, readRedis } from './datastores.js';
import { readMfa } from './mfa.js';
import { Reader, type Env } from './reader.js';
import { DEFAULT_STRIP_CLIENT_HEADERS, type Config } from './types.js';
import { readTracing } from './tracing.js';

export type { Config, RouteDef, Role, AuthKind, RateLimitPolicy, RateLimitKind } from './types.js';
export { ROLES } from './types.js';
export { GATEWAY_ROUTES, DEFAULT_PROXY_ROUTES, validateRoutes } from './routes.js';

export type { Env } from './reader.js';

export { ConfigError } from './errors.js';
export { readReloadable, type Reloadable } from './reload.js';

/**
 * Reads the environment once, validates all of it, and returns a deep-frozen Config
 * (docs/configuration.md; oauth2-proxy's one-pass validation). Every problem is collected and reported in one ConfigError.
 * Secrets may come from `NAME_FILE` (Docker/Kubernetes secrets) instead of `NAME`.
 */
export interface LoadOptions {
  /**
   * `serve` (default) refuses NODE_ENV=production without a database, Redis and both secrets.
   * The admin CLI (`cli`) opens only what its command needs and says so when that is missing, so
   * `cli migrate` runs in a production image with nothing but the database configured.
   */
  readonly purpose?: 'serve' | 'cli';
}

export function loadConfig(env: Env = process.env, options: LoadOptions = {}): Config {
  const problems: string[] = [];
  const r = new Reader(env, problems);

  const nodeEnv = r.str('NODE_ENV') ?? 'development';
  const production = nodeEnv === 'production';

  const database = readDatabase(r, env);
  const redis = readRedis(r, env);
  const jwtSecret = r.secret('AUTH_JWT_SECRET');
  const warnings: string[] = [];
  if (jwtSecret !== null && Buffer.byteLength(jwtSecret) < 16)
    problems.push('AUTH_JWT_SECRET: must be at least 16 bytes');
  else if (jwtSecret !== null && Buffer.byteLength(jwtSecret) < 32)
    warnings.push('AUTH_JWT_SECRET is under 32 bytes: use 32 random bytes or more (openssl rand -hex 32)');
  // Older keys are secrets too: `AUTH_JWT_PREVIOUS_SECRETS_FILE` works like the other `_FILE`s.
  const previousSecrets = readPreviousSecrets(r, production && options.purpose !== 'cli');
  const signingKey = r.secret('IDENTITY_SIGNING_KEY');
  const bootstrapToken = r.secret('AUTH_BOOTSTRAP_TOKEN');
  if (bootstrapToken !== null && Buffer.byteLength(bootstrapToken) < 16)
    problems.push('AUTH_BOOTSTRAP_TOKEN: must be at least 16 bytes');

  if (production && options.purpose !== 'cli') {
    const missing: string[] = [];
    if (database.url === null) missing.push('DATABASE_URL (or DB_HOST/DB_NAME…)');
    if (redis.url === null && !redis.sentinels && !redis.clusterNodes) missing.push('REDIS_URL (or REDIS_ADDR…)');
    if (jwtSecret === null) missing.push('AUTH_JWT_SECRET');
    if (signingKey === null) missing.push('IDENTITY_SIGNING_KEY');
    if (missing.length > 0) {
      problems.push(`NODE_ENV=production needs ${missing.join(', ')}; embedded defaults are for development only`);
    }
    // The example env files' placeholders pass every length check: refuse to run with one.
    for (const [name, value] of [
      ['AUTH_JWT_SECRET', jwtSecret],
      ['AUTH_BOOTSTRAP_TOKEN', bootstrapToken],
    ] as const) {
      if (value !== null && PLACEHOLDER_RE.test(value))
        problems.push(`${name}: still the example placeholder; generate one (openssl rand -hex 32)`);
    }
  }

  const upstreamUrl = r.str('UPSTREAM_URL') ?? 'http://127.0.0.1:9090';
  if (!isHttpUrl(upstreamUrl))
    problems.push('UPSTREAM_URL: must be an http(s)://host[:port] origin (no path, query or credentials)');
  const routesFile = r.str('GATEWAY_ROUTES_FILE') ?? null;
  const routes = readRoutes(routesFile, problems);

  const origins = r.list('HTTP_ALLOWED_ORIGINS');
  for (const o of origins) if (!isOrigin(o)) problems.push(`HTTP_ALLOWED_ORIGINS: "${o}" is not scheme://host[:port]`);
  const trustedProxies = r.list('TRUSTED_PROXIES');
  for (const c of trustedProxies) if (!isCidr(c)) problems.push(`TRUSTED_PROXIES: "${c}" is not an IP or CIDR`);

  const stripClientHeaders = readStripList(r);

  const logLevel = r.str('LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel))
    problems.push('LOG_LEVEL: must be fatal|error|warn|info|debug|trace|silent');
  const logFormat = r.str('LOG_FORMAT') ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'pretty') problems.push('LOG_FORMAT: must be json or pretty');

  const memoryCost = r.int('PASSWORD_ARGON2_MEMORY_KIB', 19456, 1024, 4_194_304);
  const timeCost = r.int('PASSWORD_ARGON2_TIME_COST', 2, 1, 100);
  if (production && (memoryCost < 19456 || timeCost < 2))
    problems.push('PASSWORD_ARGON2_*: production needs at least m=19456 KiB, t=2 (OWASP)');

  const wsQueryToken = (r.str('WS_QUERY_TOKEN') ?? 'on').toLowerCase();
  if (wsQueryToken !== 'on' && wsQueryToken !== 'off') problems.push('WS_QUERY_TOKEN: must be on or off');

  const headersTimeoutMs = r.int('GATEWAY_HEADERS_TIMEOUT_MS', 20_000, 500, 600_000);
  const requestTimeoutMs = r.int('GATEWAY_REQUEST_TIMEOUT_MS', 300_000, 500, 3_600_000);
  if (requestTimeoutMs < headersTimeoutMs)
    problems.push('GATEWAY_REQUEST_TIMEOUT_MS: must be at least GATEWAY_HEADERS_TIMEOUT_MS');

  const buildCommit = r.str('GATEWAY_BUILD_COMMIT') ?? null;
  if (buildCommit !== null && !/^[0-9a-f]{7,40}$/i.test(buildCommit))
    problems.push('GATEWAY_BUILD_COMMIT: must be a git commit hash (7 to 40 hex digits)');

  const config: Config = {
    nodeEnv,
    production,
    warnings,
    host: r.str('HOST') ?? '0.0.0.0',
    port: r.int('PORT', 8080, 0, 65535),
    dataDir: resolve(r.str('GATEWAY_DATA_DIR') ?? '.data'),
    database,
    redis,
    jwt: {
      secret: jwtSecret,
      previousSecrets,
      issuer: r.str('AUTH_JWT_ISSUER') ?? 'get2dial',
      audience: r.str('AUTH_JWT_AUDIENCE') ?? 'get2dial-control',
      ttlSeconds: r.int('AUTH_JWT_TTL_SECONDS', 43200, 60, 30 * 86400),
      clockToleranceSeconds: 30,
    },
    passwords: {
      memoryCost,
      timeCost,
      parallelism: 1,
      maxConcurrent: r.int('PASSWORD_HASH_CONCURRENCY', 2, 1, 64),
      maxQueued: r.int('PASSWORD_HASH_QUEUE_MAX', 128, 1, 100_000),
      minLength: 12,
      maxLength: 256,
    },
    lockout: {
      maxAttempts: r.int('AUTH_LOCKOUT_MAX_ATTEMPTS', 10, 1, 1000),
      seconds: r.int('AUTH_LOCKOUT_SECONDS', 900, 1, 86400 * 7),
    },
    loginIpLimit: {
      limit: r.int('AUTH_LOGIN_IP_LIMIT', 100, 1, 1_000_000),
      windowSeconds: r.int('AUTH_LOGIN_IP_WINDOW_SECONDS', 900, 1, 86400 * 7),
    },
    sessions: {
      refreshTtlSeconds: r.int('AUTH_REFRESH_TTL_SECONDS', 1_209_600, 1, 365 * 86400),
      maxSeconds: r.int('AUTH_SESSION_MAX_SECONDS', 2_592_000, 1, 365 * 86400),
    },
    defaultTenantDomain: (r.str('DEFAULT_TENANT_DOMAIN') ?? 'dev.get2dial.local').toLowerCase(),
    bootstrapToken,
    upstreamUrl,
    routes,
    routesFile,
    rateLimits: readRateLimits(r),
    identity: {
      signingKey,
      previousPublicKeys: r.pemList('IDENTITY_PREVIOUS_PUBLIC_KEYS'),
      audience: r.str('IDENTITY_AUDIENCE') ?? 'get2dial-upstream',
      ttlSeconds: 60,
    },
    upstreamTimeoutMs: r.int('UPSTREAM_TIMEOUT_MS', 30000, 100, 3_600_000),
    shutdownGraceSeconds: r.int('SHUTDOWN_GRACE_SECONDS', 25, 0, 3600),
    maxConnections: r.int('GATEWAY_MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    wsMaxPerIdentity: r.int('WS_MAX_PER_IDENTITY', 50, 1, 100_000),
    headersTimeoutMs,
    requestTimeoutMs,
    allowedOrigins: origins,
    stripClientHeaders,
    trustedProxies,
    log: { level: logLevel, format: logFormat === 'pretty' ? 'pretty' : 'json' },
    workers: r.int('GATEWAY_WORKERS', 1, 1, 64),
    websocket: {
      queryToken: wsQueryToken !== 'off',
      // A ticket travels in a URL: it must be short-lived (at most 30 s) as well as single-use.
      ticketTtlSeconds: r.int('WS_TICKET_TTL_SECONDS', 30, 1, 30),
    },
    nodeKeyRotationGraceSeconds: r.int('NODE_KEY_ROTATION_GRACE_SECONDS', 300, 0, 86_400),
    auditRetentionDays: r.int('AUDIT_RETENTION_DAYS', 365, 0, 36_500),
    build: { version: packageVersion(), commit: buildCommit?.toLowerCase() ?? null },
    tracing: readTracing(r),
    mfa: readMfa(r, env, production),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

// An RFC 9110 §5.1 field name (token), optionally ending in `*` for a prefix.
const STRIP_ENTRY_RE = /^[!#$%&'+.^_`|~0-9A-Za-z-]+\*?$/;
const FRAMING = new Set(['content-length', 'transfer-encoding', 'content-type', 'host']);

/**
 * STRIP_CLIENT_HEADERS: comma-separated header names never forwarded from clients; a trailing `*`
 * matches a prefix; case-insensitive, `_` read as `-`. Unset: the defaults (identity headers of
 * other systems); `none`: nothing beyond what the gateway always strips. A value replaces the
 * defaults, so list them again to extend them.
 */
function readStripList(r: Reader): readonly string[] {
  const raw = r.str('STRIP_CLIENT_HEADERS');
  if (raw === undefined) return DEFAULT_STRIP_CLIENT_HEADERS;
  if (raw.toLowerCase() === 'none') return [];
  const out: string[] = [];
  for (const entry of raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')) {
    const name = entry.toLowerCase().replaceAll('_', '-');
    if (!STRIP_ENTRY_RE.test(entry) || name === '*')
      r.problem(
        `STRIP_CLIENT_HEADERS: "${entry}" is not a header name (a trailing * makes it a prefix; * alone is refused)`,
      );
    else if (FRAMING.has(name)) r.problem(`STRIP_CLIENT_HEADERS: "${entry}" frames the request and cannot be stripped`);
    else out.push(name);
  }
  return out;
}

function isOrigin(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === value;
  } catch {
    return false;
  }
}

function isCidr(value: string): boolean {
  const [ip, bits, extra] = value.split('/');
  if (extra !== undefined || ip === undefined) return false;
  const family = isIP(ip);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
