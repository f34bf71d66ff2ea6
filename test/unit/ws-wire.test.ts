/**
 * The WebSocket proxy's frame scanner (gateway/proxy/ws-wire.ts, RFC 6455 §5.2): bytes pass
 * unchanged whatever the chunking, frame boundaries are reported where frames end, control frames
 * arrive whole and unmasked, and a broken rule or an oversized message is reported before any byte
 * of the offending frame was passed on.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  closeFrame,
  controlFrame,
  FrameScanner,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  type ScanSink,
} from '../../gateway/proxy/ws-wire.js';

/** Encodes one frame (the length in 7, 16 or 64 bits as the size asks), masked with a random key when `mask`. */
function frame(opcode: number, payload: Buffer, opts: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer {
  const fin = opts.fin ?? true;
  const mask = opts.mask ?? false;
  const len = payload.length;
  const ext = len > 0xffff ? 8 : len > 125 ? 2 : 0;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opcode;
  head[1] = (mask ? 0x80 : 0) | (ext === 8 ? 127 : ext === 2 ? 126 : len);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  const body = Buffer.from(payload);
  if (mask) {
    const key = randomBytes(4);
    key.copy(head, 2 + ext);
    for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i & 3] as number);
  }
  return Buffer.concat([head, body]);
}

interface Seen {
  out: Buffer[];
  boundaries: number[];
  controls: { opcode: number; payload: string }[];
  fails: number[];
}

/** A sink that records everything; boundary offsets are counted in forwarded bytes. */
function recorder(): { sink: ScanSink; seen: Seen; scanner?: FrameScanner } {
  const seen: Seen = { out: [], boundaries: [], controls: [], fails: [] };
  let sent = 0;
  const holder: { sink: ScanSink; seen: Seen; scanner?: FrameScanner } = {
    seen,
    sink: {
      forward(b) {
        seen.out.push(Buffer.from(b));
        sent += b.length;
      },
      control(opcode, f, payload) {
        seen.controls.push({ opcode, payload: payload.toString('latin1') });
        seen.out.push(Buffer.from(f));
        sent += f.length;
      },
      boundary() {
        seen.boundaries.push(sent);
      },
      fail(code) {
        seen.fails.push(code);
      },
    },
  };
  return holder;
}

function feed(scanner: FrameScanner, bytes: Buffer, cuts: number[]): void {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  for (const p of [...points, bytes.length]) {
    if (p > at) scanner.scan(bytes.subarray(at, p));
    at = Math.max(at, p);
  }
}

