/**
 * docker-compose.yml, its env file example, the nginx balancer config and the Dockerfile, checked
 * without a Docker engine (docs/scale-out.md): the services and their order, health checks on /healthz or
 * /readyz, two gateway replicas sharing one env file, no secret written into the compose file, and
 * an env file the gateway's own config loader accepts in production. `docker compose config` runs
 * too where the compose plugin exists.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../gateway/config/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  env_file?: string | string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  restart?: string;
  stop_grace_period?: string;
  secrets?: string[];
  ports?: string[];
  volumes?: string[];
  deploy?: { replicas?: number };
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
  secrets?: Record<string, { file: string }>;
};
const services = compose.services;
const text = (v: string[] | string | undefined) => (Array.isArray(v) ? v.join(' ') : (v ?? ''));
const isGateway = (s: Service) =>
  !text(s.command).includes('migrate') &&
  !text(s.command).includes('upstream-stub') &&
  s.image?.startsWith('get2dial-gateway') === true;
const gateways = Object.entries(services).filter(([, s]) => isGateway(s));

/** KEY=value lines of an env file (comments and blanks skipped). */
function envFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read(path).split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

function seconds(duration: string | undefined): number {
  const m = /^(\d+)(s|m)$/.exec(duration ?? '');
  return m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : 0;
}

describe('docker-compose.yml', () => {
  it('has postgres, redis, a one-shot migrate, two gateway replicas, a load balancer and the stub', () => {
    expect(services.postgres?.image).toMatch(/^postgres:/);
    expect(services.redis?.image).toMatch(/^redis:/);
    expect(services.migrate).toBeDefined();
    expect(services.stub).toBeDefined();
    const lb = Object.values(services).find((s) => /^(nginx|caddy)/.test(s.image ?? ''));
    expect(lb).toBeDefined();
    const replicas = gateways.reduce((n, [, s]) => n + (s.deploy?.replicas ?? 1), 0);
    expect(replicas).toBeGreaterThanOrEqual(2);
  });

  it('runs migrate once, after Postgres is healthy, before any gateway starts', () => {
    const migrate = services.migrate as Service;
    expect(text(migrate.command)).toMatch(/migrate/);
    expect(migrate.restart).toBe('no');
    expect(migrate.depends_on?.postgres?.condition).toBe('service_healthy');
    for (const [name, gw] of gateways) {
      expect(gw.depends_on?.migrate?.condition, name).toBe('service_completed_successfully');
      expect(gw.depends_on?.redis?.condition, name).toBe('service_healthy');
    }
  });

  it('gives every long-running service a health check, the gateways on /readyz or /healthz', () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === 'migrate') continue;
      expect(s.healthcheck?.test, `${name} healthcheck`).toBeDefined();
    }
    for (const [name, gw] of gateways) expect(text(gw.healthcheck?.test), name).toMatch(/\/(readyz|healthz)/);
    const lb = Object.values(services).find((s) => /^(nginx|caddy)/.test(s.image ?? '')) as Service;
    expect(text(lb.healthcheck?.test)).toMatch(/\/(readyz|healthz)/);
    for (const [name] of gateways) expect(lb.depends_on?.[name]?.condition).toBe('service_healthy');
  });

  it('configures the replicas identically from one env file, for production, with time to drain', () => {
    const files = new Set(gateways.map(([, s]) => JSON.stringify(s.env_file)));
    expect(files.size).toBe(1);
    expect(text(gateways[0]?.[1].env_file)).toContain('compose.env');
    const envs = new Set(gateways.map(([, s]) => JSON.stringify(s.environment)));
    expect(envs.size).toBe(1);
    for (const [name, gw] of gateways) {
      expect(gw.environment?.NODE_ENV, name).toBe('production');
      expect(gw.environment?.DB_HOST ?? gw.environment?.DATABASE_URL, name).toBeTruthy();
      expect(gw.environment?.REDIS_ADDR ?? gw.environment?.REDIS_URL, name).toBeTruthy();
      // Docker's stop timeout must outlast SHUTDOWN_GRACE_SECONDS (25 s) or the drain is SIGKILLed.
      expect(seconds(gw.stop_grace_period), name).toBeGreaterThan(25);
    }
  });

  it('writes no secret into the compose file itself', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|SECRET|TOKEN|SIGNING_KEY$/.test(key))
          expect.fail(`${name}.environment.${key} holds a secret; put it in config/compose.env`);
        expect(String(value), `${name}.${key}`).not.toMatch(/:\/\/[^/@\s]+:[^/@\s]+@/); // no user:password@ URLs
      }
    }
    expect(read('.gitignore')).toMatch(/^config\/compose\.env$/m);
    expect(read('.gitignore')).toMatch(/^config\/secrets\/$/m);
  });

  it('routes the balancer to every gateway replica, with WebSocket upgrades and metrics kept internal', () => {
    const nginx = read('config/nginx/gateway.conf');
    for (const [name] of gateways) expect(nginx).toContain(`server ${name}:8080`);
    expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade/);
    // /metrics and anything under it (the gateway also answers /metrics/), in any case.
    expect(nginx).toMatch(/location ~\* \^\/metrics\(\/\|\$\)/);
    expect(nginx).toMatch(/# listen 443 ssl;/); // TLS-ready
    const lb = Object.values(services).find((s) => /^nginx/.test(s.image ?? '')) as Service;
    expect(lb.volumes?.some((v) => v.startsWith('./config/nginx/gateway.conf:'))).toBe(true);
  });
});

