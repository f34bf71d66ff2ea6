/**
 * Real Postgres and Redis for tests (docs/testing.md): `DATABASE_URL`/`REDIS_URL` when set, else
 * testcontainers when a Docker engine answers, else the loopback defaults
 * (127.0.0.1:5432 user postgres trust, 127.0.0.1:6379). Each run gets its own database and its
 * own Redis key prefix, dropped afterwards.
 */
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface ServiceUrls {
  /** Server-level URL (database part is replaced per run). */
  postgresAdminUrl: string;
  redisUrl: string;
  stop: () => Promise<void>;
  source: 'env' | 'testcontainers' | 'loopback';
}

function dockerMayAnswer(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

export async function startServices(): Promise<ServiceUrls> {
  const envDb = process.env.DATABASE_URL;
  const envRedis = process.env.REDIS_URL;
  if (envDb && envRedis) return { postgresAdminUrl: envDb, redisUrl: envRedis, stop: async () => {}, source: 'env' };
  if (!envDb && !envRedis && process.env.G2D_TEST_NO_CONTAINERS !== '1' && dockerMayAnswer()) {
    try {
      const { GenericContainer, Wait } = await import('testcontainers');
      const pgC = await new GenericContainer('postgres:16-alpine')
        .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start();
      const redisC = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
      return {
        postgresAdminUrl: `postgres://postgres@${pgC.getHost()}:${pgC.getMappedPort(5432)}/postgres`,
        redisUrl: `redis://${redisC.getHost()}:${redisC.getMappedPort(6379)}`,
        stop: async () => {
          await Promise.allSettled([pgC.stop(), redisC.stop()]);
        },
        source: 'testcontainers',
      };
    } catch {
      // No engine answered: fall through to loopback.
    }
  }
  return {
    postgresAdminUrl: envDb ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: envRedis ?? 'redis://127.0.0.1:6379',
    stop: async () => {},
    source: envDb || envRedis ? 'env' : 'loopback',
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates a fresh, empty database and returns its URL. */
export async function createDatabase(
  adminUrl: string,
  name = `g2d_test_${randomBytes(6).toString('hex')}`,
): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return withDatabase(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^g2d_test_[0-9a-f]+$/.test(name)) return;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export function randomPrefix(label = 'run'): string {
  return `g2d:test:${label}:${randomBytes(4).toString('hex')}:`;
}
