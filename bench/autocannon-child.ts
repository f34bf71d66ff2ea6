/**
 * The autocannon fallback of bench/load.ts, run as its own process so the orchestrator never
 * shares an event loop with the load. Reads a LoadSpec as JSON on stdin, prints `AC_JSON <LoadResult>`.
 */
import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from './load.js';

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

async function main(): Promise<void> {
  const spec = JSON.parse(await readStdin()) as LoadSpec;
  let i = 0;
  const rotate = spec.rotate;
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSec,
    method: spec.method ?? 'GET',
    headers: { ...(spec.headers ?? {}) },
    timeout: 10,
    ...(spec.body !== undefined ? { body: spec.body } : {}),
    // autocannon has no per-connection pause: the same offered load as an overall rate.
    ...(spec.delayMs ? { overallRate: Math.max(1, Math.round((spec.connections * 1000) / spec.delayMs)) } : {}),
    ...(rotate
      ? {
          requests: [
            {
              setupRequest: (req) => {
                i = (i + 1) % rotate.values.length;
                const value = rotate.values[i] as string;
                return 'header' in rotate
                  ? { ...req, headers: { ...(req.headers ?? {}), [rotate.header]: value } }
                  : { ...req, body: value };
              },
            },
          ],
        }
      : {}),
  });
  const out: LoadResult = {
    tool: 'autocannon',
    requests: result.requests.total,
    rps: result.requests.total / Math.max(0.001, result.duration),
    p50Ms: result.latency.p50,
    p90Ms: result.latency.p90,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    badStatus: result.non2xx,
    socketErrors: result.errors + result.timeouts,
  };
  process.stdout.write(`AC_JSON ${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