describe('config/compose.env.example', () => {
  it('together with the compose environment, passes the gateway config loader in production', () => {
    const env = envFile('config/compose.env.example');
    for (const key of ['AUTH_JWT_SECRET', 'POSTGRES_PASSWORD', 'DB_PASSWORD', 'REDIS_PASSWORD'])
      expect(env[key], key).toBeTruthy();
    expect(env.DB_PASSWORD).toBe(env.POSTGRES_PASSWORD);
    expect(env.DB_USER).toBe(env.POSTGRES_USER);
    expect(env.DB_NAME).toBe(env.POSTGRES_DB);
    const dir = mkdtempSync(join(tmpdir(), 'g2d-compose-'));
    try {
      const keyFile = join(dir, 'identity_signing_key.pem');
      writeFileSync(
        keyFile,
        generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      );
      const gw = gateways[0]?.[1] as Service;
      // As shipped, the placeholders are refused: a forgotten one never runs in production.
      expect(() => loadConfig({ ...env, ...gw.environment, IDENTITY_SIGNING_KEY_FILE: keyFile })).toThrow(
        /AUTH_JWT_SECRET: still the example placeholder/,
      );
      // Filled in as the example file's header says (openssl rand -hex 32), it loads.
      const filled = { ...env, AUTH_JWT_SECRET: randomBytes(32).toString('hex') };
      const config = loadConfig({ ...filled, ...gw.environment, IDENTITY_SIGNING_KEY_FILE: keyFile });
      expect(config.production).toBe(true);
      expect(config.database.url).toMatch(/^postgres:\/\/get2dial:.+@postgres:5432\/get2dial$/);
      expect(config.redis.url).toBe('redis://redis:6379');
      expect(config.redis.password).toBe(env.REDIS_PASSWORD);
      expect(config.trustedProxies.length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The one-shot migrate runs the CLI in the same production image with only the database.
    const migrateService = services.migrate as Service;
    const cli = loadConfig({ ...env, ...migrateService.environment }, { purpose: 'cli' });
    expect(cli.production).toBe(true);
    expect(cli.database.url).toMatch(/^postgres:\/\/get2dial:.+@postgres:5432\/get2dial$/);
    const secret = compose.secrets?.identity_signing_key;
    expect(secret?.file).toBe('./config/secrets/identity_signing_key.pem');
  });
});

describe('Dockerfile', () => {
  it('builds dist with npm ci && npm run build and runs bin/gateway.cjs', () => {
    const file = read('Dockerfile');
    expect(file).toMatch(/RUN npm ci\b/);
    expect(file).toMatch(/npm run build/);
    expect(file).toMatch(/CMD \["node", "bin\/gateway\.cjs"\]/);
    expect(file).toMatch(/^USER node$/m);
    expect(read('.dockerignore')).toMatch(/^config\/compose\.env$/m);
  });
});

const composeAvailable = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!composeAvailable)('docker compose config', () => {
  it('accepts the file with the example env file in place', () => {
    // A scratch project: the env file and the secret exist only as copies of the examples.
    const dir = mkdtempSync(join(tmpdir(), 'g2d-compose-'));
    try {
      mkdirSync(join(dir, 'config', 'secrets'), { recursive: true });
      mkdirSync(join(dir, 'config', 'nginx'), { recursive: true });
      copyFileSync(join(ROOT, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
      copyFileSync(join(ROOT, 'Dockerfile'), join(dir, 'Dockerfile'));
      copyFileSync(join(ROOT, 'config', 'compose.env.example'), join(dir, 'config', 'compose.env'));
      copyFileSync(join(ROOT, 'config', 'nginx', 'gateway.conf'), join(dir, 'config', 'nginx', 'gateway.conf'));
      writeFileSync(join(dir, 'config', 'secrets', 'identity_signing_key.pem'), 'placeholder');
      const r = spawnSync('docker', ['compose', '-f', join(dir, 'docker-compose.yml'), 'config', '--quiet'], {
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
