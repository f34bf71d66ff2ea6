import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { normalizePath, splitTarget } from '../../gateway/http/paths.js';
import { createRouter } from '../../gateway/http/router.js';
import type { RouteDef } from '../../gateway/config/types.js';

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof GatewayError ? err.code : 'thrown';
  }
}

describe('splitTarget: path tricks are refused with 400 INVALID_PATH (docs/api.md)', () => {
  const refused: [string, string][] = [
    ['/api/v1/../auth/login', 'raw dot-dot'],
    ['/api/v1/./users', 'raw dot'],
    ['/api/v1/..', 'trailing dot-dot'],
    ['/api/v1/%2e%2e/auth', 'encoded dot-dot'],
    ['/api/v1/%2E%2e/auth', 'encoded dot-dot, mixed case'],
    ['/api/v1/.%2e/auth', 'half-encoded dot-dot'],
    ['/api/v1/%2e/users', 'encoded dot'],
    ['/api/v1/users%2f..%2fauth', 'encoded slash'],
    ['/api/v1/users%2Fx', 'encoded slash, upper case'],
    ['/api/v1/users%5c..%5cauth', 'encoded backslash'],
    ['/api/v1/users\\..\\auth', 'raw backslash'],
    ['/api/v1//users', 'empty segment'],
    ['//api/v1/users', 'leading double slash'],
    ['/api/v1/users%00', 'encoded NUL'],
    ['/api/v1/users%0a', 'encoded LF'],
    ['/api/v1/users%7f', 'encoded DEL'],
    ['/api/v1/users;jsessionid=1', 'path parameter'],
    ['/api/v1/users%3bx', 'encoded semicolon'],
    ['/api/v1/%zz', 'invalid percent-encoding'],
    ['/api/v1/%4', 'truncated percent-encoding'],
    ['/api/v1/%', 'lone percent'],
    ['/api/v1/%ff', 'not UTF-8'],
    ['/api/v1/%C0%AF', 'overlong UTF-8 slash'],
    ['/api/v1/%ED%A0%80', 'UTF-8 surrogate'],
    ['/api/v1/caf\u00e9', 'raw non-ASCII'],
    ['/api/v1/a b', 'raw space'],
    ['api/v1/users', 'not origin-form'],
    ['*', 'asterisk-form'],
    ['http://evil.example/api/v1/users', 'absolute-form'],
    // Compatibility characters that an upstream applying NFKC (or a "best fit" code page) turns
    // into delimiters: /api/v1/edge/health/．．/．．/x would leave the public route there.
    ['/api/v1/edge/health/%EF%BC%8E%EF%BC%8E/x', 'fullwidth dot-dot'],
    ['/api/v1/%EF%BC%8E', 'fullwidth dot'],
    ['/api/v1/%E2%80%A5', 'two-dot leader (NFKC "..")'],
    ['/api/v1/a%EF%BC%8Fb', 'fullwidth solidus'],
    ['/api/v1/a%EF%BC%BCb', 'fullwidth reverse solidus'],
    ['/api/v1/a%EF%BC%9Bb', 'fullwidth semicolon'],
    ['/api/v1/a%EF%BC%85%32%66', 'fullwidth percent sign'],
    ['/api/v1/a%EF%BC%9Fb', 'fullwidth question mark'],
    ['/api/v1/a%EF%BC%83b', 'fullwidth number sign'],
  ];
  it.each(refused)('%s (%s)', (target) => {
    expect(code(() => splitTarget(target))).toBe('INVALID_PATH');
  });

  it('double encoding is decoded once only: %252e%252e is the literal segment "%2e%2e"', () => {
    expect(splitTarget('/api/v1/%252e%252e').path).toBe('/api/v1/%252e%252e');
  });
  it('a path longer than 4096 is refused', () => {
    expect(code(() => normalizePath('/' + 'a'.repeat(5000)))).toBe('INVALID_PATH');
  });
});

