import type { Env, Reader } from './reader.js';
import type { DatabaseConfig, RedisConfig } from './types.js';

/** DATABASE_URL, or DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_NAME assembled into one; DB_POOL_SIZE, DB_SSLMODE. */
export function readDatabase(r: Reader, env: Env): DatabaseConfig {
  const poolSize = r.int('DB_POOL_SIZE', 10, 1, 1000);
  const sslmode = r.str('DB_SSLMODE') ?? 'disable';
  let ssl: DatabaseConfig['ssl'] = false;
  if (sslmode === 'require' || sslmode === 'prefer') ssl = { rejectUnauthorized: false };
  else if (sslmode === 'verify-ca' || sslmode === 'verify-full') ssl = { rejectUnauthorized: true };
  else if (sslmode !== 'disable' && sslmode !== 'allow')
    r.problem('DB_SSLMODE: must be disable, require, verify-ca or verify-full');
  let url = r.secret('DATABASE_URL');
  if (url !== null) {
    if (!/^postgres(ql)?:\/\//.test(url)) r.problem('DATABASE_URL: must start with postgres://');
  } else if (env.DB_HOST || env.DB_NAME) {
    const u = new URL('postgres://localhost');
    u.hostname = r.str('DB_HOST') ?? 'localhost';
    u.port = String(r.int('DB_PORT', 5432, 1, 65535));
    u.username = encodeURIComponent(r.str('DB_USER') ?? 'postgres');
    const pw = r.secret('DB_PASSWORD');
    if (pw !== null) u.password = encodeURIComponent(pw);
    u.pathname = `/${encodeURIComponent(r.str('DB_NAME') ?? 'get2dial')}`;
    url = u.toString();
  }
  return { url, poolSize, ssl };
}

/** REDIS_URL or REDIS_ADDR, or REDIS_SENTINELS / REDIS_CLUSTER_NODES, with their credentials and REDIS_DB. */
export function readRedis(r: Reader, env: Env): RedisConfig {
  const keyPrefix = r.str('REDIS_KEY_PREFIX') ?? 'g2d:gw:';
  const username = r.str('REDIS_USERNAME');
  const password = r.secret('REDIS_PASSWORD') ?? undefined;
  const db = env.REDIS_DB !== undefined && env.REDIS_DB !== '' ? r.int('REDIS_DB', 0, 0, 15) : undefined;
  let url = r.secret('REDIS_URL');
  if (url !== null && !/^rediss?:\/\//.test(url)) r.problem('REDIS_URL: must start with redis:// or rediss://');
  if (url === null && r.str('REDIS_ADDR')) {
    const addr = r.str('REDIS_ADDR') ?? '';
    if (!/^[^\s:/]+:\d{1,5}$/.test(addr)) r.problem('REDIS_ADDR: must be host:port');
    else url = `redis://${addr}`;
  }
  const sentinels = r.hostPorts('REDIS_SENTINELS');
  const clusterNodes = r.hostPorts('REDIS_CLUSTER_NODES');
  const sentinelName = r.str('REDIS_SENTINEL_NAME');
  const sentinelPassword = r.secret('REDIS_SENTINEL_PASSWORD') ?? undefined;
  if (sentinels.length > 0 && !sentinelName) r.problem('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS');
  return {
    url,
    keyPrefix,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(sentinels.length > 0 && sentinelName
      ? { sentinels, sentinelName, ...(sentinelPassword ? { sentinelPassword } : {}) }
      : {}),
    ...(clusterNodes.length > 0 ? { clusterNodes } : {}),
  };
}
