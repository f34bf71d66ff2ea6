/** `--help` text for the admin CLI: the whole command list, a group's commands, or one command. */
import type { CommandSpec, CommandTable } from './context.js';

const PREFIX = 'npm run cli --';

/** Every command, one usage line each. */
export function overallUsage(all: CommandTable): string {
  return [
    `usage: ${PREFIX} <command> [options]`,
    '',
    'commands:',
    ...Object.values(all).map((c) => `  ${c.usage}`),
    '',
    `Output is JSON on stdout; errors go to stderr (exit 1: the operation failed, 2: the command line is wrong).`,
    `Run "${PREFIX} <command> --help" for a command's options.`,
  ].join('\n');
}

/** The commands of one group (`user`, `audit` …), or null when there is no such group. */
export function groupUsage(all: CommandTable, group: string): string | null {
  const specs = Object.entries(all).filter(([name]) => name.split(' ')[0] === group);
  if (specs.length === 0) return null;
  return [`usage: ${PREFIX} ${group} <subcommand> [options]`, '', ...specs.map(([, c]) => `  ${c.usage}`)].join('\n');
}

/** One command: its usage line, summary and options. */
export function commandUsage(spec: CommandSpec): string {
  const lines = [`usage: ${PREFIX} ${spec.usage}`];
  if (spec.summary) lines.push('', spec.summary);
  const options = Object.entries(spec.options ?? {});
  if (options.length > 0) {
    const left = options.map(
      ([name, o]) => `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ' <value>' : ''}`,
    );
    const width = Math.max(...left.map((l) => l.length), '-h, --help'.length) + 2;
    lines.push('', 'options:');
    options.forEach(([, o], i) => lines.push(`  ${(left[i] ?? '').padEnd(width)}${o.description ?? ''}`));
    lines.push(`  ${'-h, --help'.padEnd(width)}show this help`);
  }
  return lines.join('\n');
}