describe('splitTarget: canonical form (the same string is routed and sent upstream)', () => {
  const canonical: [string, string, string][] = [
    ['/api/v1/%61uth/login', '/api/v1/auth/login', ''],
    ['/api/v1/%41%75%74%68', '/api/v1/Auth', ''],
    ['/api/v1/users/', '/api/v1/users/', ''],
    ['/', '/', ''],
    ['/api/v1/users?b=2&a=%20', '/api/v1/users', 'b=2&a=%20'],
    ['/api/v1/users?x=1#frag', '/api/v1/users', 'x=1'],
    // A raw '#' starts the fragment wherever it is (RFC 3986 §3.5): it was re-encoded into the path.
    ['/api/v1/users#frag', '/api/v1/users', ''],
    ['/api/v1/users#frag?x=1', '/api/v1/users', ''],
    ['/api/v1/edge/health#/../../nodes', '/api/v1/edge/health', ''],
    // Non-ASCII that stays itself (or stays harmless) under NFKC is kept.
    ['/api/v1/%EF%AC%81le', '/api/v1/%EF%AC%81le', ''],
    ['/api/v1/%E2%84%A2', '/api/v1/%E2%84%A2', ''],
    ['/api/v1/users?', '/api/v1/users', ''],
    ['/api/v1/%7euser', '/api/v1/~user', ''],
    ['/api/v1/caf%c3%a9', '/api/v1/caf%C3%A9', ''],
    ['/api/v1/a%20b', '/api/v1/a%20b', ''],
    ['/api/v1/%3F', '/api/v1/%3F', ''],
    ['/api/v1/%23', '/api/v1/%23', ''],
    ['/api/v1/%40me', '/api/v1/@me', ''],
    ['/api/v1/..a/a..', '/api/v1/..a/a..', ''],
  ];
  it.each(canonical)('%s → %s ? %s', (target, path, query) => {
    expect(splitTarget(target)).toEqual({ path, rawQuery: query });
  });
});

describe('router: case-sensitive, segment-boundary prefixes, first match wins', () => {
  const routes: RouteDef[] = [
    { prefix: '/api/v1/auth', auth: 'gateway' },
    { prefix: '/api/v1/edge/health', auth: 'public' },
    { prefix: '/api/v1/edge', auth: 'node' },
    { prefix: '/api/v1', auth: 'user' },
    { prefix: '/ws/agent', auth: 'user', websocket: true },
  ];
  const router = createRouter(routes);
  const table: [string, string | null][] = [
    ['/ws/agent', '/ws/agent'],
    ['/ws/agent/', '/ws/agent'],
    ['/ws/agent/x', '/ws/agent'],
    ['/ws/agentx', null],
    ['/ws/Agent', null],
    ['/WS/agent', null],
    ['/ws', null],
    ['/api/v1/auth/login', '/api/v1/auth'],
    ['/api/v1/authx', '/api/v1'],
    ['/api/v1/Auth/login', '/api/v1'],
    ['/api/v1/edge/health', '/api/v1/edge/health'],
    ['/api/v1/edge/healthz', '/api/v1/edge'],
    ['/api/v1/edge/health/deep', '/api/v1/edge/health'],
    ['/api/v1', '/api/v1'],
    ['/api/v10', null],
    ['/api', null],
    ['/', null],
  ];
  it.each(table)('%s → %s', (path, prefix) => {
    expect(router.match(path)?.prefix ?? null).toBe(prefix);
  });

  it('an encoded trick cannot land on another route: %61uth is auth, never a user route', () => {
    expect(router.match(splitTarget('/api/v1/%61uth/login').path)?.prefix).toBe('/api/v1/auth');
    expect(code(() => splitTarget('/api/v1/users/..%2f..%2fauth/login'))).toBe('INVALID_PATH');
    expect(code(() => splitTarget('/api/v1/edge/health/..%2f..%2fnodes'))).toBe('INVALID_PATH');
  });
});
