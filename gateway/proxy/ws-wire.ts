/**
 * The WebSocket proxy's view of the wire (RFC 6455 §5.2): an incremental frame-header scanner that
 * lets bytes pass through untouched, and the few frames the gateway writes itself (close, ping).
 * The proxy never parses, unmasks or re-frames data: it reads each frame header only to enforce
 * the message size limit, to know where frames end (so its own frames go in between, never inside
 * one) and to see control frames (held whole, at most 139 bytes) as they pass.
 */
import { randomFillSync } from 'node:crypto';

/** Where a scanner delivers what it read; every method is called synchronously from scan(). */
export interface ScanSink {
  /** Bytes to pass on unchanged, in order (a slice of the scanned chunk or a held header). */
  forward(bytes: Buffer): void;
  /** A whole control frame (close, ping, pong): `frame` as received, `payload` unmasked. */
  control(opcode: number, frame: Buffer, payload: Buffer): void;
  /** The stream is at a frame boundary and `wantBoundary` was set: the sink may write a frame of its own. */
  boundary(): void;
  /** The peer broke the protocol (1002) or the message limit (1009); nothing of the bad frame was forwarded. */
  fail(code: 1002 | 1009, reason: string): void;
}

export interface ScanOptions {
  /** Largest data message (the sum of its fragments' payloads), in bytes. */
  readonly maxMessage: number;
  /** Frames from this peer must be masked (a client's, RFC 6455 §5.1) or must not be (a server's). */
  readonly masked: boolean;
}

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/**
 * Scans one direction of a WebSocket connection. Bytes are forwarded as they arrive except a frame
 * header split across reads (held until complete, at most 14 bytes) and control frames (held until
 * complete): so when a header breaks a rule, nothing of that frame has reached the other side and
 * the proxy can still close it cleanly.
 */
export class FrameScanner {
  /** Ask for boundary() at the next frame boundary (checked only when a data frame ends). */
  wantBoundary = false;
  private readonly head = Buffer.alloc(14);
  private headLen = 0;
  /** Payload bytes of the current data frame still to pass. */
  private remaining = 0;
  /** A control frame being collected, and how much of it is in. */
  private held: Buffer | null = null;
  private heldLen = 0;
  private heldOpcode = 0;
  private inMessage = false;
  private messageBytes = 0;
  private stopped = false;

  constructor(
    private readonly sink: ScanSink,
    private readonly options: ScanOptions,
  ) {}

