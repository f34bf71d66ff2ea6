/**
 * What the user route's tail is made of, read from the gateway's own /metrics around one measured
 * run: the event-loop delay (prom-client's monitorEventLoopDelay histogram, reset at every scrape,
 * so the reading after the run covers the run) and the garbage collector's pauses by kind.
 */
export interface TailReading {
  /** Event-loop delay p99 and max over the run, ms. */
  readonly eventLoopP99Ms: number;
  readonly eventLoopMaxMs: number;
  /** GC pauses during the run: count and total ms, by kind (minor = scavenge, major = mark-compact). */
  readonly gc: Record<string, { count: number; ms: number }>;
  /** Total GC pause per second of the run, ms. */
  readonly gcMsPerSec: number;
}

type Samples = Map<string, number>;

function parse(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function scrape(gatewayUrl: string): Promise<Samples | null> {
  try {
    const res = await fetch(`${gatewayUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
    return res.ok ? parse(await res.text()) : null;
  } catch {
    return null;
  }
}

const KINDS = ['minor', 'major', 'incremental', 'weakcb'];

function gcTotals(s: Samples): Record<string, { count: number; sec: number }> {
  const out: Record<string, { count: number; sec: number }> = {};
  for (const kind of KINDS)
    out[kind] = {
      count: s.get(`nodejs_gc_duration_seconds_count{kind="${kind}"}`) ?? 0,
      sec: s.get(`nodejs_gc_duration_seconds_sum{kind="${kind}"}`) ?? 0,
    };
  return out;
}

/** Runs `run` between two scrapes of `gatewayUrl`/metrics; null when the gateway has no metrics to read. */
export async function withTail<T>(
  gatewayUrl: string,
  run: () => Promise<T>,
): Promise<{ result: T; tail: TailReading | null }> {
  const before = await scrape(gatewayUrl); // also resets the event-loop histogram
  const started = Date.now();
  const result = await run();
  const seconds = (Date.now() - started) / 1000;
  const after = await scrape(gatewayUrl);
  if (!before || !after) return { result, tail: null };
  const a = gcTotals(before);
  const b = gcTotals(after);
  const gc: TailReading['gc'] = {};
  let totalMs = 0;
  for (const kind of KINDS) {
    const count = (b[kind]?.count ?? 0) - (a[kind]?.count ?? 0);
    const ms = ((b[kind]?.sec ?? 0) - (a[kind]?.sec ?? 0)) * 1000;
    if (count > 0) gc[kind] = { count, ms: Number(ms.toFixed(1)) };
    totalMs += ms;
  }
  return {
    result,
    tail: {
      eventLoopP99Ms: (after.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
      eventLoopMaxMs: (after.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000,
      gc,
      gcMsPerSec: totalMs / Math.max(0.001, seconds),
    },
  };
}
