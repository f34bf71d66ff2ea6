/**
 * One proxied WebSocket after both handshakes: bytes flow between the client's and the upstream's
 * TCP sockets as they are (client frames stay masked for the upstream, RFC 6455 §5.3), with a
 * FrameScanner (proxy/ws-wire.ts) on each direction. The gateway writes a frame of its own (a
 * close, a liveness ping) only at a frame boundary of the direction it writes into; a close it
 * must send while a frame is half-way waits for that frame's end (at most the message limit, and
 * at most CLOSE_GRACE_MS: then both sockets are cut). Close frames are relayed (their code mapped
 * when it may not be sent, proxy/ws-frames.ts), and the closing handshake ends both TCP sockets.
 */
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { sanitizeCloseCode } from './ws-frames.js';
import { closeFrame, controlFrame, FrameScanner, OP_CLOSE, OP_PING, OP_PONG, type ScanSink } from './ws-wire.js';

export type SideName = 'client' | 'upstream';

export interface RelayOptions {
  readonly client: Duplex;
  readonly upstream: Duplex;
  readonly clientHead: Buffer;
  readonly upstreamHead: Buffer;
  /** Largest message a client may send, and an upstream. */
  readonly clientMaxMessage: number;
  readonly upstreamMaxMessage: number;
  readonly closeGraceMs: number;
  /** Both sockets are closed (called once). */
  readonly onEnd: () => void;
  /** A side finished its closing handshake or went away (may be called more than once). */
  readonly onClosing?: () => void;
  readonly onError?: (side: SideName, err: Error) => void;
}

export interface Relay {
  /**
   * Closes from the gateway's side: `clientCode` to the client, `upstreamCode` to the upstream,
   * each at the next frame boundary; both sockets are cut if the peers have not finished within
   * the grace.
   */
  close(clientCode: number, upstreamCode: number, reason: string): void;
  /** Liveness: a side silent since the previous ping is cut; otherwise it is pinged (at a frame boundary). */
  tick(): void;
  /** Cuts both sockets at once. */
  destroy(): void;
}

interface Side {
  readonly name: SideName;
  readonly sock: Duplex;
  /** Scans what this side sends. */
  scanner: FrameScanner;
  /** Frames written to this side must be masked (the gateway is the upstream's client). */
  readonly mask: boolean;
  /** A close frame was written to this side, or is queued for the next boundary. */
  closeQueued: boolean;
  sentClose: boolean;
  gotClose: boolean;
  /** A frame queued for the next boundary of the direction into this side. */
  pending: Buffer | null;
  heard: boolean;
  ping: Buffer | null;
  ended: boolean;
  closed: boolean;
}

let pingSeq = 0;

