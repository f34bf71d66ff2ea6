import type { Config } from '../config/types.js';
import type { Db } from '../store/pg.js';
import type { AuthStateStore } from '../store/state.js';
import type { OptionTable, ParsedArgs } from './args.js';

/** What every CLI command receives. Resources are opened lazily and closed by main. */
export interface CliContext {
  readonly config: Config;
  db(): Promise<Db>;
  state(): Promise<AuthStateStore>;
  /** Reads all of standard input (for --password-stdin), without a trailing newline. */
  readStdin(): Promise<string>;
}

/**
 * A command returns a JSON-serialisable value, printed on stdout (or, for `output: 'jsonl'`, an
 * async iterable whose items are printed one JSON line each); it throws CliError on failure.
 */
export type Command = (args: ParsedArgs, ctx: CliContext) => Promise<unknown>;

/** `"group sub"` (or `"group"`) → command. */
export interface CommandSpec {
  readonly run: Command;
  /** One line: the command and its options, shown by `--help` and after a usage error. */
  readonly usage: string;
  /** One or two sentences for `--help`. */
  readonly summary?: string;
  /** The options, parsed strictly; without it, see `booleans` and `allowOnly` (cli/args.ts). */
  readonly options?: OptionTable;
  /** Boolean flags of a command without `options`. */
  readonly booleans?: readonly string[];
  /** `json` (default): one pretty-printed value. `jsonl`: a stream, one compact JSON value per line. */
  readonly output?: 'json' | 'jsonl';
}

export type CommandTable = Readonly<Record<string, CommandSpec>>;
