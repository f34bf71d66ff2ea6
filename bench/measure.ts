/** One measured load run, and the bench's progress log line. */
import type { LoadGenerator, LoadResult, LoadSpec } from './load.js';
import { cpuSecondsOfTree } from './procs.js';
import type { HttpScenarioDef } from './scenarios.js';

export type Measured = LoadResult & { cpuUsPerRequest: number | null; invalid?: string };

export function log(message: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/**
 * Runs `def` once and charges its process tree's CPU to the requests it served (µs/request: a
 * cost that moves less with a noisy neighbour than req/s does). More than 0.1 % errors marks the
 * run invalid: a setup answering errors fast must not look fast.
 */
export async function measure(
  loadgen: LoadGenerator,
  def: HttpScenarioDef,
  extra: Pick<LoadSpec, 'connections' | 'durationSec'> & Partial<LoadSpec>,
): Promise<Measured> {
  const before = cpuSecondsOfTree(def.service.proc.pid);
  const r = await loadgen.run({ ...def.spec, ...extra });
  const after = cpuSecondsOfTree(def.service.proc.pid);
  const cpuUsPerRequest =
    before !== null && after !== null && r.requests > 0 ? ((after - before) * 1e6) / r.requests : null;
  const errors = r.badStatus + r.socketErrors;
  return {
    ...r,
    cpuUsPerRequest,
    ...(errors > r.requests * 0.001 ? { invalid: `${errors} errors in ${r.requests} requests` } : {}),
  };
}