/** Starts relaying; the client's 101 must already be written. */
export function startRelay(o: RelayOptions): Relay {
  const make = (name: SideName, sock: Duplex): Side => ({
    name,
    sock,
    scanner: null as unknown as FrameScanner,
    mask: name === 'upstream',
    closeQueued: false,
    sentClose: false,
    gotClose: false,
    pending: null,
    heard: true,
    ping: null,
    ended: false,
    closed: false,
  });
  const client = make('client', o.client);
  const upstream = make('upstream', o.upstream);
  const peer = (s: Side) => (s === client ? upstream : client);
  let grace: NodeJS.Timeout | null = null;
  let ended = false;

  const startGrace = () => {
    if (grace !== null) return;
    grace = setTimeout(destroy, o.closeGraceMs);
    grace.unref();
  };

  /** Writes a gateway frame to `to` now if the direction into it is between frames, else at its next boundary. */
  const inject = (to: Side, frame: Buffer, isClose: boolean): boolean => {
    const into = peer(to).scanner;
    if (into.atBoundary || into.failed) {
      write(to, frame, isClose);
      return true;
    }
    if (!isClose) return false;
    to.pending = frame;
    into.wantBoundary = true;
    return true;
  };

  const write = (to: Side, frame: Buffer, isClose: boolean) => {
    if (to.closed || to.sentClose) return;
    to.sock.write(frame);
    if (isClose) {
      to.sentClose = true;
      if (to.gotClose) finish(to);
    }
  };

  const closeToward = (to: Side, code: number | undefined, reason: string) => {
    if (to.closeQueued || to.sentClose) return;
    to.closeQueued = true;
    startGrace();
    inject(to, closeFrame(code, reason, to.mask), true);
  };

  /** This side's closing handshake is complete: end its TCP connection. */
  const finish = (s: Side) => {
    if (s.ended) return;
    s.ended = true;
    s.sock.end();
    o.onClosing?.();
  };

  const sinkFor = (from: Side): ScanSink => {
    const to = peer(from);
    return {
      forward(bytes) {
        // A queued close waits for the end of this frame: the rest of the frame still passes.
        if (to.sentClose || to.closed) return;
        to.sock.write(bytes);
      },
      control(opcode, frame, payload) {
        if (opcode === OP_PONG && from.ping !== null && payload.equals(from.ping)) return;
        if (opcode !== OP_CLOSE) {
          if (!to.sentClose && !to.closed) to.sock.write(frame);
          return;
        }
        from.gotClose = true;
        startGrace();
        if (!to.sentClose && !to.closeQueued && !to.closed) {
          const code = payload.length >= 2 ? payload.readUInt16BE(0) : undefined;
          const mapped = code === undefined ? undefined : sanitizeCloseCode(code, from.name);
          if (
            payload.length !== 1 &&
            (code === undefined || (mapped?.keepReason === true && isUtf8(payload.subarray(2))))
          ) {
            to.closeQueued = true;
            write(to, frame, true);
          } else if (payload.length === 1 || mapped?.keepReason === true) closeToward(to, 1002, 'invalid close frame');
          else closeToward(to, mapped?.code, mapped?.reason ?? '');
        }
        if (from.sentClose) finish(from);
      },
      boundary() {
        from.scanner.wantBoundary = false;
        const frame = to.pending;
        to.pending = null;
        if (frame !== null) write(to, frame, true);
      },
      fail(code, reason) {
        from.gotClose = true; // nothing more is read from it
        closeToward(from, code, reason);
        closeToward(to, code, code === 1009 ? 'message too big' : 'protocol error');
        if (from.sentClose) finish(from);
      },
    };
  };
  client.scanner = new FrameScanner(sinkFor(client), { maxMessage: o.clientMaxMessage, masked: true });
  upstream.scanner = new FrameScanner(sinkFor(upstream), { maxMessage: o.upstreamMaxMessage, masked: false });

  const wire = (from: Side) => {
    const to = peer(from);
    let waiting = false;
    const resume = () => {
      waiting = false;
      from.sock.resume();
    };
    from.sock.on('data', (chunk: Buffer) => {
      from.heard = true;
      from.scanner.scan(chunk);
      if (!waiting && to.sock.writableNeedDrain && !to.closed) {
        waiting = true;
        from.sock.pause();
        to.sock.once('drain', resume);
      }
    });
    from.sock.on('error', (err: Error) => o.onError?.(from.name, err));
    const gone = () => {
      if (from.closed) return;
      from.closed = true;
      o.onClosing?.();
      from.ended = true;
      if (waiting) resume();
      const between = from.scanner.atBoundary || from.scanner.failed;
      if (!from.gotClose) {
        // The peer vanished without a close frame (1006): the other side gets a close of its own,
        // or is cut when a frame into it is half-way (a close there would break the protocol).
        from.gotClose = true;
        const mapped = sanitizeCloseCode(1006, from.name);
        if (between) closeToward(to, mapped?.code, mapped?.reason ?? '');
      }
      // A close queued for a boundary that will never come: cut instead.
      if (!between && !to.sentClose) to.sock.destroy();
      if (to.sentClose && !to.ended) finish(to);
      startGrace();
      if (to.closed) done();
    };
    from.sock.on('end', () => {
      gone();
      from.sock.end();
    });
    from.sock.on('close', () => {
      gone();
      if (to.closed) done();
    });
  };

  const done = () => {
    if (ended) return;
    ended = true;
    if (grace !== null) clearTimeout(grace);
    o.onEnd();
  };

  function destroy(): void {
    client.sock.destroy();
    upstream.sock.destroy();
  }

  for (const s of [client, upstream]) {
    const sock = s.sock as Duplex & { setNoDelay?: (v: boolean) => void; setTimeout?: (ms: number) => void };
    sock.setNoDelay?.(true);
    sock.setTimeout?.(0);
  }
  wire(client);
  wire(upstream);
  if (o.upstreamHead.length > 0) upstream.scanner.scan(o.upstreamHead);
  if (o.clientHead.length > 0) client.scanner.scan(o.clientHead);

  return {
    close(clientCode, upstreamCode, reason) {
      closeToward(client, clientCode, reason);
      closeToward(upstream, upstreamCode, reason);
    },
    tick() {
      for (const s of [client, upstream]) {
        if (s.closed || s.closeQueued || s.sentClose) continue;
        if (s.ping !== null && !s.heard) return destroy();
        s.heard = false;
        s.ping = Buffer.from(`g2d-${(pingSeq = (pingSeq + 1) % 1e9)}`);
        if (!inject(s, controlFrame(OP_PING, s.ping, s.mask), false)) s.ping = null;
      }
    },
    destroy,
  };
}
