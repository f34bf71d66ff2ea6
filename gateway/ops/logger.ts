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
  return pino(common, pino.destination({ sync: false }));
}

const SECRET_PARAMS = /([?&](?:token|access_token|api_key|key|enrollment_token|password)=)[^&#]*/gi;

/** Removes secrets from a URL before it is logged (`?token=` on WebSocket upgrades, SPEC §6). */
export function scrubUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[REDACTED]');
}
