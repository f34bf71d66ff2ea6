import { writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';

/**
 * Paths pino removes from every log line (SPEC §10): credentials never reach the log, whichever
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
  '*.password',
  '*.current_password',
  '*.new_password',
  '*.token',
  '*.api_key',
  '*.enrollment_token',
];

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty';
  /** Where lines go; defaults to stdout. Injected so tests can capture (pino habit). */
  destination?: pino.DestinationStream;
  base?: Record<string, unknown>;
}

/** Creates the process logger. Pretty output goes through pino-pretty's transport. */
export function createLogger(options: LoggerOptions): Logger {
  const common: pino.LoggerOptions = {
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    base: { service: 'get2dial-gateway', ...(options.base ?? {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (options.destination) return pino(common, options.destination);
  if (options.format === 'pretty') {
    return pino({ ...common, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:standard' } } });
  }
  return pino(common, batched(pino.destination({ dest: STDOUT, sync: false }), STDOUT));
}

type SonicBoom = ReturnType<typeof pino.destination>;
const STDOUT = 1;

/**
 * Hands lines to pino's asynchronous destination (sonic-boom) once per event-loop turn, joined,
 * instead of one by one. sonic-boom measures its pending buffer with Buffer.byteLength on every
 * write, and a buffer grown by `+=` is flattened (copied) each time: while one write is out, every
 * new line copied everything queued behind it (issue 6: ~3 µs per proxied request, A/B,
 * bench/README.md). Order is kept; a line waits at most until the end of the
 * current loop turn; at exit, what sonic-boom holds is flushed, then the lines still here are
 * written synchronously to `fd` (an asynchronous write begun at exit would never complete).
 */
function batched(dest: SonicBoom, fd: number): pino.DestinationStream {
  let lines: string[] = [];
  let scheduled = false;
  const handOver = (): void => {
    scheduled = false;
    if (lines.length === 0) return;
    const chunk = lines.length === 1 ? (lines[0] as string) : lines.join('');
    lines = [];
    dest.write(chunk);
  };
  process.on('exit', () => {
    if (lines.length === 0) return;
    let rest = Buffer.from(lines.join(''));
    lines = [];
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
      lines.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(handOver);
      }
    },
    flush(cb?: (err?: Error) => void) {
      handOver();
      dest.flush(cb);
    },
  } as pino.DestinationStream;
}

const SECRET_PARAMS = /([?&](?:token|access_token|api_key|key|enrollment_token|password)=)[^&#]*/gi;

/** Removes secrets from a URL before it is logged (`?token=` on WebSocket upgrades, SPEC §6). */
export function scrubUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[REDACTED]');
}
