/** W3C Trace Context (traceparent) parsing and continuation, http/trace.ts. */
import { describe, expect, it } from 'vitest';
import { parseTraceparent, traceFor } from '../../gateway/http/trace.js';

const VALID = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('parseTraceparent', () => {
  it('accepts the spec example', () => {
    expect(parseTraceparent(VALID)).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      parentId: 'b7ad6b7169203331',
      flags: '01',
    });
  });

  it.each([
    ['absent', undefined],
    ['repeated', [VALID, VALID]],
    ['uppercase hex', VALID.toUpperCase()],
    ['version ff', VALID.replace(/^00/, 'ff')],
    ['all-zero trace id', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`],
    ['all-zero parent id', `00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01`],
    ['short trace id', '00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01'],
    ['version 00 with extra fields', `${VALID}-extra`],
    ['garbage', 'hello'],
  ])('refuses %s', (_label, value) => {
    expect(parseTraceparent(value)).toBeNull();
  });

  it('reads the known fields of a future version and ignores the rest', () => {
    expect(parseTraceparent(`cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-ever`)).toMatchObject({
      flags: '01',
    });
  });
});

describe('traceFor', () => {
  it('continues a valid trace with a new span id of its own', () => {
    const t = traceFor({ traceparent: VALID });
    expect(t.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(t.parentId).toBe('b7ad6b7169203331');
    expect(t.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(t.spanId).not.toBe('b7ad6b7169203331');
    expect(t.traceparent).toBe(`00-0af7651916cd43dd8448eb211c80319c-${t.spanId}-01`);
  });

  it('keeps only the sampled flag', () => {
    expect(traceFor({ traceparent: VALID.replace(/-01$/, '-00') }).traceparent).toMatch(/-00$/);
    expect(traceFor({ traceparent: VALID.replace(/-01$/, '-ff') }).traceparent).toMatch(/-01$/);
  });

  it('starts a new trace when none or an invalid one was sent', () => {
    const a = traceFor({});
    const b = traceFor({ traceparent: 'nonsense' });
    for (const t of [a, b]) {
      expect(t.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(t.parentId).toBeNull();
      expect(parseTraceparent(t.traceparent)).not.toBeNull();
    }
    expect(a.traceId).not.toBe(b.traceId);
  });
});