  /** No frame is partly forwarded: a frame written now lands between two frames. */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.headLen === 0 && this.held === null;
  }

  /** Whether fail() was reported (everything after is ignored). */
  get failed(): boolean {
    return this.stopped;
  }

  scan(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    let from = 0; // start of the run of `chunk` not yet forwarded
    while (i < n && !this.stopped) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0 && this.wantBoundary) {
          if (i > from) this.sink.forward(chunk.subarray(from, i));
          from = i;
          this.sink.boundary();
        }
        continue;
      }
      if (this.held !== null) {
        const take = Math.min(this.held.length - this.heldLen, n - i);
        chunk.copy(this.held, this.heldLen, i, i + take);
        this.heldLen += take;
        i += take;
        from = i;
        if (this.heldLen === this.held.length) this.controlDone();
        continue;
      }
      // A frame header starts at i (or continues the held part of one).
      let hdr: Buffer;
      let at: number;
      let fromChunk: boolean;
      if (this.headLen === 0 && n - i >= 2 && n - i >= headerSize(chunk[i + 1] as number)) {
        hdr = chunk;
        at = i;
        fromChunk = true;
      } else {
        if (i > from) this.sink.forward(chunk.subarray(from, i));
        const want = this.headLen < 2 ? 2 : headerSize(this.head[1] as number);
        const take = Math.min(want - this.headLen, n - i);
        chunk.copy(this.head, this.headLen, i, i + take);
        this.headLen += take;
        i += take;
        from = i;
        if (this.headLen < 2 || this.headLen < headerSize(this.head[1] as number)) continue;
        hdr = this.head;
        at = 0;
        fromChunk = false;
      }
      const size = headerSize(hdr[at + 1] as number);
      const b0 = hdr[at] as number;
      const b1 = hdr[at + 1] as number;
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      const len7 = b1 & 0x7f;
      let len: number;
      if (len7 === 126) len = hdr.readUInt16BE(at + 2);
      else if (len7 === 127) {
        const hi = hdr.readUInt32BE(at + 2);
        // RFC 6455 §5.2: the most significant bit must be 0; anything ≥ 2^53 is over every limit anyway.
        len = hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : hi * 0x1_0000_0000 + hdr.readUInt32BE(at + 6);
      } else len = len7;
      const problem = this.check(b0, b1, opcode, fin, len);
      if (problem !== null) {
        if (fromChunk && i > from) this.sink.forward(chunk.subarray(from, i));
        this.stopped = true;
        this.sink.fail(problem === 'too big' ? 1009 : 1002, problem);
        return;
      }
      if (opcode >= OP_CLOSE) {
        if (fromChunk && i > from) this.sink.forward(chunk.subarray(from, i));
        this.held = Buffer.allocUnsafe(size + len);
        hdr.copy(this.held, 0, at, at + size);
        this.heldLen = size;
        this.heldOpcode = opcode;
        this.headLen = 0;
        if (fromChunk) i += size;
        from = i;
        if (len === 0) this.controlDone();
        continue;
      }
      // A data frame: its header and payload pass as they are.
      this.messageBytes = opcode === OP_CONTINUATION ? this.messageBytes + len : len;
      this.inMessage = !fin;
      if (fromChunk) i += size;
      else {
        this.sink.forward(Buffer.from(this.head.subarray(0, size)));
        this.headLen = 0;
      }
      this.remaining = len;
      if (len === 0 && this.wantBoundary) {
        if (i > from) this.sink.forward(chunk.subarray(from, i));
        from = i;
        this.sink.boundary();
      }
    }
    if (!this.stopped && i > from) this.sink.forward(chunk.subarray(from, i));
  }

  private check(b0: number, b1: number, opcode: number, fin: boolean, len: number): string | null {
    if ((b0 & 0x70) !== 0) return 'reserved bits set (no extension negotiated)';
    if (((b1 & 0x80) !== 0) !== this.options.masked)
      return this.options.masked ? 'client frame not masked' : 'server frame masked';
    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) return 'unknown opcode';
      if (!fin) return 'fragmented control frame';
      if (len > 125) return 'control frame too long';
      return null;
    }
    if (opcode > OP_BINARY) return 'unknown opcode';
    if (opcode === OP_CONTINUATION && !this.inMessage) return 'continuation without a message';
    if (opcode !== OP_CONTINUATION && this.inMessage) return 'new message inside a fragmented one';
    const total = opcode === OP_CONTINUATION ? this.messageBytes + len : len;
    if (total > this.options.maxMessage) return 'too big';
    return null;
  }

  private controlDone(): void {
    const frame = this.held as Buffer;
    this.held = null;
    const size = headerSize(frame[1] as number);
    const payload = Buffer.from(frame.subarray(size));
    if (this.options.masked) unmask(payload, frame.subarray(size - 4, size));
    this.sink.control(this.heldOpcode, frame, payload);
    if (this.wantBoundary && !this.stopped) this.sink.boundary();
  }
}

/** Header length from the second header byte: 2, plus 2 or 8 for the extended length, plus 4 for a mask. */
function headerSize(b1: number): number {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}

function unmask(data: Buffer, key: Buffer): void {
  for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) ^ (key[i & 3] as number);
}

/** A complete unfragmented frame (payload ≤ 125 bytes: control frames); masked with a fresh key when `mask`. */
export function controlFrame(opcode: number, payload: Buffer, mask: boolean): Buffer {
  const size = 2 + (mask ? 4 : 0);
  const out = Buffer.allocUnsafe(size + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = (mask ? 0x80 : 0) | payload.length;
  payload.copy(out, size);
  if (mask) {
    const key = out.subarray(2, 6);
    randomFillSync(key);
    unmask(out.subarray(size), key);
  }
  return out;
}

/** A close frame (RFC 6455 §5.5.1); no code → an empty body. The reason is cut to fit 123 bytes. */
export function closeFrame(code: number | undefined, reason: string, mask: boolean): Buffer {
  if (code === undefined) return controlFrame(OP_CLOSE, Buffer.alloc(0), mask);
  let text = Buffer.from(reason);
  if (text.length > 123)
    text = Buffer.from(
      text
        .subarray(0, 123)
        .toString()
        .replace(/\uFFFD+$/, ''),
    );
  const body = Buffer.allocUnsafe(2 + text.length);
  body.writeUInt16BE(code, 0);
  text.copy(body, 2);
  return controlFrame(OP_CLOSE, body, mask);
}