describe('FrameScanner', () => {
  it('passes a header split byte by byte, with 16- and 64-bit lengths, masked or not', () => {
    for (const masked of [true, false]) {
      const frames = [
        frame(OP_TEXT, Buffer.from('hi'), { mask: masked }),
        frame(OP_BINARY, Buffer.alloc(300, 7), { mask: masked }),
        frame(OP_BINARY, Buffer.alloc(70_000, 9), { mask: masked }),
      ];
      const wire = Buffer.concat(frames);
      const r = recorder();
      const s = new FrameScanner(r.sink, { maxMessage: 1 << 20, masked });
      for (let i = 0; i < 20; i++) s.scan(wire.subarray(i, i + 1));
      s.scan(wire.subarray(20));
      expect(Buffer.concat(r.seen.out).equals(wire)).toBe(true);
      expect(r.seen.fails).toEqual([]);
      expect(s.atBoundary).toBe(true);
    }
  });

  it('delivers control frames whole and unmasked, between the fragments of a message', () => {
    const wire = Buffer.concat([
      frame(OP_TEXT, Buffer.from('part one '), { fin: false, mask: true }),
      frame(OP_PING, Buffer.from('are you there'), { mask: true }),
      frame(0, Buffer.from('part two'), { mask: true }),
      frame(OP_CLOSE, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]), { mask: true }),
    ]);
    const r = recorder();
    const s = new FrameScanner(r.sink, { maxMessage: 1 << 20, masked: true });
    feed(s, wire, [1, 3, 17, 18, 30, 41]);
    expect(r.seen.controls).toEqual([
      { opcode: OP_PING, payload: 'are you there' },
      { opcode: OP_CLOSE, payload: '\x03\xe8bye' },
    ]);
    expect(Buffer.concat(r.seen.out).equals(wire)).toBe(true);
  });

  it('reports 1009 for a message over the limit, counting every fragment, before passing its header', () => {
    const r = recorder();
    const s = new FrameScanner(r.sink, { maxMessage: 100, masked: false });
    const ok = frame(OP_BINARY, Buffer.alloc(100));
    s.scan(Buffer.concat([ok, frame(OP_BINARY, Buffer.alloc(60), { fin: false }), frame(0, Buffer.alloc(41))]));
    expect(r.seen.fails).toEqual([1009]);
    expect(Buffer.concat(r.seen.out).length).toBe(ok.length + 62);
    const big = recorder();
    const huge = Buffer.from([0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 1]);
    const s2 = new FrameScanner(big.sink, { maxMessage: 1 << 20, masked: false });
    s2.scan(huge);
    expect(big.seen.fails).toEqual([1009]);
    expect(big.seen.out).toEqual([]);
  });

  it('reports 1002 for protocol breaks: mask bit wrong, reserved bits, bad opcodes, control frame rules, stray continuation', () => {
    const cases: [Buffer, boolean][] = [
      [frame(OP_TEXT, Buffer.from('x')), true],
      [frame(OP_TEXT, Buffer.from('x'), { mask: true }), false],
      [frame(OP_TEXT, Buffer.from('x'), { rsv: 4 }), false],
      [frame(3, Buffer.from('x')), false],
      [frame(0xb, Buffer.from('x')), false],
      [frame(OP_PING, Buffer.from('x'), { fin: false }), false],
      [frame(OP_PING, Buffer.alloc(126)), false],
      [frame(0, Buffer.from('x')), false],
      [Buffer.concat([frame(OP_TEXT, Buffer.from('a'), { fin: false }), frame(OP_BINARY, Buffer.from('b'))]), false],
    ];
    for (const [wire, masked] of cases) {
      const r = recorder();
      new FrameScanner(r.sink, { maxMessage: 1 << 20, masked }).scan(wire);
      expect(r.seen.fails).toEqual([1002]);
    }
  });

  it('builds masked and unmasked close and ping frames the scanner reads back', () => {
    for (const mask of [true, false]) {
      const r = recorder();
      const s = new FrameScanner(r.sink, { maxMessage: 10, masked: mask });
      s.scan(
        Buffer.concat([
          controlFrame(OP_PING, Buffer.from('g2d-1'), mask),
          closeFrame(1008, 'revoked', mask),
          closeFrame(undefined, '', mask),
        ]),
      );
      expect(r.seen.controls).toEqual([
        { opcode: OP_PING, payload: 'g2d-1' },
        { opcode: OP_CLOSE, payload: '\x03\xf0revoked' },
        { opcode: OP_CLOSE, payload: '' },
      ]);
    }
    expect(closeFrame(1000, 'é'.repeat(100), false).length).toBeLessThanOrEqual(127);
  });

  const frameArb = fc.record({
    opcode: fc.constantFrom(OP_TEXT, OP_BINARY, OP_PING, OP_PONG),
    size: fc.oneof(fc.integer({ min: 0, max: 125 }), fc.integer({ min: 126, max: 2000 }), fc.constant(70_000)),
    fragments: fc.integer({ min: 1, max: 3 }),
  });

  it('forwards any sequence of valid frames byte-identical and reports the same boundaries, however it is cut', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 30 }),
        (specs, masked, cuts) => {
          const frames: Buffer[] = [];
          for (const f of specs) {
            if (f.opcode >= OP_CLOSE)
              frames.push(frame(f.opcode, randomBytes(Math.min(f.size, 125)), { mask: masked }));
            else
              for (let i = 0; i < f.fragments; i++) {
                frames.push(
                  frame(i === 0 ? f.opcode : 0, randomBytes(Math.ceil(f.size / f.fragments)), {
                    fin: i === f.fragments - 1,
                    mask: masked,
                  }),
                );
              }
          }
          const wire = Buffer.concat(frames);
          const ends: number[] = [];
          let at = 0;
          for (const f of frames) ends.push((at += f.length));
          const r = recorder();
          const s = new FrameScanner(r.sink, { maxMessage: 1 << 20, masked });
          // Asking for every boundary: the scanner reports the end of each frame (a control frame's
          // once it is passed whole), and only once per frame.
          const ask = r.sink.boundary.bind(r.sink);
          r.sink.boundary = () => {
            ask();
            s.wantBoundary = true;
          };
          s.wantBoundary = true;
          feed(s, wire, cuts);
          expect(r.seen.fails).toEqual([]);
          expect(Buffer.concat(r.seen.out).equals(wire)).toBe(true);
          expect(r.seen.boundaries).toEqual(ends);
          expect(s.atBoundary).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
