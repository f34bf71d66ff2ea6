/** X-Request-Id: a short plain client id is kept (correlation), anything else is replaced. */
import { describe, expect, it } from 'vitest';
import { requestIdFor } from '../../gateway/http/request-id.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('requestIdFor', () => {
  it('keeps a safe client id', () => {
    expect(requestIdFor({ 'x-request-id': 'abc-123:xyz.9' })).toBe('abc-123:xyz.9');
  });
  it('generates a UUID when none is given', () => {
    expect(requestIdFor({})).toMatch(UUID);
    expect(requestIdFor({})).not.toBe(requestIdFor({}));
  });
  it.each([
    ['too short', 'abc'],
    ['too long', 'a'.repeat(129)],
    ['a newline (log injection)', 'abcdefgh\nlevel=error'],
    ['a space', 'abcd efgh'],
    ['a quote', 'abcdefgh"'],
    ['non-ASCII', 'abcdefgé'],
  ])('replaces %s', (_name, value) => {
    expect(requestIdFor({ 'x-request-id': value })).toMatch(UUID);
  });
});
