import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

/**
 * Paths pino removes from every log line (docs/operations.md): credentials never reach the log, whichever
 * object they travel in. URLs are scrubbed separately (scrubUrl) because a query string is a string.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-bootstrap-token"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'password',
  'current_password',
  'new_password',
  'token',
  'api_key',
  'apiKey',
  'enrollment_token',
  'ticket',
  '*.password',
  '*.current_password',
  '*.new_password',
  '*.token',
  '*.api_key',
  '*.enrollment_token',
  '*.ticket',
];

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty';
  /** Where lines go; defaults to stdout. Injected so tests can capture (pino habit). */
  destination?: pino.DestinationStream;
  base?: Record<string, unknown>;
}

/**
 * Creates the process logger. Pretty output goes through pino-pretty's transport, which pino loads
 * in a worker only when asked: pino-pretty is an optional dependency, and without it (a lean
 * production install) `pretty` falls back to JSON lines with one warning instead of failing.
 */
export function createLogger(options: LoggerOptions): Logger {
  const common: pino.LoggerOptions = {
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    base: { service: 'get2dial-gateway', ...(options.base ?? {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (options.destination) return pino(common, options.destination);
  if (options.format === 'pretty' && installed('pino-pretty')) {
    // One line per event (the access line included), and colours only for a terminal: piped
    // into a file or `less`, escape codes are noise.
    const colorize = process.stdout.isTTY === true;
    return pino({
      ...common,
      transport: { target: 'pino-pretty', options: { colorize, singleLine: true, translateTime: 'SYS:standard' } },
    });
  }
  const log = pino(common, batched(pino.destination({ dest: STDOUT, sync: false, contentMode: 'buffer' }), STDOUT));
  if (options.format === 'pretty')
    log.warn('LOG_FORMAT=pretty needs the optional package pino-pretty, which is not installed: logging JSON');
  return log;
}

function installed(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

type SonicBoom = ReturnType<typeof pino.destination>;
const STDOUT = 1;

// A batch is handed over when it holds this many bytes, or this long after its first line.
const BATCH_BYTES = 16 * 1024;
const BATCH_MS = 100;
// The access line (server.ts): its level comes first (createLogger's formatter), its message last.
const ACCESS_START = '{"level":"info"';
const ACCESS_END = '"msg":"request"}\n';

/**
 * Encodes lines into a 16 KiB buffer and hands it to pino's asynchronous destination (sonic-boom,
 * in buffer mode) when full, or 100 ms after its first line (the bench's nginx buffers its access
 * log the same way, 64 KiB or 1 s), instead of line by line. Only info-level access lines wait:
 * any other line is written at once, with the batch before it. Each hand-over is one write through
 * the thread pool; a line's string dies at once instead of waiting in the heap for its write; and
 * sonic-boom's string mode measured its pending string with Buffer.byteLength on every write,
 * flattening (copying) a buffer grown by `+=` each time, so every new line copied everything
 * queued behind it. The access line was the largest item left in a proxied request's cost
 * (docs/benchmark.md). Order is kept; at exit, what sonic-boom holds is flushed, then the
 * bytes still here are written synchronously to `fd` (an asynchronous write begun at exit would
 * never complete).
 */
function batched(dest: SonicBoom, fd: number): pino.DestinationStream {
  let buf = Buffer.allocUnsafe(BATCH_BYTES);
  let used = 0;
  let timer: NodeJS.Timeout | null = null;
  const handOver = (): void => {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    if (used === 0) return;
    // sonic-boom keeps the buffer until its write completes: the next batch gets a fresh one.
    dest.write(buf.subarray(0, used) as unknown as string);
    buf = Buffer.allocUnsafe(BATCH_BYTES);
    used = 0;
  };
  process.on('exit', () => {
    let rest = buf.subarray(0, used);
    used = 0;
    if (rest.length === 0) return;
    try {
      dest.flushSync();
      for (let tries = 0; rest.length > 0 && tries < 1000; tries++) {
        try {
          rest = rest.subarray(writeSync(fd, rest));
        } catch (err) {
          // A full non-blocking pipe: wait for the reader a moment, as sonic-boom does.
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        }
      }
    } catch {
      // stdout is gone: nothing left to tell.
    }
  });
  return {
    write(line: string) {
      // A line that does not fit goes after the current batch, in a buffer of its own if it must.
      if (used + line.length * 3 > buf.length) {
        handOver();
        if (line.length * 3 > buf.length) {
          dest.write(Buffer.from(line) as unknown as string);
          return;
        }
      }
      used += buf.write(line, used);
      // Only the info-level access line waits for a batch; any other line (a warning, an error, an
      // audit event, start and stop) goes out at once, with the lines before it.
      if (!(line.startsWith(ACCESS_START) && line.endsWith(ACCESS_END))) handOver();
      else if (timer === null) timer = setTimeout(handOver, BATCH_MS).unref();
    },
    flush(cb?: (err?: Error) => void) {
      handOver();
      dest.flush(cb);
    },
  } as pino.DestinationStream;
}

/**
 * Removes secrets from a request-target before it is logged (`?token=` on WebSocket upgrades, and
 * every other spelling or credential-shaped value: util/credentials.ts).
 */
export { scrubUrl } from '../util/credentials.js';
