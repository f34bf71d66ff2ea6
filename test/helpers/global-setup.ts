/**
 * Runs once per `vitest run`: picks the services, creates this run's database (migrated) and Redis
 * prefix, compiles dist/ (the workspace verifier's, then the gateway's) for the end-to-end tests
 * that spawn the real `serve` process, and tears everything down afterwards.
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import './provided.js';
import { createPg } from '../../gateway/store/pg.js';
import { migrate } from '../../gateway/store/migrate.js';
import { createDatabase, dropDatabase, randomPrefix, startServices } from './services.js';

/** A URL with its password replaced, for the one line the setup prints. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await startServices();
  // One line, so a reader knows which services this run talks to (docs/testing.md explains the order).
  console.log(
    `test services (${services.source}): Postgres ${redactUrl(services.postgresAdminUrl)}, Redis ${redactUrl(services.redisUrl)}`,
  );
  const databaseUrl = await createDatabase(services.postgresAdminUrl);
  const db = createPg({ url: databaseUrl, poolSize: 2 });
  await migrate(db);
  await db.close();
  const redisPrefix = randomPrefix('run');
  project.provide('databaseUrl', databaseUrl);
  project.provide('postgresAdminUrl', services.postgresAdminUrl);
  project.provide('redisUrl', services.redisUrl);
  project.provide('redisPrefix', redisPrefix);
  if (process.env.G2D_TEST_SKIP_BUILD !== '1') {
    // Emit even when a file elsewhere does not typecheck (lint and typecheck gate CI separately),
    // so the end-to-end tests always spawn the code under test.
    // The workspace verifier first: the compiled gateway and stub import its dist/.
    for (const project of ['packages/verifier/tsconfig.build.json', 'tsconfig.build.json']) {
      try {
        execFileSync('npx', ['tsc', '-p', project], { stdio: 'inherit' });
      } catch {
        // tsc exits non-zero on type errors but still writes dist/
      }
    }
    execFileSync('node', ['bin/copy-assets.cjs'], { stdio: 'inherit' });
  }
  return async () => {
    await dropDatabase(services.postgresAdminUrl, databaseUrl).catch(() => {});
    const redis = new Redis(services.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    } catch {
      // best effort
    } finally {
      redis.disconnect();
    }
    await services.stop();
  };
}
