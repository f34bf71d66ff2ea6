/**
 * "Is my subscription really delivering?" for a pub/sub channel (Redis pub/sub, Postgres
 * LISTEN/NOTIFY): send a unique payload on the channel and wait for this process's own
 * subscriber to receive it. A connection can look open and still be deaf; only an echo proves it.
 */
export interface EchoProbe {
  /** Sends `payload` with `send` and resolves true once `echoed(payload)` is called, false on timeout or send failure. */
  probe(payload: string, send: () => Promise<unknown>, timeoutMs: number): Promise<boolean>;
  /** The subscriber calls this with every message carrying the probe prefix. */
  echoed(payload: string): void;
}

/** Creates the echo bookkeeping for one subscriber. */
export function createEchoProbe(): EchoProbe {
  const waiting = new Map<string, () => void>();
  return {
    async probe(payload, send, timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const echoed = new Promise<boolean>((resolve) => {
        waiting.set(payload, () => resolve(true));
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      try {
        await send();
        return await echoed;
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
        waiting.delete(payload);
      }
    },
    echoed(payload) {
      waiting.get(payload)?.();
    },
  };
}
