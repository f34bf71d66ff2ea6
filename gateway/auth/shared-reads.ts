/**
 * Store reads shared by the requests that miss a cache together: 50 connections on one token
 * would otherwise send 50 identical reads whenever its entry ages out (bench/README.md). Each read
 * belongs to a user; a change to that user (logout, password change, status change, a pushed
 * revocation) made while it is out marks it stale: it still answers the requests that joined it,
 * but its answer is not cached, so it can never overwrite the newer state, and no later request
 * joins it. A change to one user leaves every other user's reads alone.
 */
export interface SharedReads<T> {
  /**
   * The read out for `key`, or a new one from `start`; `fresh()` tells the read, once it has its
   * answer, whether it may cache it (false after invalidate(owner) or invalidateAll()).
   */
  join(key: string, owner: string, start: (fresh: () => boolean) => Promise<T>): Promise<T>;
  /** Every read out for `owner` (a user id) is stale. */
  invalidate(owner: string): void;
  /** Every read out is stale (the push reconnected: anything may have changed). */
  invalidateAll(): void;
}

export function createSharedReads<T>(): SharedReads<T> {
  const out = new Map<string, { owner: string; fresh: boolean; read?: Promise<T> }>();
  return {
    join(key, owner, start) {
      const pending = out.get(key);
      if (pending?.read) return pending.read;
      const entry: { owner: string; fresh: boolean; read?: Promise<T> } = { owner, fresh: true };
      const read = start(() => entry.fresh);
      entry.read = read;
      out.set(key, entry);
      void read.finally(() => {
        if (out.get(key) === entry) out.delete(key);
      });
      return read;
    },
    invalidate(owner) {
      for (const [key, entry] of out)
        if (entry.owner === owner) {
          entry.fresh = false;
          out.delete(key);
        }
    },
    invalidateAll() {
      for (const entry of out.values()) entry.fresh = false;
      out.clear();
    },
  };
}
