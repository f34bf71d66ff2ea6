/** WebSocket proxy helpers: credential stripping, close-code mapping, handshake validation. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sanitizeCloseCode, stripTokenParam, validClientHandshake } from '../../gateway/proxy/ws-frames.js';

describe('stripTokenParam', () => {
  it.each([
    ['', ''],
    ['a=1&b=2', 'a=1&b=2'],
    ['token=abc', ''],
    ['a=1&token=abc&b=2', 'a=1&b=2'],
    ['ticket=g2dt_x&room=7', 'room=7'],
    ['%74oken=abc&x=%20y', 'x=%20y'],
    ['%74icket=abc', ''],
    ['token&x=1', 'x=1'],
    ['tokens=1&my_token=2', 'tokens=1&my_token=2'],
    ['x=%E0%A4%A&token=1', 'x=%E0%A4%A'],
    ['%zz=1&token=2', '%zz=1'],
  ])('%j → %j', (input, output) => {
    expect(stripTokenParam(input)).toBe(output);
  });

  it('no parameter that decodes to token or ticket survives, and the others keep their bytes', () => {
    const part = fc.oneof(
      fc.constantFrom('token=1', 'ticket=2', '%74oken=3', 't%6Fken=4', 'a=1', 'b=%2F', 'c', '%ZZ=5'),
      fc.stringMatching(/^[a-z0-9%+]{0,6}$/).map((s) => `k${s}=v`),
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 8 }), (parts) => {
        const out = stripTokenParam(parts.join('&'));
        for (const kept of out === '' ? [] : out.split('&')) {
          let name = kept.split('=')[0] as string;
          try {
            name = decodeURIComponent(name.replace(/\+/g, ' '));
          } catch {
            // kept as sent
          }
          expect(['token', 'ticket']).not.toContain(name);
          expect(parts).toContain(kept);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('sanitizeCloseCode', () => {
  it('relays registered and application codes', () => {
    for (const code of [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999])
      expect(sanitizeCloseCode(code, 'upstream')).toEqual({ code, keepReason: true, reason: '' });
  });
  it('1005 becomes a close without a code', () => {
    expect(sanitizeCloseCode(1005, 'client')).toBeUndefined();
  });
  it('1006 from the client → 1001 upstream; from the upstream → 1011', () => {
    expect(sanitizeCloseCode(1006, 'client')?.code).toBe(1001);
    expect(sanitizeCloseCode(1006, 'upstream')?.code).toBe(1011);
  });
  it('codes that may not be sent (1004, 1015, 2000, 5000) become 1011', () => {
    for (const code of [1004, 1015, 2000, 5000, 0])
      expect(sanitizeCloseCode(code, 'upstream')).toMatchObject({ code: 1011, keepReason: false });
  });
  it('every output is sendable (RFC 6455 §7.4.1)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 70_000 }),
        fc.constantFrom('client' as const, 'upstream' as const),
        (code, from) => {
          const m = sanitizeCloseCode(code, from);
          if (m)
            expect(
              m.code === 1000 ||
                (m.code >= 1001 && m.code <= 1003) ||
                (m.code >= 1007 && m.code <= 1014) ||
                (m.code >= 3000 && m.code <= 4999),
            ).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('validClientHandshake', () => {
  const ok = {
    method: 'GET',
    headers: { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
  };
  it('accepts a valid handshake', () => {
    expect(validClientHandshake(ok)).toBeNull();
    expect(
      validClientHandshake({ ...ok, headers: { ...ok.headers, 'sec-websocket-protocol': 'chat, v2.json' } }),
    ).toBeNull();
  });
  it.each([
    ['POST', { ...ok, method: 'POST' }],
    ['no key', { ...ok, headers: { 'sec-websocket-version': '13' } }],
    ['a short key', { ...ok, headers: { ...ok.headers, 'sec-websocket-key': 'abc==' } }],
    ['version 12', { ...ok, headers: { ...ok.headers, 'sec-websocket-version': '12' } }],
    ['a duplicate protocol', { ...ok, headers: { ...ok.headers, 'sec-websocket-protocol': 'a, a' } }],
    ['an empty protocol', { ...ok, headers: { ...ok.headers, 'sec-websocket-protocol': 'a,,b' } }],
    ['a protocol with a space', { ...ok, headers: { ...ok.headers, 'sec-websocket-protocol': 'a b' } }],
  ])('refuses %s', (_name, req) => {
    expect(validClientHandshake(req)).toEqual(expect.any(String));
  });
});
