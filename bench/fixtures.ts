/**
 * The bench's own data: a fresh database (migrated) and Redis key prefix, dropped at the end like
 * the test suite's (docs/testing.md), plus one tenant, users, an edge node and tokens, created through the
 * gateway's own stores and token service so they are exactly what the gateway would issue.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { generateNodeKey } from '../gateway/auth/node-keys.js';
import { createPasswordHasher } from '../gateway/auth/passwords.js';
import type { PasswordConfig } from '../gateway/config/types.js';
import { createTokenService } from '../gateway/auth/tokens.js';
import { migrate } from '../gateway/store/migrate.js';
import { createNodeStore } from '../gateway/store/nodes.js';
import { createPg } from '../gateway/store/pg.js';
import { createTenantStore } from '../gateway/store/tenants.js';
import { createUserStore } from '../gateway/store/users.js';

export interface BenchData {
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  readonly jwtSecret: string;
  readonly issuer: string;
  readonly audience: string;
  readonly identitySigningKey: string;
  readonly tenantDomain: string;
  readonly tenantId: string;
  /** One token per user; `tokens[0]` is the "one token" scenario's. */
  readonly tokens: readonly string[];
  readonly nodeKey: string;
  /** Users who log in during the login scenarios (same password, each its own row). */
  readonly loginEmails: readonly string[];
  readonly loginPassword: string;
  /** Drops the database and deletes every Redis key under the prefix. */
  cleanup(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(adminUrl: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates the database, schema and data. `users` distinct users each get one token (the
 * 1 000-token scenario); the first `loginUsers` of them log in during the login scenarios.
 */
export async function createBenchData(options: {
  postgresAdminUrl: string;
  redisUrl: string;
  users: number;
  loginUsers: number;
  passwords: PasswordConfig;
}): Promise<BenchData> {
  const dbName = `g2d_bench_${randomBytes(6).toString('hex')}`;
  await admin(options.postgresAdminUrl, (c) => c.query(`CREATE DATABASE ${dbName}`));
  const databaseUrl = withDatabase(options.postgresAdminUrl, dbName);
  const redisPrefix = `g2d:bench:${randomBytes(4).toString('hex')}:`;
  const cleanup = async () => {
    await admin(options.postgresAdminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).catch(
      () => {},
    );
    const redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
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
  };

  const db = createPg({ url: databaseUrl, poolSize: 8 });
  let closed = false;
  try {
    await migrate(db);
    const tenantDomain = `bench-${randomBytes(3).toString('hex')}.test`;
    const { tenant } = await createTenantStore(db).create({ domain: tenantDomain, name: 'Bench', isPlatform: false });
    const users = createUserStore(db);
    const loginPassword = `bench-${randomBytes(9).toString('base64url')}`;
    // One argon2id hash at the gateway's configured cost, shared by every user row: each login
    // still pays a full verify, and setup does not pay a thousand hashes.
    const passwordHash = await createPasswordHasher(options.passwords).hash(loginPassword);
    const created: { id: string; email: string }[] = [];
    const batch = 16;
    for (let i = 0; i < options.users; i += batch) {
      const rows = await Promise.all(
        Array.from({ length: Math.min(batch, options.users - i) }, (_, k) =>
          users.create({
            tenantId: tenant.id,
            email: `user${i + k}@${tenantDomain}`,
            passwordHash,
            role: 'agent',
            mustChangePassword: false,
          }),
        ),
      );
      for (const u of rows) created.push({ id: u.id, email: u.email });
    }
    const key = generateNodeKey();
    await createNodeStore(db).create({ tenantId: tenant.id, name: 'bench-node', apiKeyHash: key.hash });

    const jwtSecret = randomBytes(32).toString('hex');
    const issuer = 'get2dial';
    const audience = 'get2dial-control';
    const tokenService = createTokenService(
      { secret: jwtSecret, previousSecrets: [], issuer, audience, ttlSeconds: 6 * 3600, clockToleranceSeconds: 30 },
      { cacheSize: 0 },
    );
    const tokens: string[] = [];
    for (const u of created)
      tokens.push(
        (await tokenService.mint({ userId: u.id, tenantId: tenant.id, email: u.email, role: 'agent' })).token,
      );
    const { privateKey } = generateKeyPairSync('ed25519', {
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    return {
      databaseUrl,
      redisUrl: options.redisUrl,
      redisPrefix,
      jwtSecret,
      issuer,
      audience,
      identitySigningKey: privateKey,
      tenantDomain,
      tenantId: tenant.id,
      tokens,
      nodeKey: key.rawKey,
      loginEmails: created.slice(0, options.loginUsers).map((u) => u.email),
      loginPassword,
      cleanup,
    };
  } catch (err) {
    closed = true;
    await db.close().catch(() => {});
    await cleanup();
    throw err;
  } finally {
    if (!closed) await db.close().catch(() => {});
  }
}
