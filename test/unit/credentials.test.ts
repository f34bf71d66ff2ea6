/** The one reading of credential parameter names and values (util/credentials.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRepeatedly, holdsCredential, paramName, scrubUrl } from '../../gateway/util/credentials.js';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1LTEiLCJ0aWQiOiJ0LTEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtMDEyMzQ1';
const KEY = `g2dn_${'Ab3_'.repeat(10)}xyz`;
const REFRESH = `g2dr_${'Zz9-'.repeat(10)}abc`;

describe('paramName: every spelling folds to one name', () => {
  it.each([
    ['token', 'token'],
    ['%74oken', 'token'],
    ['TOKEN', 'token'],
    ['to%6Ben', 'token'],
    ['%2574oken', 'token'],
    ['%252574oken', 'token'],
    ['token[]', 'token'],
    ['token%5B%5D', 'token'],
    ['token[0][x]', 'token'],
    ['+token', 'token'],
    [' token ', 'token'],
    ['tok\u200ben', 'token'],
    ['access-token', 'access_token'],
    ['Access.Token', 'access_token'],
    ['tenant%255Fid', 'tenant_id'],
    ['page', 'page'],
    ['%zz', '%zz'],
    ['%zz%74oken', '%zztoken'],
  ])('%j → %j', (raw, folded) => {
    expect(paramName(raw)).toBe(folded);
  });
});

describe('holdsCredential', () => {
  it.each([
    JWT,
    KEY,
    REFRESH,
    `Bearer\t${JWT}`,
    `Token ${KEY}`,
    `${JWT}=`,
    encodeURIComponent(`x=${KEY}`).replaceAll('_', '%5F'),
    `session=${JWT}; theme=dark`,
    `a=%zz; t=%65yJ${JWT.slice(3)}`,
  ])('%s', (v) => {
    expect(holdsCredential(v)).toBe(true);
  });
  it.each([
    '1.2.3',
    'application/json',
    'Bearer opaque-partner-token',
    'g2d-something',
    'eyJ.short',
    'Mozilla/5.0 (X11; Linux x86_64)',
  ])('not %s', (v) => {
    expect(holdsCredential(v)).toBe(false);
  });
});

describe('scrubUrl', () => {
  it.each([
    ['/api/v1/x', '/api/v1/x'],
    ['/api/v1/x?page=2', '/api/v1/x?page=2'],
    ['/ws/agent?token=abc&room=1', '/ws/agent?token=[REDACTED]&room=1'],
    ['/ws/agent?%74oken=abc', '/ws/agent?%74oken=[REDACTED]'],
    [
      '/a?TOKEN=abc;access-token=def&api_key=ghi#ticket=jkl',
      '/a?TOKEN=[REDACTED];access-token=[REDACTED]&api_key=[REDACTED]#ticket=[REDACTED]',
    ],
    [`/a?q=${JWT}&p=1`, '/a?q=[REDACTED]&p=1'],
    [`/a?${KEY}`, '/a?[REDACTED]'],
    [`/files/${JWT}/x`, '/files/[REDACTED]/x'],
    [`/files/${JWT}?a=1&token=x;b=2`, '/files/[REDACTED]?a=1&token=[REDACTED];b=2'],
    ['/a?b=1&c=2#f', '/a?b=1&c=2#f'],
    [`/files/${encodeURIComponent(KEY).replaceAll('_', '%5F')}`, '/files/[REDACTED]'],
  ])('%s', (url, scrubbed) => {
    expect(scrubUrl(url)).toBe(scrubbed);
  });

  it('property: no credential value survives, whatever the name or its encoding', () => {
    const secret = fc.constantFrom(JWT, KEY, REFRESH);
    const encoding = fc.constantFrom<(s: string) => string>(
      (s) => s,
      (s) => encodeURIComponent(s).replaceAll('_', '%5F'),
      (s) => [...s].map((c) => `%${c.charCodeAt(0).toString(16)}`).join(''),
    );
    const name = fc.oneof(
      fc.string({ maxLength: 8 }).map((s) => encodeURIComponent(s)),
      fc.constantFrom('token', '%74oken', 'q', 'TOKEN', 'x[]'),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, secret, encoding), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('&', ';'),
        (pairs, sep) => {
          const url = `/api/v1/x?${pairs.map(([n, s, enc]) => `${n}=${enc(s)}`).join(sep)}`;
          const out = scrubUrl(url);
          const decoded = decodeRepeatedly(out);
          for (const s of [JWT, KEY, REFRESH]) expect(decoded).not.toContain(s);
          for (const [, s] of pairs) expect(out).not.toContain(s.slice(6, 30));
        },
      ),
      { numRuns: 200 },
    );
  });
});
