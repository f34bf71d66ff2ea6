import type { Logger } from 'pino';
import type { Clock } from '../clock.js';

export type FailOpenDependency = 'redis' | 'postgres';

/**
 * Reports a session check that failed open (sessions.ts): onFailOpen counts every one (the
 * fail_open metric), while the log gets one warning per dependency per 10 s (with how many were
 * folded into it) instead of one per request during an outage.
 */
export function createFailOpenReporter(
  clock: Clock,
  log: Logger,
  onFailOpen: ((dependency: FailOpenDependency) => void) | undefined,
): (dependency: FailOpenDependency, err: unknown, what: string) => void {
  const quietUntil = { redis: 0, postgres: 0 };
  const folded = { redis: 0, postgres: 0 };
  return (dependency, err, what) => {
    onFailOpen?.(dependency);
    const now = clock.now();
    if (now < quietUntil[dependency]) {
      folded[dependency] += 1;
      return;
    }
    log.warn(
      { err: err instanceof Error ? err.message : String(err), suppressed: folded[dependency] },
      `${what} failed open`,
    );
    quietUntil[dependency] = now + 10_000;
    folded[dependency] = 0;
  };
}
