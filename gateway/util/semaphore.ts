/** What a semaphore is doing right now, for metrics. */
export interface SemaphoreStats {
  /** Jobs holding a slot. */
  readonly active: number;
  /** Jobs waiting for a slot, in arrival order. */
  readonly queued: number;
}

export interface Semaphore {
  /** Runs `job` once a slot is free (first come, first served) and frees the slot when it settles. */
  run<T>(job: () => Promise<T>): Promise<T>;
  stats(): SemaphoreStats;
}

/**
 * A counting semaphore with a FIFO queue. The password hasher uses it to keep at most
 * `PASSWORD_HASH_CONCURRENCY` argon2/bcrypt jobs in flight: argon2 runs on libuv's thread pool,
 * which jose's WebCrypto (token verification) shares, so a login burst must queue here instead of
 * filling the pool and stalling every authenticated request. FIFO keeps waiting logins fair.
 */
export function createSemaphore(limit: number): Semaphore {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
  let active = 0;
  // A plain array with a moving head: O(1) dequeue without shifting, compacted when drained.
  let waiters: Array<(() => void) | undefined> = [];
  let head = 0;

  function release(): void {
    const next = waiters[head];
    if (next === undefined) {
      active -= 1;
      return;
    }
    // Hand the slot straight to the next waiter: `active` stays the same, nobody can jump the queue.
    waiters[head] = undefined; // let the resolved promise be collected
    head += 1;
    if (head === waiters.length) {
      waiters = [];
      head = 0;
    }
    next();
  }

  function acquire(): Promise<void> {
    if (active < limit) {
      active += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      waiters.push(resolve);
    });
  }

  return {
    async run<T>(job: () => Promise<T>): Promise<T> {
      await acquire();
      try {
        return await job();
      } finally {
        release();
      }
    },
    stats: () => ({ active, queued: waiters.length - head }),
  };
}
