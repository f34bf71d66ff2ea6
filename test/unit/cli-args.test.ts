/** The admin CLI's argument parsing and time arguments (gateway/cli/args.ts, time.ts). */
import { describe, expect, it } from 'vitest';
import { CliError, parseArgs, wantsHelp } from '../../gateway/cli/args.js';
import { parseTimeArg } from '../../gateway/cli/time.js';

const NOW = Date.parse('2026-06-15T12:00:00Z');

describe('parseArgs', () => {
  const options = { tenant: { type: 'string' }, platform: { type: 'boolean' } } as const;

  it('reads declared options, --name=value included', () => {
    const a = parseArgs(['--tenant', 'a.test', '--platform'], { options });
    expect([...a.flags]).toEqual([
      ['tenant', 'a.test'],
      ['platform', true],
    ]);
    expect(parseArgs(['--tenant=-odd'], { options }).flags.get('tenant')).toBe('-odd');
  });

  it.each([
    [['--bogus'], /unknown option --bogus/],
    [['--tenant'], /--tenant needs a value/],
    [['--tenant', '--platform'], /--tenant needs a value/],
    [['--platform=yes'], /--platform takes no value|--platform/],
    [['--tenant', 'a', '--tenant', 'b'], /--tenant given more than once/],
    [['stray'], /unexpected argument stray/],
  ])('refuses %j with a usage error', (argv, message) => {
    let error: unknown;
    try {
      parseArgs(argv, { options });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    expect((error as CliError).message).toMatch(message);
  });

  it('without declared options: every --name is a string unless listed as boolean', () => {
    const a = parseArgs(['--email', 'x@y.test', '--password-stdin', '--tenant=t'], { booleans: ['password-stdin'] });
    expect(Object.fromEntries(a.flags)).toEqual({ email: 'x@y.test', 'password-stdin': true, tenant: 't' });
    expect(() => parseArgs(['--email'], { booleans: [] })).toThrow(/--email needs a value/);
  });

  it('finds --help and -h before a -- terminator only', () => {
    expect(wantsHelp(['user', 'create', '-h'])).toBe(true);
    expect(wantsHelp(['--help'])).toBe(true);
    expect(wantsHelp(['--', '--help'])).toBe(false);
    expect(wantsHelp(['user', 'list'])).toBe(false);
  });
});

describe('parseTimeArg', () => {
  it.each([
    ['2026-01-31', '2026-01-31T00:00:00.000Z'],
    ['2026-01-31T12:30:00Z', '2026-01-31T12:30:00.000Z'],
    ['2026-01-31T12:30:00.250+02:00', '2026-01-31T10:30:00.250Z'],
    ['90s', '2026-06-15T11:58:30.000Z'],
    ['30m', '2026-06-15T11:30:00.000Z'],
    ['24h', '2026-06-14T12:00:00.000Z'],
    ['7d', '2026-06-08T12:00:00.000Z'],
    ['2w', '2026-06-01T12:00:00.000Z'],
  ])('%s → %s', (text, iso) => {
    expect(parseTimeArg(text, 'since', NOW).toISOString()).toBe(iso);
  });

  it.each(['yesterday', '2026-01-31T12:00:00', '2026-13-01', '7 d', '-7d', '7y', ''])('refuses %j', (text) => {
    expect(() => parseTimeArg(text, 'since', NOW)).toThrow(/--since must be an ISO-8601/);
  });
});
