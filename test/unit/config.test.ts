import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../gateway/config/index.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('config', () => {
  it('has the documented defaults (docs/configuration.md)', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.host).toBe('0.0.0.0');
    expect(c.jwt).toMatchObject({
      issuer: 'get2dial',
      audience: 'get2dial-control',
      ttlSeconds: 43200,
      secret: null,
      previousSecrets: [],
    });
    expect(c.lockout).toEqual({ maxAttempts: 10, seconds: 900 });
    expect(c.loginIpLimit).toEqual({ limit: 100, windowSeconds: 900 });
    expect(c.redis.keyPrefix).toBe('g2d:gw:');
    expect(c.defaultTenantDomain).toBe('dev.get2dial.local');
    expect(c.upstreamUrl).toBe('http://127.0.0.1:9090');
    expect(c.identity.audience).toBe('get2dial-upstream');
    expect(c.upstreamTimeoutMs).toBe(30000);
    expect(c.shutdownGraceSeconds).toBe(25);
    expect(c.database.url).toBeNull();
    expect(Object.isFrozen(c.jwt)).toBe(true);
  });

  it('WebSocket tickets and node-key rotation: defaults, and validation in the one error', () => {
    const c = loadConfig({});
    expect(c.websocket).toEqual({ queryToken: true, ticketTtlSeconds: 30 });
    expect(c.nodeKeyRotationGraceSeconds).toBe(300);
    expect(
      loadConfig({ WS_QUERY_TOKEN: 'OFF', WS_TICKET_TTL_SECONDS: '5', NODE_KEY_ROTATION_GRACE_SECONDS: '0' }),
    ).toMatchObject({
      websocket: { queryToken: false, ticketTtlSeconds: 5 },
      nodeKeyRotationGraceSeconds: 0,
    });
    const problems = problemsOf({
      WS_QUERY_TOKEN: 'maybe',
      WS_TICKET_TTL_SECONDS: '31',
      NODE_KEY_ROTATION_GRACE_SECONDS: '-1',
    });
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/WS_QUERY_TOKEN: must be on or off/);
    expect(problems.join('\n')).toMatch(/WS_TICKET_TTL_SECONDS: must be a whole number from 1 to 30/);
    expect(problems.join('\n')).toMatch(/NODE_KEY_ROTATION_GRACE_SECONDS: must be a whole number from 0 to 86400/);
  });

  it('lists every problem in one error', () => {
    const problems = problemsOf({
      PORT: 'abc',
      AUTH_JWT_SECRET: 'short',
      LOG_FORMAT: 'xml',
      TRUSTED_PROXIES: '10.0.0.0/33',
      HTTP_ALLOWED_ORIGINS: 'https://a.test/path',
    });
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/PORT/);
    expect(problems.join('\n')).toMatch(/AUTH_JWT_SECRET: must be at least 16 bytes/);
  });

  it('refuses production without real dependencies and secrets', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/DATABASE_URL.*REDIS_URL.*AUTH_JWT_SECRET.*IDENTITY_SIGNING_KEY/);
  });

  it('lets the admin CLI run in production with only what its command needs', () => {
    const c = loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://u@db/g2d' }, { purpose: 'cli' });
    expect(c.production).toBe(true);
    expect(c.database.url).toBe('postgres://u@db/g2d');
    expect(c.jwt.secret).toBeNull();
  });

  it('refuses example placeholders in production and warns about a JWT secret under 32 bytes', () => {
    const prod = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://u@db/g2d',
      REDIS_URL: 'redis://r:6379',
      IDENTITY_SIGNING_KEY: 'x',
    };
    const problems = problemsOf({
      ...prod,
      AUTH_JWT_SECRET: 'change-me-to-64-hex-characters-000000',
      AUTH_BOOTSTRAP_TOKEN: 'CHANGEME-bootstrap-token',
    });
    expect(problems.filter((p) => /placeholder/.test(p)).map((p) => p.split(':')[0])).toEqual([
      'AUTH_JWT_SECRET',
      'AUTH_BOOTSTRAP_TOKEN',
    ]);
    expect(problemsOf({ AUTH_BOOTSTRAP_TOKEN: 'short' })[0]).toMatch(/AUTH_BOOTSTRAP_TOKEN: must be at least 16 bytes/);
    expect(loadConfig({ AUTH_JWT_SECRET: '0123456789abcdef0123' }).warnings).toEqual([
      expect.stringMatching(/AUTH_JWT_SECRET is under 32 bytes/),
    ]);
    expect(loadConfig({ AUTH_JWT_SECRET: '0123456789abcdef0123456789abcdef' }).warnings).toEqual([]);
    // Development keeps its freedom: a placeholder there is only the developer's business.
    expect(problemsOf({ AUTH_JWT_SECRET: 'change-me-change-me-change-me-00' })).toEqual([]);
  });

  it('builds the database URL from DB_* and lets DATABASE_URL win', () => {
    expect(loadConfig({ DB_HOST: 'db', DB_NAME: 'g2d', DB_USER: 'u', DB_PASSWORD: 'p@ss' }).database.url).toBe(
      'postgres://u:p%40ss@db:5432/g2d',
    );
    expect(loadConfig({ DB_HOST: 'db', DATABASE_URL: 'postgres://x@y/z' }).database.url).toBe('postgres://x@y/z');
    expect(loadConfig({ REDIS_ADDR: 'cache:6380' }).redis.url).toBe('redis://cache:6380');
  });

  it('reads secrets from *_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'g2d-cfg-'));
    writeFileSync(join(dir, 'secret'), 'file-secret-file-secret-file-secret\n');
    expect(loadConfig({ AUTH_JWT_SECRET_FILE: join(dir, 'secret') }).jwt.secret).toBe(
      'file-secret-file-secret-file-secret',
    );
    expect(problemsOf({ AUTH_JWT_SECRET_FILE: join(dir, 'missing') })[0]).toMatch(/cannot read/);
    writeFileSync(join(dir, 'previous'), 'old-secret-old-secret-0001, old-secret-old-secret-0002\n');
    expect(loadConfig({ AUTH_JWT_PREVIOUS_SECRETS_FILE: join(dir, 'previous') }).jwt.previousSecrets).toEqual([
      'old-secret-old-secret-0001',
      'old-secret-old-secret-0002',
    ]);
  });

  it('validates GATEWAY_ROUTES_FILE and keeps gateway-owned routes first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'g2d-routes-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify([{ prefix: '/api/v1', auth: 'user', upstream: 'http://127.0.0.1:7000' }]));
    const c = loadConfig({ GATEWAY_ROUTES_FILE: good });
    expect(c.routes[0]?.prefix).toBe('/healthz');
    expect(c.routes.at(-1)).toEqual({ prefix: '/api/v1', auth: 'user', upstream: 'http://127.0.0.1:7000' });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ prefix: 'api', auth: 'admin', extra: 1, roles: ['root'] }]));
    expect(problemsOf({ GATEWAY_ROUTES_FILE: bad }).length).toBeGreaterThanOrEqual(3);
    // An upstream is an origin: a base path would be silently dropped by the proxy, so it is refused.
    const based = join(dir, 'based.json');
    writeFileSync(based, JSON.stringify([{ prefix: '/api/v1', auth: 'user', upstream: 'http://127.0.0.1:7000/base' }]));
    expect(problemsOf({ GATEWAY_ROUTES_FILE: based }).join('\n')).toMatch(
      /upstream: must be an http\(s\):\/\/host\[:port\] origin/,
    );
    for (const url of ['http://u:p@host:1', 'http://host:1/x', 'http://host:1/?a=1', 'ftp://host']) {
      expect(problemsOf({ UPSTREAM_URL: url }), url).toEqual([
        expect.stringMatching(/^UPSTREAM_URL: must be an http\(s\):\/\/host\[:port\] origin/),
      ]);
    }
    expect(loadConfig({ UPSTREAM_URL: 'https://svc.internal:8443/' }).upstreamUrl).toBe('https://svc.internal:8443/');
  });
});
