/**
 * Argument parsing for the admin CLI, on Node's own `util.parseArgs` (strict: an unknown option or
 * a missing value is an error). A command either declares its `options`, or — the older shape —
 * lists only its `booleans`: every other `--name` is then read as a string and the command checks
 * the names itself with `allowOnly`. Both shapes yield the same ParsedArgs.
 */
import { parseArgs as parseNodeArgs } from 'node:util';

export interface ParsedArgs {
  readonly positionals: readonly string[];
  readonly flags: ReadonlyMap<string, string | true>;
}

/** One option a command takes; `description` is shown by `--help`. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly description?: string;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** A failure the CLI reports on stderr; exit code 2 means "the command line is wrong" (usage is shown). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** `--help` / `-h` anywhere before a `--` terminator. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

type NodeOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/**
 * Parses a command's arguments. With `options` the parse is strict against them; without, option
 * names are taken from argv and typed string unless listed in `booleans`.
 */
export function parseArgs(
  argv: readonly string[],
  spec: { options?: OptionTable; booleans?: readonly string[] },
): ParsedArgs {
  const options: NodeOptions = {};
  if (spec.options) {
    for (const [name, o] of Object.entries(spec.options))
      options[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  } else {
    const booleans = new Set(spec.booleans ?? []);
    const { tokens } = parseNodeArgs({ args: [...argv], strict: false, allowPositionals: true, tokens: true });
    for (const t of tokens)
      if (t.kind === 'option' && t.rawName.startsWith('--'))
        options[t.name] = { type: booleans.has(t.name) ? 'boolean' : 'string' };
  }
  let parsed;
  try {
    parsed = parseNodeArgs({ args: [...argv], options, strict: true, allowPositionals: false, tokens: true });
  } catch (err) {
    throw new CliError(describeParseError(err));
  }
  const flags = new Map<string, string | true>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option') continue;
    if (flags.has(t.name)) throw new CliError(`--${t.name} given more than once`);
    if (t.value === undefined) {
      if (options[t.name]?.type === 'string') throw new CliError(`--${t.name} needs a value`);
      flags.set(t.name, true);
    } else {
      if (options[t.name]?.type === 'boolean') throw new CliError(`--${t.name} takes no value`);
      flags.set(t.name, t.value);
    }
  }
  return { positionals: parsed.positionals, flags };
}

/** Node's parse errors, reworded the way the rest of the CLI speaks. */
function describeParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const quoted = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return `${quoted.split(' ')[0]} needs a value (write --name=value for a value starting with "-")`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quoted}`;
    default:
      return e.message ?? String(err);
  }
}

/** A required string flag. */
export function need(args: ParsedArgs, name: string): string {
  const v = args.flags.get(name);
  if (typeof v !== 'string' || v === '') throw new CliError(`--${name} is required`);
  return v;
}

export function optional(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  if (v === true) throw new CliError(`--${name} needs a value`);
  return v;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true;
}

/** Rejects flags a command does not know, so typos fail loudly (commands without declared options). */
export function allowOnly(args: ParsedArgs, names: readonly string[]): void {
  for (const key of args.flags.keys()) if (!names.includes(key)) throw new CliError(`unknown option --${key}`);
}
