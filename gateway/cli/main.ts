/**
 * Admin CLI: `npm run cli -- <command>` (docs/operations.md). JSON on stdout; errors on stderr with a
 * non-zero exit code (1: the operation failed, 2: the command line is wrong). `--help`/`-h` prints
 * usage on stdout with exit 0. Each command group lives in its own file and registers a CommandTable.
 */
import { once } from 'node:events';
import { ConfigError, loadConfig } from '../config/index.js';
import type { Config } from '../config/types.js';
import { readDatabaseUrl } from '../quickstart/runtime-file.js';
import { createPg, type Db } from '../store/pg.js';
import { createRedisClient, createRedisStateStore } from '../store/redis.js';
import type { AuthStateStore } from '../store/state.js';
import { CliError, parseArgs, wantsHelp } from './args.js';
import { auditCommands } from './audit.js';
import type { CliContext, CommandSpec, CommandTable } from './context.js';
import { commandUsage, groupUsage, overallUsage } from './help.js';
import { keysCommands } from './keys.js';
import { migrateCommands } from './migrate.js';
import { nodeCommands } from './node.js';
import { tenantCommands } from './tenant.js';
import { userCommands } from './user.js';

const ALL: CommandTable = {
  ...migrateCommands,
  ...tenantCommands,
  ...userCommands,
  ...nodeCommands,
  ...auditCommands,
  ...keysCommands,
};

function lookup(argv: readonly string[]): { spec: CommandSpec; rest: readonly string[] } | null {
  const two = `${argv[0] ?? ''} ${argv[1] ?? ''}`;
  if (ALL[two]) return { spec: ALL[two], rest: argv.slice(2) };
  const one = argv[0] ?? '';
  if (ALL[one]) return { spec: ALL[one], rest: argv.slice(1) };
  return null;
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
        if (!url)
          throw new CliError(
            `DATABASE_URL (or DB_*) is not set, and no running quickstart was found in ${config.dataDir}`,
            1,
          );
        db = createPg({ url, poolSize: 2, ssl: config.database.ssl, applicationName: 'get2dial-cli' });
      }
      return db;
    },
    async state() {
      if (!state) {
        if (!config.redis.url && !config.redis.sentinels && !config.redis.clusterNodes) {
          // The quickstart without REDIS_URL keeps lockouts in its own memory, out of the CLI's reach.
          if (!config.production && readDatabaseUrl(config.dataDir)) {
            throw new CliError(
              'the quickstart keeps lockout counters in its own process (no REDIS_URL): restart it (Ctrl-C, then npm start) to clear them, or wait AUTH_LOCKOUT_SECONDS (default 900 s)',
              1,
            );
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
      return Buffer.concat(chunks)
        .toString('utf8')
        .replace(/\r?\n$/, '');
    },
    async close() {
      await Promise.allSettled([db?.close(), state?.close()]);
    },
  };
}

/** Writes to stdout, waiting when the pipe is full, so a long stream never piles up in memory. */
async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

export async function runCli(argv: readonly string[]): Promise<number> {
  const found = lookup(argv);
  if (!found) {
    // `--help` alone, or `<group> --help`: usage on stdout. Anything else is not a command.
    if (wantsHelp(argv) && argv.length <= 2) {
      const group =
        argv.length === 2
          ? groupUsage(ALL, argv[0] === '--help' || argv[0] === '-h' ? (argv[1] ?? '') : (argv[0] ?? ''))
          : null;
      if (argv.length === 1 || group) {
        process.stdout.write(`${group ?? overallUsage(ALL)}\n`);
        return 0;
      }
    }
    const group = argv.length > 0 ? groupUsage(ALL, argv[0] ?? '') : null;
    process.stderr.write(
      `${argv.length ? `error: unknown command: ${argv.join(' ')}\n` : ''}${group ?? overallUsage(ALL)}\n`,
    );
    return 2;
  }
  const { spec, rest } = found;
  if (wantsHelp(rest)) {
    process.stdout.write(`${commandUsage(spec)}\n`);
    return 0;
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
    const args = parseArgs(rest, spec);
    const result = await spec.run(args, ctx);
    if (spec.output === 'jsonl') {
      for await (const item of result as AsyncIterable<unknown>) await write(`${JSON.stringify(item)}\n`);
    } else {
      await write(`${JSON.stringify(result, null, 2)}\n`);
    }
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const usageError = err instanceof CliError && err.exitCode === 2;
    process.stderr.write(
      `error: ${message}\n${usageError ? `usage: npm run cli -- ${spec.usage}\n(--help for details)\n` : ''}`,
    );
    return err instanceof CliError ? err.exitCode : 1;
  } finally {
    await ctx.close();
  }
}

// `audit export … | head` closes the pipe early: that is the reader's choice, not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));

// Exit only once stdout has flushed: a long export must not lose its tail in the pipe.
const exitAfterFlush = (code: number) => process.stdout.write('', () => process.exit(code));

runCli(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
