/** STRIP_CLIENT_HEADERS: defaults, replacement, `none`, and one-pass validation at load. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../gateway/config/index.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('STRIP_CLIENT_HEADERS', () => {
  it('defaults to the identity headers of other systems', () => {
    expect(loadConfig({}).stripClientHeaders).toEqual([
      'x-tenant-id',
      'x-user-id',
      'x-user-role',
      'x-node-id',
      'remote-user',
      'x-forwarded-user',
      'x-auth-request-*',
    ]);
  });
  it('a value replaces the defaults (lower-cased, `_` read as `-`); `none` strips nothing extra', () => {
    expect(loadConfig({ STRIP_CLIENT_HEADERS: ' X-Team_Id , X-Internal-* ,' }).stripClientHeaders).toEqual([
      'x-team-id',
      'x-internal-*',
    ]);
    expect(loadConfig({ STRIP_CLIENT_HEADERS: 'none' }).stripClientHeaders).toEqual([]);
  });
  it('refuses what is not a header name, `*` alone and framing headers, all in one error', () => {
    const problems = problemsOf({ STRIP_CLIENT_HEADERS: 'x-ok, bad name, *, x-*-y, Content-Length', PORT: 'x' });
    expect(problems.filter((p) => p.startsWith('STRIP_CLIENT_HEADERS'))).toHaveLength(4);
    expect(problems.some((p) => p.startsWith('PORT'))).toBe(true);
  });
});
