import type { Config } from '../config/types.js';
import type { Db } from '../store/pg.js';
import type { AuthStateStore } from '../store/state.js';
import type { ParsedArgs } from './args.js';

/** What every CLI command receives. Resources are opened lazily and closed by main. */
export interface CliContext {
  readonly config: Config;
  db(): Promise<Db>;
  state(): Promise<AuthStateStore>;
  /** Reads all of standard input (for --password-stdin), without a trailing newline. */
  readStdin(): Promise<string>;
}

/** A command returns a JSON-serialisable value, printed on stdout; it throws CliError on failure. */
export type Command = (args: ParsedArgs, ctx: CliContext) => Promise<unknown>;

/** `"group sub"` (or `"group"`) → command, plus the boolean flags it takes. */
export interface CommandSpec {
  readonly run: Command;
  readonly booleans?: readonly string[];
  readonly usage: string;
}

export type CommandTable = Readonly<Record<string, CommandSpec>>;
