/**
 * The development defaults (docs/configuration.md), shared by `npm start` and `npm run serve` outside production:
 * a missing AUTH_JWT_SECRET or IDENTITY_SIGNING_KEY is generated once and kept in the data
 * directory (config/dev-secrets.ts), and a missing database is the embedded PGlite under that
 * directory, migrated on start. (A missing Redis is the in-process store: createApp decides and
 * warns.) Production never gets here: loadConfig refuses NODE_ENV=production without them.
 */
import type { Logger } from 'pino';
import { generateSigningKey } from '../auth/identity.js';
import { resolveDevSecrets } from '../config/dev-secrets.js';
import { withOverrides } from '../config/quickstart.js';
import type { Config } from '../config/types.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../store/embedded.js';

export interface DevDefaults {
  /** The config with every development default filled in. */
  readonly config: Config;
  /** Set when the embedded database was started: close it after the gateway. */
  readonly embedded?: EmbeddedPostgres;
}

/** Generated/kept secrets only: what a cluster supervisor resolves before its workers start. */
export async function withDevSecrets(config: Config, log: Logger): Promise<Config> {
  if (config.production || (config.jwt.secret !== null && config.identity.signingKey !== null)) return config;
  const secrets = await resolveDevSecrets(config, { generateSigningKey });
  if (secrets.generated.length > 0) {
    log.info({ file: secrets.file, secrets: secrets.generated }, 'development secrets loaded from the data directory');
  }
  return secrets.config;
}

/** Secrets, then the embedded database when no DATABASE_URL is configured. */
export async function withDevDefaults(config: Config, log: Logger): Promise<DevDefaults> {
  const withSecrets = await withDevSecrets(config, log);
  if (withSecrets.database.url || withSecrets.production) return { config: withSecrets };
  const embedded = await startEmbeddedPostgres({ dataDir: withSecrets.dataDir });
  // The URL is logged so the admin CLI can reach the embedded database while the gateway runs.
  log.info(
    { dataDir: withSecrets.dataDir, url: embedded.url },
    'no DATABASE_URL: using embedded Postgres (PGlite) in the data directory',
  );
  return {
    config: withOverrides(withSecrets, {
      database: { ...withSecrets.database, url: embedded.url, poolSize: embedded.poolSize },
    }),
    embedded,
  };
}
