/**
 * Admin CLI (docs/operations.md): `npm run cli -- <command>`. JSON on stdout; errors on stderr with a
 * non-zero exit code. Each command group lives in its own file and registers a CommandTable.
 */
import { ConfigError, loadConfig } from '../config/index.js';
import type { Config } from '../config/types.js';
import { readDatabaseUrl } from '../quickstart/runtime-file.js';
import { createPg, type Db } from '../store/pg.js';
import { createRedisClient, createRedisStateStore } from '../store/redis.js';
import type { AuthStateStore } from '../store/state.js';
import { CliError, parseArgs } from './args.js';
import type { CliContext, CommandTable } from './context.js';
import { keysCommands } from './keys.js';
import { migrateCommands } from './migrate.js';
import { nodeCommands } from './node.js';
import { tenantCommands } from './tenant.js';
import { userCommands } from './user.js';

const TABLES: CommandTable[] = [migrateCommands, tenantCommands, userCommands, nodeCommands, keysCommands];

function lookup(argv: readonly string[]) {
  const all: CommandTable = Object.assign({}, ...TABLES) as CommandTable;
  const two = `${argv[0] ?? ''} ${argv[1] ?? ''}`;
  if (all[two]) return { spec: all[two], rest: argv.slice(2) };
  const one = argv[0] ?? '';
  if (all[one]) return { spec: all[one], rest: argv.slice(1) };
  return { spec: undefined, rest: argv, all };
}

function usage(): string {
  const all: CommandTable = Object.assign({}, ...TABLES) as CommandTable;
  return ['usage: npm run cli -- <command>', ...Object.values(all).map((c) => `  ${c.usage}`)].join('\n');
}

/** Opens the database / state store on first use; they are closed when the command ends. */
function createContext(config: Config): CliContext & { close(): Promise<void> } {
  let db: Db | undefined;
  let state: AuthStateStore | undefined;
  return {
    config,
    async db() {
      if (!db) {
        // Without DATABASE_URL/DB_*, a quickstart running on GATEWAY_DATA_DIR (default ./.data)
        // leaves its embedded database's URL there (gateway/quickstart/runtime-file.ts).
        const url = config.database.url ?? (config.production ? null : readDatabaseUrl(config.dataDir));
        if (!url) throw new CliError(`DATABASE_URL (or DB_*) is not set, and no running quickstart was found in ${config.dataDir}`, 1);
        db = createPg({ url, poolSize: 2, ssl: config.database.ssl, applicationName: 'get2dial-cli' });
      }
      return db;
    },
    async state() {
      if (!state) {
        if (!config.redis.url && !config.redis.sentinels && !config.redis.clusterNodes) {
          // The quickstart without REDIS_URL keeps lockouts in its own memory, out of the CLI's reach.
          if (!config.production && readDatabaseUrl(config.dataDir)) {
            throw new CliError('the quickstart keeps lockout counters in its own process (no REDIS_URL): restart it (Ctrl-C, then npm start) to clear them, or wait AUTH_LOCKOUT_SECONDS (default 900 s)', 1);
          }
          throw new CliError('REDIS_URL (or REDIS_ADDR) is not set', 1);
        }
        state = createRedisStateStore(createRedisClient(config.redis), config.redis.keyPrefix);
      }
      return state;
    },
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
      return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    },
    async close() {
      await Promise.allSettled([db?.close(), state?.close()]);
    },
  };
}

export async function runCli(argv: readonly string[]): Promise<number> {
  const { spec, rest } = lookup(argv);
  if (!spec) {
    process.stderr.write(`${argv.length ? `unknown command: ${argv.join(' ')}\n` : ''}${usage()}\n`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig(undefined, { purpose: 'cli' });
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
    return 1;
  }
  const ctx = createContext(config);
  try {
    const args = parseArgs(rest, new Set(spec.booleans ?? []));
    const result = await spec.run(args, ctx);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  } finally {
    await ctx.close();
  }
}

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
